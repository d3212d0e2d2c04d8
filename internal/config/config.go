// Package config reads drswatch's settings from the environment once,
// validates them, and lists every setting the program reads so that the
// README and the deployment (infra/bicep) can be checked against it.
//
// Settings is the one table: each entry holds a setting's name, default,
// documentation and parser. Load parses every entry, applies the caller's
// overrides (a command's flags), then checks the settings that depend on
// one another.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Setting describes one environment variable drswatch reads.
type Setting struct {
	Name string
	// Deployed is true when the Bicep deployment must set it on the Function
	// App; false for settings that are local-only or optional overrides.
	Deployed bool
	// Default is the value parsed when the variable is unset or blank.
	Default string
	// Doc is a one-line description for the README table.
	Doc string
	// parse sets the setting's field of c from v, or says why v is bad.
	// Nil for settings read by someone else (the Azure SDK).
	parse func(c *Config, v string) error
}

// Names of the settings.
const (
	EnvPort                = "FUNCTIONS_CUSTOMHANDLER_PORT"
	EnvState               = "DRSWATCH_STATE"
	EnvTableConnection     = "DRSWATCH_TABLE_CONNECTION"
	EnvTableServiceURI     = "DRSWATCH_TABLE_SERVICE_URI"
	EnvTableName           = "DRSWATCH_TABLE_NAME"
	EnvCreateTable         = "DRSWATCH_CREATE_TABLE"
	EnvBlobServiceURI      = "DRSWATCH_BLOB_SERVICE_URI"
	EnvBlobConnection      = "DRSWATCH_BLOB_CONNECTION"
	EnvDeadLetterContainer = "DRSWATCH_DEADLETTER_CONTAINER"
	EnvDeadLetterDir       = "DRSWATCH_DEADLETTER_DIR"
	EnvSink                = "DRSWATCH_SINK"
	EnvLogsEndpoint        = "DRSWATCH_LOGS_ENDPOINT"
	EnvLogsRuleID          = "DRSWATCH_LOGS_RULE_ID"
	EnvLogsStream          = "DRSWATCH_LOGS_STREAM"
	EnvLateness            = "DRSWATCH_ALLOWED_LATENESS"
	EnvAppID               = "DRSWATCH_APP_ID"
	EnvResourceID          = "DRSWATCH_RESOURCE_ID"
	EnvWindow              = "DRSWATCH_WINDOW"
	EnvMinAddresses        = "DRSWATCH_MIN_ADDRESSES"
	EnvMinEvents           = "DRSWATCH_MIN_EVENTS"
	EnvPseudonymizeKey     = "DRSWATCH_PSEUDONYMIZE_KEY"
	EnvLogLevel            = "DRSWATCH_LOG_LEVEL"
	EnvMaxBody             = "DRSWATCH_MAX_BODY_BYTES"
	EnvAzureClientID       = "AZURE_CLIENT_ID"
	EnvGeoIPCityDB         = "DRSWATCH_GEOIP_CITY_DB"
	EnvGeoIPASNDB          = "DRSWATCH_GEOIP_ASN_DB"
	EnvChainHorizon        = "DRSWATCH_CHAIN_HORIZON"
)

