package detect

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// baseRecord returns a raw record (as Entra sends it) that the rule selects:
// a successful Member sign-in by MAB to DRS, with a session and a browser.
func baseRecord() map[string]any {
	return map[string]any{
		"time":            "2026-03-02T10:05:00.1234567Z",
		"category":        "NonInteractiveUserSignInLogs",
		"identity":        "Alex Wilber",
		"callerIpAddress": "203.0.113.10",
		"location":        "GB",
		"properties": map[string]any{
			"id":                     "rec-1",
			"userType":               "Member",
			"userPrincipalName":      "alex@contoso.example",
			"userDisplayName":        "Alex Wilber",
			"ipAddress":              "203.0.113.10",
			"appId":                  DefaultAppID,
			"appDisplayName":         "Microsoft Authentication Broker",
			"resourceId":             DefaultResourceID,
			"resourceDisplayName":    "Device Registration Service",
			"sessionId":              "sess-1",
			"uniqueTokenIdentifier":  "tok-1",
			"isInteractive":          false,
			"authenticationProtocol": "none",
			"incomingTokenType":      "refreshToken",
			"status":                 map[string]any{"errorCode": 0},
			"deviceDetail":           map[string]any{"browser": "Chrome 120.0.0", "operatingSystem": "Windows10"},
			"location":               map[string]any{"city": "London", "state": "England", "countryOrRegion": "GB"},
			"userAgent":              "Mozilla/5.0 Chrome/120.0",
		},
	}
}

// with returns a deep copy of rec with the dotted path set to v. The special
// value deleteKey removes the key.
func with(rec map[string]any, path string, v any) map[string]any {
	out := deepCopy(rec).(map[string]any)
	parts := strings.Split(path, ".")
	cur := out
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	last := parts[len(parts)-1]
	if v == deleteKey {
		delete(cur, last)
	} else {
		cur[last] = v
	}
	return out
}

type deleteMarker struct{}

var deleteKey = deleteMarker{}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// decode decodes a raw record map, failing the test on a skip.
func decode(t testing.TB, rec map[string]any) Record {
	t.Helper()
	r, skip := DecodeRecord(mustJSON(t, rec))
	require.Equal(t, SkipNone, skip, "DecodeRecord skip = %v, want used", skip)
	return r
}

// ev builds a selected record with the given id, time, address and browser.
func ev(t testing.TB, id, at, addr, browser string) Record {
	t.Helper()
	rec := with(baseRecord(), "properties.id", id)
	rec = with(rec, "time", at)
	rec = with(rec, "properties.ipAddress", addr)
	rec = with(rec, "properties.deviceDetail.browser", browser)
	return decode(t, rec)
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return ts
}

// figures returns the alert's figures without TimeGenerated and Revision.
func figures(a Alert) Alert {
	a.TimeGenerated, a.Revision = Time{}, 0
	return a
}
