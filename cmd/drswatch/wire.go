package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/geoip"
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

// openGeo opens the GeoIP databases the configuration names and returns the
// location sources for the pipeline and a func closing them. A database that
// is missing, unreadable or of the wrong type is an error naming its
// setting, returned before any batch is read.
func openGeo(c config.Config) (*detect.Geo, func(), error) {
	geo := &detect.Geo{CountryName: countryName}
	var dbs []*geoip.DB
	closeAll := func() {
		for _, db := range dbs {
			db.Close()
		}
	}
	for _, s := range []struct {
		setting, path string
		kind          geoip.Kind
	}{
		{config.EnvGeoIPCityDB, c.GeoIPCityDB, geoip.KindCity},
		{config.EnvGeoIPASNDB, c.GeoIPASNDB, geoip.KindASN},
	} {
		if s.path == "" {
			continue
		}
		db, err := geoip.Open(s.path, s.kind)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: %w", s.setting, err)
		}
		dbs = append(dbs, db)
		if s.kind == geoip.KindCity {
			geo.City = db.City
		} else {
			geo.ASOrganization = db.ASOrganization
		}
	}
	return geo, closeAll, nil
}

// geoSource names where the alert's location columns come from.
func geoSource(geo *detect.Geo) string {
	if geo != nil && geo.City != nil {
		return detect.GeoSourceGeoIP
	}
	return detect.GeoSourceEntra
}

// options builds the pipeline options from validated configuration and the
// opened location sources, the one place serve and replay get them from.
func options(c config.Config, geo *detect.Geo) pipeline.Options {
	rule := detect.DefaultRule()
	rule.AppID, rule.ResourceID, rule.Window = c.AppID, c.ResourceID, c.Window
	rule.MinAddresses, rule.MinEvents = c.MinAddresses, c.MinEvents
	return pipeline.Options{
		Rule:         rule,
		Lateness:     c.Lateness,
		FutureSkew:   c.FutureSkew,
		Geo:          geo,
		Pseudonymize: pseudonymizer(c.PseudonymizeKey),
		ChainHorizon: c.ChainHorizon,
	}
}

// newLogger returns serve's JSON logger: debug and info lines to stdout,
// warn and error lines to stderr. The Functions host logs every stderr line
// of a custom handler at Error level unless it contains "warn", and stdout
// lines at Information (functions-host-contract.md, "Logs"), so each line
// reaches Application Insights at its own level. Levels are written in lower
// case so that a warning's line contains "warn" whatever the host's
// comparison.
func newLogger(stdout, stderr io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lowerLevel}
	return slog.New(splitHandler{
		low:  slog.NewJSONHandler(stdout, opts),
		high: slog.NewJSONHandler(stderr, opts),
	})
}

func lowerLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(strings.ToLower(l.String()))
		}
	}
	return a
}

// splitHandler sends records below warn to low and the others to high.
type splitHandler struct{ low, high slog.Handler }

func (h splitHandler) pick(l slog.Level) slog.Handler {
	if l < slog.LevelWarn {
		return h.low
	}
	return h.high
}

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h splitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return splitHandler{h.low.WithAttrs(as), h.high.WithAttrs(as)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{h.low.WithGroup(name), h.high.WithGroup(name)}
}