// Settings lists every environment variable the Go code reads, in README
// order. To add one: a name above, a field in Config, an entry here (its
// parser one line, with the helpers at the end of this file), a README row.
var Settings = []Setting{
	{EnvPort, false, "8080", "Port of the custom handler's HTTP server on 127.0.0.1. Set by the Functions host; the default is for local runs.",
		func(c *Config, v string) (err error) { c.Port, err = integer(v, 1, 65535); return }},
	{EnvState, true, "", "Where window state lives: `memory` or `table`. Unset: `table` for `serve`, `memory` for `replay` (whose `--state` overrides it).",
		func(c *Config, v string) (err error) { c.State, err = ParseState(v); return }},
	{EnvTableServiceURI, true, "", "Table service URI (`https://<account>.table.core.windows.net`), used with DefaultAzureCredential (managed identity in Azure).",
		func(c *Config, v string) (err error) { c.TableServiceURI, err = httpsURL(v); return }},
	{EnvTableConnection, false, "", "Table connection string (Azurite locally). Takes precedence over the service URI; never set in Azure.",
		func(c *Config, v string) error { c.TableConnection = v; return nil }},
	{EnvTableName, true, "drswatchstate", "State table name. The template creates it in Azure.",
		func(c *Config, v string) error { c.TableName = v; return checkTableName(v) }},
	{EnvCreateTable, false, "false", "`true` creates the state table if it is missing: for local runs against Azurite and for `replay --state table`. Never needed in Azure, where the app's role cannot create tables.",
		func(c *Config, v string) (err error) { c.CreateTable, err = strconv.ParseBool(v); return }},
	{EnvBlobServiceURI, true, "", "Blob service URI (`https://<account>.blob.core.windows.net`) of the dead-letter container, used with DefaultAzureCredential.",
		func(c *Config, v string) (err error) { c.BlobServiceURI, err = httpsURL(v); return }},
	{EnvBlobConnection, false, "", "Blob connection string (Azurite: with `BlobEndpoint`) of the dead-letter container. Takes precedence over the service URI; never set in Azure.",
		func(c *Config, v string) error { c.BlobConnection = v; return nil }},
	{EnvDeadLetterContainer, true, "drswatch-deadletter", "Blob container for invocations no retry can fix. The template creates it.",
		func(c *Config, v string) error { c.DeadLetterContainer = v; return checkContainerName(v) }},
	{EnvDeadLetterDir, false, "deadletter", "Directory for dead-lettered invocations when no blob service is set (local runs); relative to the working directory.",
		func(c *Config, v string) error { c.DeadLetterDir = v; return nil }},
	{EnvSink, true, "stdout", "Where alerts go: `stdout`, `jsonl:PATH` or `loganalytics`.",
		func(c *Config, v string) (err error) { c.Sink, c.SinkPath, err = parseSink(v); return }},
	{EnvLogsEndpoint, true, "", "Logs ingestion endpoint of the DCR (or a DCE), for `loganalytics`.",
		func(c *Config, v string) (err error) { c.LogsEndpoint, err = httpsURL(v); return }},
	{EnvLogsRuleID, true, "", "Immutable id of the data collection rule (`dcr-...`), for `loganalytics`.",
		func(c *Config, v string) error { c.LogsRuleID = v; return nil }},
	{EnvLogsStream, true, "Custom-DrsWatchAlerts", "Stream declared in the DCR, for `loganalytics`.",
		func(c *Config, v string) error { c.LogsStream = v; return prefixed(v, "Custom-") }},
	{EnvLateness, true, "24h", "How long after a window ends its records are still accepted; older records are skipped as `late`. Also how long state is kept. `replay` accepts any age unless it is set.",
		func(c *Config, v string) (err error) { c.Lateness, err = positiveDuration(v); return }},
	{EnvAppID, false, "29d9ed98-a469-4536-ade2-f981bc1d605e", "Client app id the rule watches (Microsoft Authentication Broker).",
		func(c *Config, v string) error { c.AppID = v; return nil }},
	{EnvResourceID, false, "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9", "Resource id the rule watches (Device Registration Service).",
		func(c *Config, v string) error { c.ResourceID = v; return nil }},
	{EnvWindow, false, "30m", "Tumbling window length, aligned to the UTC epoch; must divide a day.",
		func(c *Config, v string) (err error) { c.Window, err = dayDivisor(v); return }},
	{EnvMinAddresses, false, "2", "Alert when a group has at least this many distinct source addresses.",
		func(c *Config, v string) (err error) { c.MinAddresses, err = integer(v, 1, 1<<20); return }},
	{EnvMinEvents, false, "2", "Alert when a group has at least this many events.",
		func(c *Config, v string) (err error) { c.MinEvents, err = integer(v, 1, 1<<20); return }},
	{EnvPseudonymizeKey, false, "", "When set, UPNs and display names in alerts are replaced by a keyed hash (HMAC-SHA256) with this key.",
		func(c *Config, v string) error { c.PseudonymizeKey = v; return nil }},
	{EnvLogLevel, false, "info", "Log level: `debug`, `info`, `warn` or `error`.",
		func(c *Config, v string) (err error) { c.LogLevel, err = logLevel(v); return }},
	{EnvMaxBody, false, "67108864", "Largest invocation body `serve` reads into memory, in bytes; a larger one is dead-lettered (streamed).",
		func(c *Config, v string) error {
			n, err := integer(v, 1024, 1<<40)
			c.MaxBodyBytes = int64(n)
			return err
		}},
	{EnvAzureClientID, false, "", "Client id of a user-assigned managed identity (read by azidentity); unset for the system-assigned one.", nil},
	{EnvGeoIPCityDB, false, "", "MaxMind DB file (GeoLite2/GeoIP2 City or Country, or a compatible MMDB) that fills SourceCities, SourceRegions and SourceCountries as Elastic's geoip processor does (`GeoSource` `geoip`); unset: Entra's location (`GeoSource` `entra`). Relative to the working directory (the app root under the Functions host).",
		func(c *Config, v string) error { c.GeoIPCityDB = v; return nil }},
	{EnvGeoIPASNDB, false, "", "MaxMind DB file (GeoLite2/GeoIP2 ASN) that fills SourceAsOrganizations; unset: the column stays empty. Relative to the working directory.",
		func(c *Config, v string) error { c.GeoIPASNDB = v; return nil }},
	{EnvChainHorizon, false, "24h", "How long a user's device registrations, their PRT sign-ins and the user's alerts are kept to be linked (the attack chain); at least 1h.",
		func(c *Config, v string) (err error) {
			if c.ChainHorizon, err = positiveDuration(v); err == nil && c.ChainHorizon < time.Hour {
				err = fmt.Errorf("want at least 1h: the chain's steps are minutes apart but their records may arrive hours late")
			}
			return
		}},
}

