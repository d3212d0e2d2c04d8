package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/config"
	"github.com/drswatch/drswatch/pipeline"
)

// countryName returns the English name of an ISO 3166-1 alpha-2 code, or the
// code itself when it is not one.
func countryName(code string) string {
	r, err := language.ParseRegion(code)
	if err != nil {
		return code
	}
	if name := display.English.Regions().Name(r); name != "" {
		return name
	}
	return code
}

// pseudonymizer returns the keyed hash used for names in alerts when the
// tenant asks for it, or nil.
func pseudonymizer(key string) func(string) string {
	if key == "" {
		return nil
	}
	return func(s string) string {
		if s == "" {
			return s
		}
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(s))
		return "pseudo:" + hex.EncodeToString(m.Sum(nil)[:16])
	}
}

// options builds the pipeline options from validated configuration.
func options(c config.Config) pipeline.Options {
	rule := detect.DefaultRule()
	rule.AppID, rule.ResourceID, rule.Window = c.AppID, c.ResourceID, c.Window
	rule.MinAddresses, rule.MinEvents = c.MinAddresses, c.MinEvents
	return pipeline.Options{
		Rule:         rule,
		Geo:          &detect.Geo{CountryName: countryName},
		Pseudonymize: pseudonymizer(c.PseudonymizeKey),
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func stdoutWriter() io.Writer { return os.Stdout }
