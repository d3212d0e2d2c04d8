package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drswatch/drswatch/detect"

	"github.com/stretchr/testify/require"
)

// TestGenReplay generates traffic, replays it through the detector and
// checks that the alert groups are exactly the expected ones.
func TestGenReplay(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"in-order", []string{"-seed", "3", "-bodies", "150", "-match-share", "0.01", "-attacks", "8"}},
		{"shuffled-redelivered", []string{"-seed", "4", "-bodies", "150", "-match-share", "0.01", "-attacks", "8", "-redeliver", "0.2", "-shuffle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			exp := filepath.Join(dir, "expected.jsonl")
			var traffic, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"gen", "-expected", exp}, tc.args...), noEnv, nil, &traffic, &stderr)
			require.NoError(t, err, stderr.String())
			require.Contains(t, stderr.String(), "expected alert groups")

			var alerts bytes.Buffer
			stderr.Reset()
			err = run(context.Background(), []string{"replay", "-quiet", "-"}, noEnv, &traffic, &alerts, &stderr)
			require.NoError(t, err, stderr.String())

			var got, want []string
			seen := map[string]bool{}
			sc := bufio.NewScanner(&alerts)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var a struct {
					AlertID     string `json:"AlertId"`
					RuleID      string `json:"RuleId"`
					WindowStart string `json:"WindowStart"`
					UPN         string `json:"UserPrincipalName"`
					SessionID   string `json:"SessionId"`
				}
				require.NoError(t, json.Unmarshal(sc.Bytes(), &a))
				if a.RuleID != detect.RuleID {
					continue // the sliding rule's alerts; the generator plans the ES|QL groups
				}
				k := a.WindowStart[:16] + " " + a.UPN + " " + a.SessionID
				if !seen[k] {
					seen[k] = true
					got = append(got, k)
				}
			}
			f, err := os.ReadFile(exp)
			require.NoError(t, err)
			for _, line := range bytes.Split(bytes.TrimSpace(f), []byte("\n")) {
				var e struct {
					WindowStart string `json:"window_start"`
					UPN         string `json:"upn"`
					SessionID   string `json:"session_id"`
				}
				require.NoError(t, json.Unmarshal(line, &e))
				want = append(want, e.WindowStart[:16]+" "+e.UPN+" "+e.SessionID)
			}
			slices.Sort(got)
			slices.Sort(want)
			require.Len(t, want, 8)
			require.Equal(t, want, got)
		})
	}
}

func TestGenBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-bogus"}},
		{"bad start", []string{"-start", "yesterday"}},
		{"bad size", []string{"-size", "lots"}},
		{"share over one", []string{"-match-share", "2"}},
		{"zero bodies", []string{"-bodies", "0"}},
		{"argument", []string{"extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"gen"}, tc.args...), noEnv, nil, &out, &stderr)
			require.ErrorIs(t, err, errUsage)
			require.Zero(t, out.Len())
		})
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"1GB", 1e9}, {"100MB", 100e6}, {"512KiB", 512 << 10}, {"2048", 2048}, {"1.5 GB", 1.5e9}} {
		got, err := parseSize(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, "parseSize(%q)", tc.in)
	}
}

func noEnv(string) string { return "" }
