// Package config reads drswatch's settings from the environment once,
// validates them, and lists every setting the program reads so that the
// deployment (infra/bicep) can be checked against it.
package config

import (
	"errors"
	"fmt"
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
	// Default is the value used when the variable is unset or empty.
	Default string
	// Doc is a one-line description for the README table.
	Doc string
}

// Names of the settings.
const (
	EnvPort            = "FUNCTIONS_CUSTOMHANDLER_PORT"
	EnvState           = "DRSWATCH_STATE"
	EnvTableConnection = "DRSWATCH_TABLE_CONNECTION"
	EnvTableServiceURI = "DRSWATCH_TABLE_SERVICE_URI"
	EnvTableName       = "DRSWATCH_TABLE_NAME"
	EnvSink            = "DRSWATCH_SINK"
	EnvLogsEndpoint    = "DRSWATCH_LOGS_ENDPOINT"
	EnvLogsRuleID      = "DRSWATCH_LOGS_RULE_ID"
	EnvLogsStream      = "DRSWATCH_LOGS_STREAM"
	EnvLateness        = "DRSWATCH_ALLOWED_LATENESS"
	EnvAppID           = "DRSWATCH_APP_ID"
	EnvResourceID      = "DRSWATCH_RESOURCE_ID"
	EnvWindow          = "DRSWATCH_WINDOW"
	EnvMinAddresses    = "DRSWATCH_MIN_ADDRESSES"
	EnvMinEvents       = "DRSWATCH_MIN_EVENTS"
	EnvPseudonymizeKey = "DRSWATCH_PSEUDONYMIZE_KEY"
	EnvLogLevel        = "DRSWATCH_LOG_LEVEL"
	EnvMaxBody         = "DRSWATCH_MAX_BODY_BYTES"
	EnvAzureClientID   = "AZURE_CLIENT_ID"
	EnvGeoIPCityDB     = "DRSWATCH_GEOIP_CITY_DB"
	EnvGeoIPASNDB      = "DRSWATCH_GEOIP_ASN_DB"
)

// Settings lists every environment variable the Go code reads, in README order.
var Settings = []Setting{
	{EnvPort, false, "", "Port of the custom handler's HTTP server on 127.0.0.1. Set by the Functions host; `serve` falls back to 8080 for local runs."},
	{EnvState, true, "table (serve), memory (replay)", "Where window state lives: `memory` or `table`."},
	{EnvTableServiceURI, true, "", "Table service URI (`https://<account>.table.core.windows.net`), used with DefaultAzureCredential (managed identity in Azure)."},
	{EnvTableConnection, false, "", "Table connection string (Azurite locally). Takes precedence over the service URI; never set in Azure."},
	{EnvTableName, true, "drswatchstate", "State table name; created if missing."},
	{EnvSink, true, "stdout", "Where alerts go: `stdout`, `jsonl:PATH` or `loganalytics`."},
	{EnvLogsEndpoint, true, "", "Logs ingestion endpoint of the DCR (or a DCE), for `loganalytics`."},
	{EnvLogsRuleID, true, "", "Immutable id of the data collection rule (`dcr-...`), for `loganalytics`."},
	{EnvLogsStream, true, "Custom-DrsWatchAlerts", "Stream declared in the DCR, for `loganalytics`."},
	{EnvLateness, true, "24h", "How long after a window ends its records are still accepted; older records are skipped as `late`."},
	{EnvAppID, false, "29d9ed98-a469-4536-ade2-f981bc1d605e", "Client app id the rule watches (Microsoft Authentication Broker)."},
	{EnvResourceID, false, "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9", "Resource id the rule watches (Device Registration Service)."},
	{EnvWindow, false, "30m", "Tumbling window length, aligned to the UTC epoch."},
	{EnvMinAddresses, false, "2", "Alert when a group has at least this many distinct source addresses."},
	{EnvMinEvents, false, "2", "Alert when a group has at least this many events."},
	{EnvPseudonymizeKey, false, "", "When set, UPNs and display names in alerts are replaced by a keyed hash (HMAC-SHA256) with this key."},
	{EnvLogLevel, false, "info", "Log level: `debug`, `info`, `warn` or `error`."},
	{EnvMaxBody, false, "67108864", "Largest invocation body `serve` accepts, in bytes; larger ones get 413."},
	{EnvAzureClientID, false, "", "Client id of a user-assigned managed identity (read by azidentity); unset for the system-assigned one."},
	{EnvGeoIPCityDB, false, "", "MaxMind DB file (GeoLite2/GeoIP2 City or Country, or a compatible MMDB) that fills SourceCities, SourceRegions and SourceCountries as Elastic's geoip processor does (`GeoSource` `geoip`); unset: Entra's location (`GeoSource` `entra`). Relative to the working directory (the app root under the Functions host)."},
	{EnvGeoIPASNDB, false, "", "MaxMind DB file (GeoLite2/GeoIP2 ASN) that fills SourceAsOrganizations; unset: the column stays empty. Relative to the working directory."},
}

