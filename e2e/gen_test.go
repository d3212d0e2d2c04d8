package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drswatch/drswatch/detect"

	"github.com/stretchr/testify/require"
)

// TestGenReplay generates traffic with `drswatch-dev gen`, replays it with
// `drswatch replay` and checks that the alert groups are exactly the
// expected ones.
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
			gen := exec.Command(binary(t, "drswatch-dev"), append([]string{"gen", "-expected", exp}, tc.args...)...)
			gen.Stdout, gen.Stderr = &traffic, &stderr
			require.NoError(t, gen.Run(), stderr.String())
			require.Contains(t, stderr.String(), "expected alert groups")

			var alerts bytes.Buffer
			stderr.Reset()
			replay := exec.Command(binary(t, "drswatch"), "replay", "-quiet", "-")
			replay.Env = []string{"PATH=" + os.Getenv("PATH")} // no DRSWATCH_ settings: the defaults
			replay.Stdin, replay.Stdout, replay.Stderr = &traffic, &alerts, &stderr
			require.NoError(t, replay.Run(), stderr.String())

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
