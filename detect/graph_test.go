package detect

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// graphItem is a Graph beta signIn object of a MAB -> DRS sign-in, with the
// members the rule reads.
const graphItem = `{"id":"66ea54eb-6301-4ee5-be62-ff5a759b0100","createdDateTime":"2026-11-03T09:31:02Z",` +
	`"userDisplayName":"Dora Nagy","userPrincipalName":"dora.nagy@contoso.example","userType":"member",` +
	`"appId":"29d9ed98-a469-4536-ade2-f981bc1d605e","resourceId":"01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9",` +
	`"ipAddress":"198.51.100.7","sessionId":"s-1","isInteractive":false,"signInEventTypes":["nonInteractiveUser"],` +
	`"status":{"errorCode":0},"deviceDetail":{"browser":"Python Requests 2.31"},"location":{"city":"Lagos","state":"Lagos","countryOrRegion":"NG"}}`

func TestGraphRecord(t *testing.T) {
	tests := []struct {
		name      string
		item      string
		graph     bool
		want      map[string]string // Record fields by name
		wantSkip  Skip
		wantMatch bool
	}{
		{name: "beta signIn of MAB to DRS", item: graphItem, graph: true, wantMatch: true, want: map[string]string{
			"Category": "NonInteractiveUserSignInLogs", "Identity": "Dora Nagy", "UserType": "Member", "UPN": "dora.nagy@contoso.example",
			"SourceAddress": "198.51.100.7", "SessionID": "s-1", "Browser": "Python Requests 2.31", "City": "Lagos", "CountryCode": "NG",
			"ID": "66ea54eb-6301-4ee5-be62-ff5a759b0100", "Outcome": "success", "IsInteractive": "false", "Timestamp": "2026-11-03T09:31:02Z"}},
		{name: "interactive, guest", item: `{"createdDateTime":"2026-11-03T09:31:02Z","userType":"guest","signInEventTypes":["interactiveUser"]}`,
			graph: true, wantSkip: SkipNone, want: map[string]string{"Category": "SignInLogs", "UserType": "Guest"}},
		{name: "v1.0: no signInEventTypes, userType or sessionId", item: `{"createdDateTime":"2026-11-03T09:31:02Z","appId":"a","isInteractive":true}`,
			graph: true, want: map[string]string{"Category": "SignInLogs", "UserType": "", "AppID": "a"}},
		{name: "service principal", item: `{"createdDateTime":"2026-11-03T09:31:02Z","signInEventTypes":["servicePrincipal"]}`,
			graph: true, want: map[string]string{"Category": "ServicePrincipalSignInLogs"}},
		{name: "managed identity", item: `{"createdDateTime":"2026-11-03T09:31:02Z","signInEventTypes":["managedIdentity"]}`,
			graph: true, want: map[string]string{"Category": "ManagedIdentitySignInLogs"}},
		{name: "createdDateTime unparsable", item: `{"createdDateTime":"soon"}`, graph: true, wantSkip: SkipBadTime},
		{name: "a diagnostic-settings record is not one", item: `{"category":"SignInLogs","createdDateTime":"2026-11-03T09:31:02Z","properties":{}}`},
		{name: "a body is not one", item: `{"records":[]}`},
		{name: "without createdDateTime", item: `{"appId":"a"}`},
		{name: "not an object", item: `["createdDateTime"]`},
		{name: "broken", item: `{"createdDateTime":"x",`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			item := []byte(tc.item)
			require.Equal(t, tc.graph, IsGraphSignIn(item), "IsGraphSignIn(%s)", tc.item)
			if !tc.graph {
				return
			}
			raw, ok := GraphRecord([]byte("x"), item)
			require.True(t, ok)
			require.True(t, json.Valid(raw[1:]), "GraphRecord(%s) = %s, not JSON", tc.item, raw[1:])
			rec, skip := DecodeRecord(raw[1:])
			require.Equal(t, tc.wantSkip, skip, "DecodeRecord(%s)", raw[1:])
			if skip != SkipNone {
				return
			}
			got := map[string]string{}
			b, _ := json.Marshal(rec)
			var all map[string]any
			require.NoError(t, json.Unmarshal(b, &all))
			for k := range tc.want {
				if v, ok := all[k].(string); ok {
					got[k] = v
				} else {
					got[k] = ""
				}
			}
			require.Equal(t, tc.want, got)
			_, sel := DefaultRule().Select(rec)
			require.Equal(t, tc.wantMatch, sel == SkipNone, "Select = %v", sel)
		})
	}
}

// TestGraphIdentityIsDisplayName checks the fact GraphRecord rests on: in
// Elastic's fixtures, a record's identity is its properties.userDisplayName.
func TestGraphIdentityIsDisplayName(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir(t), "test-*.log"))
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		for _, line := range readLines(t, f) {
			var r struct {
				Identity   *string
				Properties struct{ UserDisplayName *string }
			}
			if json.Unmarshal(line, &r) != nil || r.Identity == nil || r.Properties.UserDisplayName == nil {
				continue
			}
			n++
			require.Equal(t, *r.Identity, *r.Properties.UserDisplayName, "%s: identity and properties.userDisplayName", filepath.Base(f))
		}
	}
	require.NotZero(t, n, "no fixture record has both identity and properties.userDisplayName")
}