// Config is drswatch's validated configuration.
type Config struct {
	Port            int
	State           string // "memory" or "table"
	TableConnection string
	TableServiceURI string
	TableName       string
	Sink            string // "stdout", "jsonl" or "loganalytics"
	SinkPath        string // for jsonl
	LogsEndpoint    string
	LogsRuleID      string
	LogsStream      string
	Lateness        time.Duration
	AppID           string
	ResourceID      string
	Window          time.Duration
	MinAddresses    int
	MinEvents       int
	PseudonymizeKey string
	LogLevel        string
	MaxBodyBytes    int64
	GeoIPCityDB     string // path of the city database, "" for none
	GeoIPASNDB      string // path of the ASN database, "" for none
}

// Load reads the configuration through getenv (os.Getenv in production) and
// validates it. defaultState is the store used when DRSWATCH_STATE is unset.
func Load(getenv func(string) string, defaultState string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	bad := func(name, value, why string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, value, why))
	}
	duration := func(name, def string) time.Duration {
		v := get(name, def)
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(name, v, "want a positive duration such as 30m or 24h")
		}
		return d
	}
	integer := func(name, def string, lo int64) int64 {
		v := get(name, def)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo {
			bad(name, v, fmt.Sprintf("want an integer >= %d", lo))
		}
		return n
	}

	c := Config{
		State:           get(EnvState, defaultState),
		TableConnection: get(EnvTableConnection, ""),
		TableServiceURI: get(EnvTableServiceURI, ""),
		TableName:       get(EnvTableName, "drswatchstate"),
		LogsEndpoint:    get(EnvLogsEndpoint, ""),
		LogsRuleID:      get(EnvLogsRuleID, ""),
		LogsStream:      get(EnvLogsStream, "Custom-DrsWatchAlerts"),
		Lateness:        duration(EnvLateness, "24h"),
		AppID:           get(EnvAppID, "29d9ed98-a469-4536-ade2-f981bc1d605e"),
		ResourceID:      get(EnvResourceID, "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9"),
		Window:          duration(EnvWindow, "30m"),
		MinAddresses:    int(integer(EnvMinAddresses, "2", 1)),
		MinEvents:       int(integer(EnvMinEvents, "2", 1)),
		PseudonymizeKey: getenv(EnvPseudonymizeKey),
		LogLevel:        strings.ToLower(get(EnvLogLevel, "info")),
		MaxBodyBytes:    integer(EnvMaxBody, "67108864", 1024),
		GeoIPCityDB:     get(EnvGeoIPCityDB, ""),
		GeoIPASNDB:      get(EnvGeoIPASNDB, ""),
	}
	if p := get(EnvPort, "8080"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			bad(EnvPort, p, "want a TCP port")
		}
		c.Port = n
	}
	switch c.State {
	case "memory":
	case "table":
		switch {
		case c.TableConnection != "":
		case c.TableServiceURI != "":
			if u, err := url.Parse(c.TableServiceURI); err != nil || u.Scheme != "https" || u.Host == "" {
				bad(EnvTableServiceURI, c.TableServiceURI, "want an https URI such as https://<account>.table.core.windows.net")
			}
		default:
			errs = append(errs, fmt.Errorf("%s=table needs %s or %s", EnvState, EnvTableServiceURI, EnvTableConnection))
		}
		if !validTableName(c.TableName) {
			bad(EnvTableName, c.TableName, "want 3-63 letters or digits, not starting with a digit")
		}
	default:
		bad(EnvState, c.State, "want memory or table")
	}
	sink := get(EnvSink, "stdout")
	switch {
	case sink == "stdout":
		c.Sink = "stdout"
	case strings.HasPrefix(sink, "jsonl:") && len(sink) > len("jsonl:"):
		c.Sink, c.SinkPath = "jsonl", strings.TrimPrefix(sink, "jsonl:")
	case sink == "loganalytics":
		c.Sink = "loganalytics"
		if u, err := url.Parse(c.LogsEndpoint); err != nil || u.Scheme != "https" || u.Host == "" {
			bad(EnvLogsEndpoint, c.LogsEndpoint, "want the https logs ingestion endpoint of the DCR")
		}
		if c.LogsRuleID == "" {
			errs = append(errs, fmt.Errorf("%s is required with %s=loganalytics", EnvLogsRuleID, EnvSink))
		}
		if !strings.HasPrefix(c.LogsStream, "Custom-") {
			bad(EnvLogsStream, c.LogsStream, "stream names start with Custom-")
		}
	default:
		bad(EnvSink, sink, "want stdout, jsonl:PATH or loganalytics")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad(EnvLogLevel, c.LogLevel, "want debug, info, warn or error")
	}
	if c.Window > 0 && (24*time.Hour)%c.Window != 0 {
		bad(EnvWindow, c.Window.String(), "want a window that divides a day evenly")
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

func validTableName(s string) bool {
	if len(s) < 3 || len(s) > 63 || strings.EqualFold(s, "tables") {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
