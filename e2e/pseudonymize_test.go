package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/fixture"
)

// TestPseudonymizedAlerts: with DRSWATCH_PSEUDONYMIZE_KEY the alert rows
// carry keyed hashes of the UPN and display names, the same across runs with
// the same key, different with another, and never the plain names; neither
// the names nor the key appear in the log.
func TestPseudonymizedAlerts(t *testing.T) {
	const upn = "pseudo.victim@contoso.example"
	at := recentWindow()
	batch := [][]byte{fixture.Body(fixture.Phish(upn, "s-pseudo", at)...)}
	run := func(key string) (detect.Alert, string, string) {
		out := filepath.Join(t.TempDir(), "alerts.jsonl")
		s := startServe(t, map[string]string{"DRSWATCH_STATE": "memory", "DRSWATCH_SINK": "jsonl:" + out,
			"DRSWATCH_PSEUDONYMIZE_KEY": key}, freePort(t))
		s.mustPost(batch)
		s.kill()
		rows := readRows(t, out)
		require.Len(t, rows, 1, "log:\n%s", s.log.String())
		var a detect.Alert
		require.NoError(t, json.Unmarshal(rows[0], &a))
		return a, string(rows[0]), s.log.String()
	}
	const k1, k2 = "first-test-key-0123456789", "second-test-key-9876543210"
	a1, row1, log1 := run(k1)
	a1again, _, _ := run(k1)
	a2, row2, _ := run(k2)
	plain, rowPlain, _ := run("")

	require.Equal(t, upn, plain.UserPrincipalName, "without a key the names are shown")
	require.Equal(t, []string{"Dora Nagy"}, plain.UserDisplayNames)
	require.Contains(t, rowPlain, upn)
	for _, tc := range []struct {
		name string
		a    detect.Alert
		row  string
	}{{"key 1", a1, row1}, {"key 2", a2, row2}} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, strings.HasPrefix(tc.a.UserPrincipalName, "pseudo:"), tc.a.UserPrincipalName)
			require.Len(t, tc.a.UserDisplayNames, 1)
			require.True(t, strings.HasPrefix(tc.a.UserDisplayNames[0], "pseudo:"))
			require.Len(t, tc.a.UserPrincipalNames, 1)
			require.NotContains(t, tc.row, "contoso.example")
			require.NotContains(t, tc.row, "Dora")
		})
	}
	require.Equal(t, a1.UserPrincipalName, a1again.UserPrincipalName, "stable with the same key")
	require.Equal(t, a1.UserDisplayNames, a1again.UserDisplayNames)
	require.Equal(t, a1.AlertID, a2.AlertID, "the alert id does not depend on the key")
	require.NotEqual(t, a1.UserPrincipalName, a2.UserPrincipalName, "another key, another pseudonym")
	require.NotEqual(t, a1.UserDisplayNames, a2.UserDisplayNames)
	for _, s := range []string{k1, upn, "Dora Nagy"} {
		require.NotContains(t, log1, s, fmt.Sprintf("the log holds %q", s))
	}
}
