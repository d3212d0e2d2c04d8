package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// finalAlerts returns each alert's last revision without TimeGenerated and
// Revision, as JSON, sorted.
func finalAlerts(t *testing.T, out string) []string {
	t.Helper()
	latest := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var a map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &a), "line %q", line)
		id := a["AlertId"].(string)
		if cur, ok := latest[id]; !ok || a["Revision"].(float64) > cur["Revision"].(float64) {
			latest[id] = a
		}
	}
	var res []string
	for _, a := range latest {
		delete(a, "TimeGenerated")
		delete(a, "Revision")
		b, _ := json.Marshal(a)
		res = append(res, string(b))
	}
	sort.Strings(res)
	return res
}

func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestReplayDemo(t *testing.T) {
	out, summary, err := runCmd(t, "", "replay", filepath.Join("..", "..", "testdata", "demo.ndjson"))
	require.NoError(t, err)
	alerts := finalAlerts(t, out)
	require.Len(t, alerts, 1)
	require.Contains(t, alerts[0], `"UserPrincipalName":"dora.nagy@contoso.example"`)
	require.Contains(t, alerts[0], `"SourceAddressCount":2`)
	require.Contains(t, summary, "21 records read, 4 matched, 2 groups, 1 alert revisions")
	require.Contains(t, summary, "duplicate=1")
}

func TestReplayIndependentOfBatchingAndOrder(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.ndjson"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(demo)), "\n")
	reversed := make([]string, len(lines))
	for i, l := range lines {
		reversed[len(lines)-1-i] = l
	}
	want, _, err := runCmd(t, string(demo), "replay", "--batch", "100", "-")
	require.NoError(t, err)
	tests := []struct {
		name  string
		input string
		batch string
	}{
		{"one event per batch", string(demo), "1"},
		{"batches of 3", string(demo), "3"},
		{"reversed", strings.Join(reversed, "\n"), "2"},
		{"everything twice", string(demo) + string(demo), "5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := runCmd(t, tc.input, "replay", "--batch", tc.batch, "-")
			require.NoError(t, err)
			require.Equal(t, finalAlerts(t, want), finalAlerts(t, got))
		})
	}
}

func TestReplayBadInput(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo.ndjson"))
	require.NoError(t, err)
	// The bad records carry the rule's ids, so the prefilter cannot skip them unread.
	ids := `"appId":"29d9ed98-a469-4536-ade2-f981bc1d605e","resourceId":"01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9"`
	bad := "not json at all\n" + `{"records":[{"category":"SignInLogs","time":"yesterday","properties":{` + ids + `}}]}` + "\n" +
		`{"records":[{"category":"SignInLogs","time":"2026-11-03T09:00:00Z","properties":{"userType":7,` + ids + `}}]}` + "\n"
	tests := []struct {
		name        string
		input       string
		args        []string
		wantErr     string
		wantSummary []string
	}{
		{name: "bad lines are skipped and counted", input: bad + string(demo), args: []string{"replay", "-"},
			wantSummary: []string{"not_json=1", "bad_time=1", "wrong_type=1", "prefiltered=16"}},
		{name: "strict stops at the first bad line", input: string(demo[:bytes.IndexByte(demo, '\n')+1]) + bad, args: []string{"replay", "--strict", "-"},
			wantErr: "-:2: record 1: not_json"},
		{name: "strict names a bad time", input: bad[strings.Index(bad, "\n")+1:], args: []string{"replay", "--strict", "-"},
			wantErr: "-:1: record 1: bad_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, summary, err := runCmd(t, tc.input, tc.args...)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, finalAlerts(t, out), 1, "the attack in the same input still alerts")
			for _, s := range tc.wantSummary {
				require.Contains(t, summary, s)
			}
		})
	}
}

func TestReplayExitStatus(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantUsage bool
	}{
		{"missing file is an I/O error", []string{"replay", "/nonexistent/file.ndjson"}, false},
		{"no files", []string{"replay"}, true},
		{"bad flag", []string{"replay", "--nope", "x"}, true},
		{"bad batch", []string{"replay", "--batch", "0", "x"}, true},
		{"bad state", []string{"replay", "--state", "redis", "x"}, true},
		{"unknown command", []string{"frobnicate"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, "", tc.args...)
			require.Error(t, err)
			require.Equal(t, tc.wantUsage, err == errUsage, "err = %v", err)
		})
	}
}

// TestReplayHonoursLateness: replay accepts records of any age unless
// DRSWATCH_ALLOWED_LATENESS is set, and then applies it as serve does (the
// demo's records are from 2026-11-03, older than an hour).
func TestReplayHonoursLateness(t *testing.T) {
	demo := filepath.Join("..", "..", "testdata", "demo.ndjson")
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "DRSWATCH_ALLOWED_LATENESS" {
			return "1h"
		}
		return ""
	}
	require.NoError(t, run(context.Background(), []string{"replay", demo}, getenv, strings.NewReader(""), &out, &errb))
	require.Empty(t, finalAlerts(t, out.String()))
	require.Contains(t, errb.String(), "late=")

	stdout, _, err := runCmd(t, "", "replay", demo)
	require.NoError(t, err)
	require.Len(t, finalAlerts(t, stdout), 1, "without the setting, any age")
}

// TestReplayInvocation: a recorded invocation, as a dead letter holds it,
// replays to the alert serve gives it; a body that is no invocation says why.
func TestReplayInvocation(t *testing.T) {
	stdout, summary, err := runCmd(t, "", "replay", "--invocation", filepath.Join("..", "..", "handler", "testdata", "invocation-datatype-string.json"))
	require.NoError(t, err)
	alerts := finalAlerts(t, stdout)
	require.Len(t, alerts, 1)
	require.Contains(t, alerts[0], `"UserPrincipalName":"dora.nagy@contoso.example"`)
	require.Contains(t, summary, "6 records read, 4 matched, 2 groups, 1 alert revisions")

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"Data":{"messages":"[]"}}`), 0o600))
	_, _, err = runCmd(t, "", "replay", "--invocation", bad)
	require.ErrorContains(t, err, "unknown_binding")
}
