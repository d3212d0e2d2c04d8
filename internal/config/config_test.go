package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/config"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     func(string) string
		state   string
		wantErr string // substring naming the bad setting; "" for success
		check   func(t *testing.T, c config.Config)
	}{
		{name: "replay defaults", env: env(), state: "memory", check: func(t *testing.T, c config.Config) {
			require.Equal(t, "memory", c.State)
			require.Equal(t, "stdout", c.Sink)
			require.Equal(t, 24*time.Hour, c.Lateness)
			require.Equal(t, 30*time.Minute, c.Window)
			require.Equal(t, 2, c.MinAddresses)
			require.Equal(t, 8080, c.Port)
			require.Equal(t, "29d9ed98-a469-4536-ade2-f981bc1d605e", c.AppID)
		}},
		{name: "serve needs a table", env: env(), state: "table", wantErr: "DRSWATCH_STATE=table needs"},
		{name: "table by managed identity", state: "table",
			env: env("DRSWATCH_TABLE_SERVICE_URI", "https://acct.table.core.windows.net", "FUNCTIONS_CUSTOMHANDLER_PORT", "34567"),
			check: func(t *testing.T, c config.Config) {
				require.Equal(t, "https://acct.table.core.windows.net", c.TableServiceURI)
				require.Equal(t, 34567, c.Port)
			}},
		{name: "table uri must be https", state: "table", env: env("DRSWATCH_TABLE_SERVICE_URI", "http://acct"), wantErr: "DRSWATCH_TABLE_SERVICE_URI"},
		{name: "bad table name", state: "table", env: env("DRSWATCH_TABLE_CONNECTION", "x", "DRSWATCH_TABLE_NAME", "1abc"), wantErr: "DRSWATCH_TABLE_NAME"},
		{name: "reserved table name", state: "table", env: env("DRSWATCH_TABLE_CONNECTION", "x", "DRSWATCH_TABLE_NAME", "Tables"), wantErr: "DRSWATCH_TABLE_NAME"},
		{name: "jsonl sink", state: "memory", env: env("DRSWATCH_SINK", "jsonl:/tmp/a.jsonl"), check: func(t *testing.T, c config.Config) {
			require.Equal(t, "jsonl", c.Sink)
			require.Equal(t, "/tmp/a.jsonl", c.SinkPath)
		}},
		{name: "log analytics needs endpoint and rule", state: "memory", env: env("DRSWATCH_SINK", "loganalytics"), wantErr: "DRSWATCH_LOGS_ENDPOINT"},
		{name: "log analytics", state: "memory", env: env("DRSWATCH_SINK", "loganalytics",
			"DRSWATCH_LOGS_ENDPOINT", "https://dcr-x.westeurope-1.ingest.monitor.azure.com", "DRSWATCH_LOGS_RULE_ID", "dcr-0123"),
			check: func(t *testing.T, c config.Config) { require.Equal(t, "Custom-DrsWatchAlerts", c.LogsStream) }},
		{name: "stream prefix", state: "memory", env: env("DRSWATCH_SINK", "loganalytics",
			"DRSWATCH_LOGS_ENDPOINT", "https://x", "DRSWATCH_LOGS_RULE_ID", "dcr-1", "DRSWATCH_LOGS_STREAM", "Alerts"), wantErr: "DRSWATCH_LOGS_STREAM"},
		{name: "unknown sink", state: "memory", env: env("DRSWATCH_SINK", "kafka"), wantErr: "DRSWATCH_SINK"},
		{name: "unknown state", state: "memory", env: env("DRSWATCH_STATE", "redis"), wantErr: "DRSWATCH_STATE"},
		{name: "bad lateness", state: "memory", env: env("DRSWATCH_ALLOWED_LATENESS", "tomorrow"), wantErr: "DRSWATCH_ALLOWED_LATENESS"},
		{name: "negative window", state: "memory", env: env("DRSWATCH_WINDOW", "-5m"), wantErr: "DRSWATCH_WINDOW"},
		{name: "window must divide a day", state: "memory", env: env("DRSWATCH_WINDOW", "7m"), wantErr: "DRSWATCH_WINDOW"},
		{name: "thresholds", state: "memory", env: env("DRSWATCH_MIN_ADDRESSES", "3", "DRSWATCH_MIN_EVENTS", "4"), check: func(t *testing.T, c config.Config) {
			require.Equal(t, 3, c.MinAddresses)
			require.Equal(t, 4, c.MinEvents)
		}},
		{name: "threshold zero", state: "memory", env: env("DRSWATCH_MIN_EVENTS", "0"), wantErr: "DRSWATCH_MIN_EVENTS"},
		{name: "bad port", state: "memory", env: env("FUNCTIONS_CUSTOMHANDLER_PORT", "99999"), wantErr: "FUNCTIONS_CUSTOMHANDLER_PORT"},
		{name: "bad log level", state: "memory", env: env("DRSWATCH_LOG_LEVEL", "loud"), wantErr: "DRSWATCH_LOG_LEVEL"},
		{name: "every error at once", state: "memory", env: env("DRSWATCH_LOG_LEVEL", "loud", "DRSWATCH_SINK", "kafka"), wantErr: "DRSWATCH_SINK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(tc.env, tc.state)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}
