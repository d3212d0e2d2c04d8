package config_test

import (
	"log/slog"
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
			require.Equal(t, config.StateMemory, c.State)
			require.Equal(t, config.SinkStdout, c.Sink)
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
			require.Equal(t, config.SinkJSONL, c.Sink)
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
			c, err := config.Load(tc.env, defaultState(tc.state))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

// defaultState is a command's override: the state store when the
// environment names none.
func defaultState(s string) func(*config.Config) {
	return func(c *config.Config) {
		if c.State == config.StateUnset {
			c.State, _ = config.ParseState(s)
		}
	}
}

// TestMoreSettings covers the settings added for the host's contract.
func TestMoreSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     func(string) string
		wantErr string
		check   func(t *testing.T, c config.Config)
	}{
		{name: "defaults", env: env(), check: func(t *testing.T, c config.Config) {
			require.False(t, c.CreateTable)
			require.Equal(t, "drswatch-deadletter", c.DeadLetterContainer)
			require.Equal(t, config.DeadLetterDir, c.DeadLetters())
			require.Equal(t, "deadletter", c.DeadLetterDir)
			require.Equal(t, slog.LevelInfo, c.LogLevel)
			require.Equal(t, time.Hour, c.FutureSkew)
			require.False(t, c.IsSet(config.EnvLateness))
		}},
		{name: "create table", env: env("DRSWATCH_CREATE_TABLE", "true"), check: func(t *testing.T, c config.Config) { require.True(t, c.CreateTable) }},
		{name: "create table not a bool", env: env("DRSWATCH_CREATE_TABLE", "yes please"), wantErr: "DRSWATCH_CREATE_TABLE"},
		{name: "blob by identity", env: env("DRSWATCH_BLOB_SERVICE_URI", "https://acct.blob.core.windows.net"), check: func(t *testing.T, c config.Config) {
			require.Equal(t, config.DeadLetterBlobIdentity, c.DeadLetters())
		}},
		{name: "blob connection wins", env: env("DRSWATCH_BLOB_SERVICE_URI", "https://acct.blob.core.windows.net", "DRSWATCH_BLOB_CONNECTION", "x"),
			check: func(t *testing.T, c config.Config) {
				require.Equal(t, config.DeadLetterBlobConnection, c.DeadLetters())
			}},
		{name: "blob uri must be https", env: env("DRSWATCH_BLOB_SERVICE_URI", "http://acct"), wantErr: "DRSWATCH_BLOB_SERVICE_URI"},
		{name: "container name", env: env("DRSWATCH_DEADLETTER_CONTAINER", "Dead_Letters"), wantErr: "DRSWATCH_DEADLETTER_CONTAINER"},
		{name: "lateness set", env: env("DRSWATCH_ALLOWED_LATENESS", "2h"), check: func(t *testing.T, c config.Config) {
			require.True(t, c.IsSet(config.EnvLateness))
			require.Equal(t, 2*time.Hour, c.Lateness)
		}},
		{name: "log level any case", env: env("DRSWATCH_LOG_LEVEL", "WARN"), check: func(t *testing.T, c config.Config) { require.Equal(t, slog.LevelWarn, c.LogLevel) }},
		{name: "no state chosen", env: env(), wantErr: "no state store chosen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := defaultState("memory")
			if tc.name == "no state chosen" {
				state = func(*config.Config) {}
			}
			c, err := config.Load(tc.env, state)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

// TestEveryDefaultParses: each documented default is what Load uses, so it
// must parse; a default that did not would fail every run.
func TestEveryDefaultParses(t *testing.T) {
	for _, s := range config.Settings {
		if s.Default == "" {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			_, err := config.Load(env(s.Name, s.Default), defaultState("memory"))
			require.NoError(t, err)
		})
	}
	c, err := config.Load(env(), defaultState("memory"))
	require.NoError(t, err)
	require.Equal(t, 8080, c.Port, "the port's default is the table's")
	require.Equal(t, int64(67108864), c.MaxBodyBytes)
}

func TestChainHorizon(t *testing.T) {
	c, err := config.Load(env(), defaultState("memory"))
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, c.ChainHorizon, "the default")
	c, err = config.Load(env(config.EnvChainHorizon, "72h"), defaultState("memory"))
	require.NoError(t, err)
	require.Equal(t, 72*time.Hour, c.ChainHorizon)
	for _, bad := range []string{"30m", "-1h", "soon"} {
		_, err := config.Load(env(config.EnvChainHorizon, bad), defaultState("memory"))
		require.ErrorContains(t, err, config.EnvChainHorizon, "DRSWATCH_CHAIN_HORIZON=%s", bad)
	}
}