// StateKind is where window state lives.
type StateKind int

// State kinds. StateUnset lets the command choose (serve: table, replay:
// memory).
const (
	StateUnset StateKind = iota
	StateMemory
	StateTable
)

func (k StateKind) String() string {
	switch k {
	case StateMemory:
		return "memory"
	case StateTable:
		return "table"
	}
	return "unset"
}

// ParseState parses `memory` or `table`; "" is StateUnset.
func ParseState(s string) (StateKind, error) {
	switch s {
	case "":
		return StateUnset, nil
	case "memory":
		return StateMemory, nil
	case "table":
		return StateTable, nil
	}
	return StateUnset, errors.New("want memory or table")
}

// SinkKind is where alerts go.
type SinkKind int

// Sink kinds.
const (
	SinkStdout SinkKind = iota
	SinkJSONL
	SinkLogAnalytics
)

func (k SinkKind) String() string {
	return [...]string{"stdout", "jsonl", "loganalytics"}[k]
}

// DeadLetterKind is where invocations no retry can fix are kept.
type DeadLetterKind int

// Dead-letter kinds, chosen by which settings are present.
const (
	DeadLetterDir            DeadLetterKind = iota // DRSWATCH_DEADLETTER_DIR
	DeadLetterBlobConnection                       // DRSWATCH_BLOB_CONNECTION
	DeadLetterBlobIdentity                         // DRSWATCH_BLOB_SERVICE_URI
)

func (k DeadLetterKind) String() string {
	return [...]string{"directory", "blob", "blob"}[k]
}

// Config is drswatch's validated configuration.
type Config struct {
	Port                int
	State               StateKind
	TableConnection     string
	TableServiceURI     string
	TableName           string
	CreateTable         bool
	BlobServiceURI      string
	BlobConnection      string
	DeadLetterContainer string
	DeadLetterDir       string
	Sink                SinkKind
	SinkPath            string // for jsonl
	LogsEndpoint        string
	LogsRuleID          string
	LogsStream          string
	Lateness            time.Duration // zero accepts any age
	// FutureSkew rejects records stamped further than this ahead of now
	// (not a setting: one hour; replay sets zero, any time).
	FutureSkew      time.Duration
	AppID           string
	ResourceID      string
	Window          time.Duration
	MinAddresses    int
	MinEvents       int
	PseudonymizeKey string
	LogLevel        slog.Level
	MaxBodyBytes    int64
	GeoIPCityDB     string // path of the city database, "" for none
	GeoIPASNDB      string // path of the ASN database, "" for none
	ChainHorizon    time.Duration

	set map[string]bool // settings given in the environment
}

// IsSet reports whether the environment gave the setting name (rather than
// its default applying).
func (c Config) IsSet(name string) bool { return c.set[name] }

// DeadLetters returns where dead letters go.
func (c Config) DeadLetters() DeadLetterKind {
	switch {
	case c.BlobConnection != "":
		return DeadLetterBlobConnection
	case c.BlobServiceURI != "":
		return DeadLetterBlobIdentity
	}
	return DeadLetterDir
}

// Load reads every setting through getenv (os.Getenv in production), applies
// the overrides in order (a command's flags and defaults), and validates the
// result. The error names every bad setting.
func Load(getenv func(string) string, overrides ...func(*Config)) (Config, error) {
	c := Config{FutureSkew: time.Hour, set: map[string]bool{}}
	var errs []error
	for _, s := range Settings {
		if s.parse == nil {
			continue
		}
		v := strings.TrimSpace(getenv(s.Name))
		if v != "" {
			c.set[s.Name] = true
		} else {
			v = s.Default
		}
		if v == "" && s.Default == "" {
			continue
		}
		if err := s.parse(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", s.Name, v, err))
		}
	}
	for _, o := range overrides {
		o(&c)
	}
	errs = append(errs, c.validate()...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// validate checks the settings that depend on one another.
func (c Config) validate() []error {
	var errs []error
	switch c.State {
	case StateUnset:
		errs = append(errs, fmt.Errorf("%s: no state store chosen", EnvState))
	case StateTable:
		if c.TableConnection == "" && c.TableServiceURI == "" {
			errs = append(errs, fmt.Errorf("%s=table needs %s or %s", EnvState, EnvTableServiceURI, EnvTableConnection))
		}
	}
	if c.Sink == SinkLogAnalytics {
		if c.LogsEndpoint == "" {
			errs = append(errs, fmt.Errorf("%s is required with %s=loganalytics", EnvLogsEndpoint, EnvSink))
		}
		if c.LogsRuleID == "" {
			errs = append(errs, fmt.Errorf("%s is required with %s=loganalytics", EnvLogsRuleID, EnvSink))
		}
	}
	return errs
}

// Parsers: each returns the value or says what it wants.

func integer(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("want an integer from %d to %d", lo, hi)
	}
	return n, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 30m or 24h")
	}
	return d, nil
}

func dayDivisor(v string) (time.Duration, error) {
	d, err := positiveDuration(v)
	if err != nil {
		return 0, err
	}
	if (24*time.Hour)%d != 0 {
		return 0, errors.New("want a window that divides a day evenly")
	}
	return d, nil
}

func httpsURL(v string) (string, error) {
	if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
		return "", errors.New("want an https URI such as https://<account>.<service>.core.windows.net")
	}
	return v, nil
}

func parseSink(v string) (SinkKind, string, error) {
	switch {
	case v == "stdout":
		return SinkStdout, "", nil
	case strings.HasPrefix(v, "jsonl:") && len(v) > len("jsonl:"):
		return SinkJSONL, strings.TrimPrefix(v, "jsonl:"), nil
	case v == "loganalytics":
		return SinkLogAnalytics, "", nil
	}
	return 0, "", errors.New("want stdout, jsonl:PATH or loganalytics")
}

func prefixed(v, prefix string) error {
	if !strings.HasPrefix(v, prefix) {
		return fmt.Errorf("want a name starting with %s", prefix)
	}
	return nil
}

func logLevel(v string) (slog.Level, error) {
	var l slog.Level
	switch v = strings.ToLower(v); v {
	case "debug", "info", "warn", "error":
		return l, l.UnmarshalText([]byte(v))
	}
	return l, errors.New("want debug, info, warn or error")
}

func checkTableName(s string) error {
	ok := len(s) >= 3 && len(s) <= 63 && !strings.EqualFold(s, "tables")
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			ok = false
		}
	}
	if !ok {
		return errors.New("want 3-63 letters or digits, not starting with a digit")
	}
	return nil
}

// checkContainerName applies the blob service's container naming rules:
// 3-63 lowercase letters, digits and single hyphens, starting and ending
// with a letter or digit.
func checkContainerName(s string) error {
	ok := len(s) >= 3 && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-' && !strings.Contains(s, "--")
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			ok = false
		}
	}
	if !ok {
		return errors.New("want 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit")
	}
	return nil
}
