package detect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDecodeRecordOutcome(t *testing.T) {
	tests := []struct {
		name        string
		status      any // properties.status; deleteKey removes it
		wantOutcome string
		wantSkip    Skip
	}{
		{name: "status absent", status: deleteKey, wantOutcome: "success"},
		{name: "status null", status: nil, wantOutcome: "success"},
		{name: "status empty object", status: map[string]any{}, wantOutcome: "success"},
		{name: "errorCode null", status: map[string]any{"errorCode": nil}, wantOutcome: "success"},
		{name: "errorCode 0", status: map[string]any{"errorCode": 0}, wantOutcome: "success"},
		{name: "errorCode 0.0", status: map[string]any{"errorCode": json.Number("0.0")}, wantOutcome: "success"},
		{name: "errorCode -0", status: map[string]any{"errorCode": json.Number("-0")}, wantOutcome: "success"},
		{name: "errorCode positive", status: map[string]any{"errorCode": 50140}, wantOutcome: "failure"},
		{name: "errorCode positive float", status: map[string]any{"errorCode": json.Number("0.5")}, wantOutcome: "failure"},
		{name: "errorCode negative leaves outcome unset", status: map[string]any{"errorCode": -1}, wantOutcome: ""},
		// Painless: "0" == 0 is false and "0" > 0 throws: a pipeline error
		// without event.outcome, so the record can never count.
		{name: "errorCode string 0", status: map[string]any{"errorCode": "0"}, wantSkip: SkipWrongType},
		{name: "errorCode string positive", status: map[string]any{"errorCode": "50140"}, wantSkip: SkipWrongType},
		{name: "errorCode bool", status: map[string]any{"errorCode": true}, wantSkip: SkipWrongType},
		{name: "errorCode object", status: map[string]any{"errorCode": map[string]any{"x": 1}}, wantSkip: SkipWrongType},
		// status as a scalar makes status?.error_code throw in Painless.
		{name: "status is a string", status: "ok", wantSkip: SkipWrongType},
		{name: "status is a list", status: []any{0}, wantSkip: SkipWrongType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := mustJSON(t, with(baseRecord(), "properties.status", tc.status))
			got, skip := DecodeRecord(raw)
			require.Equal(t, tc.wantSkip, skip, "DecodeRecord(%s) skip = %v, want %v", raw, skip, tc.wantSkip)
			require.Equal(t, tc.wantOutcome, got.Outcome, "DecodeRecord(%s).Outcome = %q, want %q", raw, got.Outcome, tc.wantOutcome)
			if skip == SkipNone {
				_, sel := DefaultRule().Select(got)
				want := SkipNone
				if tc.wantOutcome != "success" {
					want = SkipNoMatch
				}
				require.Equal(t, want, sel, "Select skip = %v, want %v", sel, want)
			}
		})
	}
}

func TestSelectFilters(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		value      any
		wantDecode Skip
		wantSelect Skip
	}{
		{name: "base record selected", path: "properties.id", value: "rec-1"},
		{name: "category SignInLogs kept", path: "category", value: "SignInLogs"},
		{name: "category ADFSSignInLogs kept by suffix", path: "category", value: "ADFSSignInLogs"},
		{name: "category lower-case dropped", path: "category", value: "signinlogs", wantDecode: SkipNotSignIn},
		{name: "category AuditLogs dropped", path: "category", value: "AuditLogs", wantDecode: SkipNotSignIn},
		{name: "category absent dropped", path: "category", value: deleteKey, wantDecode: SkipNotSignIn},
		{name: "category null dropped", path: "category", value: nil, wantDecode: SkipNotSignIn},
		{name: "userType Guest", path: "properties.userType", value: "Guest", wantSelect: SkipNoMatch},
		{name: "userType lower-case member", path: "properties.userType", value: "member", wantSelect: SkipNoMatch},
		{name: "userType with trailing space", path: "properties.userType", value: "Member ", wantSelect: SkipNoMatch},
		{name: "userType absent", path: "properties.userType", value: deleteKey, wantSelect: SkipNoMatch},
		{name: "identity empty", path: "identity", value: "", wantSelect: SkipNoMatch},
		{name: "identity null", path: "identity", value: nil, wantSelect: SkipNoMatch},
		{name: "identity absent", path: "identity", value: deleteKey, wantSelect: SkipNoMatch},
		{name: "UPN empty", path: "properties.userPrincipalName", value: "", wantSelect: SkipNoMatch},
		{name: "UPN null", path: "properties.userPrincipalName", value: nil, wantSelect: SkipNoMatch},
		{name: "UPN absent", path: "properties.userPrincipalName", value: deleteKey, wantSelect: SkipNoMatch},
		{name: "ipAddress empty", path: "properties.ipAddress", value: "", wantSelect: SkipNoMatch},
		{name: "ipAddress null", path: "properties.ipAddress", value: nil, wantSelect: SkipNoMatch},
		{name: "ipAddress absent", path: "properties.ipAddress", value: deleteKey, wantSelect: SkipNoMatch},
		{name: "app id upper-case", path: "properties.appId", value: "29D9ED98-A469-4536-ADE2-F981BC1D605E", wantSelect: SkipNoMatch},
		{name: "app id other", path: "properties.appId", value: "00000003-0000-0000-c000-000000000000", wantSelect: SkipNoMatch},
		{name: "resource id upper-case", path: "properties.resourceId", value: "01CB2876-7EBD-4AA4-9CC9-D28BD4D359A9", wantSelect: SkipNoMatch},
		{name: "resource id other", path: "properties.resourceId", value: "00000002-0000-0000-c000-000000000000", wantSelect: SkipNoMatch},
		{name: "top-level resourceId is not the resource", path: "resourceId", value: DefaultResourceID},
		{name: "session empty", path: "properties.sessionId", value: "", wantSelect: SkipNoSession},
		{name: "session null", path: "properties.sessionId", value: nil, wantSelect: SkipNoSession},
		{name: "session absent", path: "properties.sessionId", value: deleteKey, wantSelect: SkipNoSession},
		{name: "UPN wrong type", path: "properties.userPrincipalName", value: 42, wantDecode: SkipWrongType},
		{name: "time absent", path: "time", value: deleteKey, wantDecode: SkipBadTime},
		{name: "time unparsable", path: "time", value: "yesterday", wantDecode: SkipBadTime},
		{name: "time a number", path: "time", value: 1700000000, wantDecode: SkipBadTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := mustJSON(t, with(baseRecord(), tc.path, tc.value))
			rec, skip := DecodeRecord(raw)
			require.Equal(t, tc.wantDecode, skip, "DecodeRecord skip = %v, want %v", skip, tc.wantDecode)
			if skip != SkipNone {
				return
			}
			_, got := DefaultRule().Select(rec)
			require.Equal(t, tc.wantSelect, got, "Select skip = %v, want %v", got, tc.wantSelect)
		})
	}
}

func TestDecodeRecordSourceAddress(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]any // replaces the IP keys of properties
		want  string
	}{
		{name: "ipAddress only", props: map[string]any{"ipAddress": "198.51.100.1"}, want: "198.51.100.1"},
		{name: "IPAddress preferred over ipAddress", props: map[string]any{"IPAddress": "198.51.100.2", "ipAddress": "198.51.100.1"}, want: "198.51.100.2"},
		{name: "IPAddress empty falls back to ipAddress", props: map[string]any{"IPAddress": "", "ipAddress": "198.51.100.1"}, want: "198.51.100.1"},
		{name: "IPAddress null falls back to ipAddress", props: map[string]any{"IPAddress": nil, "ipAddress": "198.51.100.1"}, want: "198.51.100.1"},
		{name: "IPv6 string kept verbatim", props: map[string]any{"ipAddress": "2001:DB8::0001"}, want: "2001:DB8::0001"},
		{name: "unparsable address still a string", props: map[string]any{"ipAddress": "not-an-ip"}, want: "not-an-ip"},
		{name: "callerIpAddress is not a fallback", props: map[string]any{}, want: ""},
		{name: "properties callerIpAddress is not a fallback", props: map[string]any{"callerIpAddress": "198.51.100.9"}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := with(baseRecord(), "properties.ipAddress", deleteKey)
			rec = with(rec, "callerIpAddress", "203.0.113.99")
			for k, v := range tc.props {
				rec = with(rec, "properties."+k, v)
			}
			got := decode(t, rec)
			require.Equal(t, tc.want, got.SourceAddress, "SourceAddress = %q, want %q", got.SourceAddress, tc.want)
		})
	}
}

func TestDecodeRecordID(t *testing.T) {
	withID := decode(t, baseRecord())
	require.Equal(t, "rec-1", withID.ID, "ID = %q, want properties.id", withID.ID)

	noID := with(baseRecord(), "properties.id", deleteKey)
	a, b := decode(t, noID), decode(t, noID)
	require.Regexp(t, `^sha256:[0-9a-f]{32}$`, a.ID)
	require.Equal(t, a.ID, b.ID, "fallback ID must be stable for a redelivered record")
	other := decode(t, with(noID, "properties.ipAddress", "198.51.100.7"))
	require.NotEqual(t, a.ID, other.ID, "different records must get different fallback IDs")
	empty := decode(t, with(baseRecord(), "properties.id", ""))
	require.Regexp(t, `^sha256:`, empty.ID, "empty properties.id is absent")
}

func TestIsBrowser(t *testing.T) {
	tests := []struct {
		browser string
		want    bool
	}{
		{"Chrome 120", true},
		{"Chrome 120.0.6099", true},
		{"Chrome Mobile 120", true},
		{"Edge 120", true},
		{"Edge 18.1836", true},
		{"edge", true},
		{"EDGE", true},
		{"CHROME 1", true},
		{"Firefox", true},
		{"Firefox 121.0", true},
		{"Safari 17", true},
		{"safari", true},
		{"chromeos", true}, // the regex is a prefix test: chrome.* matches
		{"chromium 120", false},
		{"Mobile Safari", false},
		{"Mobile Safari 17", false},
		{"Samsung Internet", false},
		{"IE 11.0", false},
		{"Opera 105", false},
		{"Rich Client 4.40.0.0", false},
		{" Chrome 120", false},
		{"", false}, // null: to_lower(null) rlike ... is null, case gives 0
		{"Éedge", false},
		{"Edge\u00e9", true},
		{"ＣＨＲＯＭＥ", false},      // full-width letters lower-case to full-width, not ASCII
		{"\u212Aelvin", false}, // Kelvin sign lower-cases to k, not a prefix of the four
		{"\xff\xfe", false},
	}
	for _, tc := range tests {
		t.Run(tc.browser, func(t *testing.T) {
			got := IsBrowser(tc.browser)
			require.Equal(t, tc.want, got, "IsBrowser(%q) = %v, want %v", tc.browser, got, tc.want)
		})
	}
}

func TestWindowStart(t *testing.T) {
	tests := []struct {
		name string
		at   string
		want string
	}{
		{name: "start of window", at: "2026-03-02T10:00:00.000Z", want: "2026-03-02T10:00:00Z"},
		{name: "last ms of first half", at: "2026-03-02T10:29:59.999Z", want: "2026-03-02T10:00:00Z"},
		{name: "first ms of second half", at: "2026-03-02T10:30:00.000Z", want: "2026-03-02T10:30:00Z"},
		{name: "last ms of hour", at: "2026-03-02T10:59:59.999Z", want: "2026-03-02T10:30:00Z"},
		{name: "offset converted to UTC", at: "2026-03-02T12:29:59.999+02:00", want: "2026-03-02T10:00:00Z"},
		{name: "epoch", at: "1970-01-01T00:00:00Z", want: "1970-01-01T00:00:00Z"},
		{name: "just before epoch", at: "1969-12-31T23:59:59.999Z", want: "1969-12-31T23:30:00Z"},
		{name: "pre-1970 boundary", at: "1969-12-31T23:30:00.000Z", want: "1969-12-31T23:30:00Z"},
		{name: "pre-1970 last ms of half", at: "1969-12-31T23:29:59.999Z", want: "1969-12-31T23:00:00Z"},
		{name: "far past", at: "1900-01-01T00:45:00Z", want: "1900-01-01T00:30:00Z"},
	}
	r := DefaultRule()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := r.WindowStart(mustTime(t, tc.at))
			want := mustTime(t, tc.want)
			require.True(t, got.Equal(want), "WindowStart(%s) = %s, want %s", tc.at, got, want)
			require.Equal(t, time.UTC, got.Location(), "WindowStart location")
		})
	}
}

func TestSelectWindowBoundary(t *testing.T) {
	r := DefaultRule()
	a := ev(t, "a", "2026-03-02T10:29:59.999Z", "198.51.100.1", "Chrome 120")
	b := ev(t, "b", "2026-03-02T10:30:00.000Z", "198.51.100.2", "Chrome 120")
	ka, _ := r.Select(a)
	kb, _ := r.Select(b)
	require.NotEqual(t, ka, kb, "events either side of :30 must fall in different groups")
	require.NotEqual(t, ka.ID(), kb.ID())

	// One group per window: neither alerts, as in the fixed-bucket query.
	for _, pair := range [][2]Record{{a, b}} {
		for _, rec := range pair {
			k, _ := r.Select(rec)
			g := NewGroup(k)
			g.Merge(rec, nil)
			_, ok := r.Evaluate(g, time.Unix(0, 0))
			require.False(t, ok, "single event in window %s alerted", k.Window)
		}
	}
}

func TestSnakeKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"userPrincipalName", "user_principal_name"},
		{"signInSessionStatus", "sign_in_session_status"},
		{"tokenProtectionStatusDetails", "token_protection_status_details"},
		{"ipAddress", "ip_address"},
		{"IPAddress", "ipaddress"},
		{"riskEventTypes_v2", "risk_event_types_v2"},
		{"RequestSequence", "request_sequence"},
		{"xCAPolicy", "x_capolicy"},
		{"Level", "level"},
		{"Category", "category"},
		{"CreatedDateTime", "created_date_time"},
		{"sessionId", "session_id"},
		{"SessionId", "session_id"},
		{"Is CAE Token", "is cae token"},
		{"already_snake", "already_snake"},
		{"a1B", "a1b"}, // a digit breaks the lower→upper boundary
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := snakeKey(tc.in)
			require.Equal(t, tc.want, got, "snakeKey(%q) = %q, want %q", tc.in, got, tc.want)
		})
	}
}

func TestDecodeRecordKeyCollision(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{name: "SessionId after sessionId wins", raw: `"sessionId":"first","SessionId":"second"`, want: "second"},
		{name: "sessionId after SessionId wins", raw: `"SessionId":"first","sessionId":"second"`, want: "second"},
		{name: "later empty value wins", raw: `"sessionId":"first","SessionId":""`, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"time":"2026-03-02T10:00:00Z","category":"SignInLogs","properties":{` + tc.raw + `}}`
			got, skip := DecodeRecord([]byte(raw))
			require.Equal(t, SkipNone, skip)
			require.Equal(t, tc.want, got.SessionID, "DecodeRecord(%s).SessionID = %q, want %q", raw, got.SessionID, tc.want)
		})
	}
}

func TestDecodeRecordCapitalisedKeys(t *testing.T) {
	raw := `{"Time":"2026-03-02T10:00:00Z","Category":"SignInLogs","Identity":"A","Properties":{"UserType":"Member","UserPrincipalName":"a@b","IPAddress":"198.51.100.1","AppId":"` +
		DefaultAppID + `","ResourceId":"` + DefaultResourceID + `","SessionId":"s","DeviceDetail":{"Browser":"Edge 1"}}}`
	rec, skip := DecodeRecord([]byte(raw))
	require.Equal(t, SkipNone, skip)
	_, sel := DefaultRule().Select(rec)
	require.Equal(t, SkipNone, sel, "Select(capitalised record) = %v, want used", sel)
	require.Equal(t, "Edge 1", rec.Browser)
}

func TestDecodeRecordMalformed(t *testing.T) {
	deep := ""
	for range 100 {
		deep += "["
	}
	tests := []struct {
		name string
		raw  string
		want Skip
	}{
		{name: "empty", raw: "", want: SkipNotJSON},
		{name: "garbage", raw: "not json", want: SkipNotJSON},
		{name: "array", raw: "[]", want: SkipNotJSON},
		{name: "string", raw: `"x"`, want: SkipNotJSON},
		{name: "trailing data", raw: `{"category":"SignInLogs"} {}`, want: SkipNotJSON},
		{name: "truncated", raw: `{"category":"SignInLogs"`, want: SkipNotJSON},
		{name: "too deep", raw: `{"a":` + deep, want: SkipTooDeep},
		{name: "category a number", raw: `{"category":5,"time":"2026-03-02T10:00:00Z"}`, want: SkipWrongType},
		{name: "no time", raw: `{"category":"SignInLogs"}`, want: SkipBadTime},
		{name: "root CreatedDateTime fallback", raw: `{"Category":"SignInLogs","CreatedDateTime":"2026-03-02T10:00:00Z"}`, want: SkipNone},
		{name: "properties createdDateTime is not a fallback", raw: `{"category":"SignInLogs","properties":{"createdDateTime":"2026-03-02T10:00:00Z"}}`, want: SkipBadTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := DecodeRecord([]byte(tc.raw))
			require.Equal(t, tc.want, got, "DecodeRecord(%.40q) = %v, want %v", tc.raw, got, tc.want)
		})
	}
}

func TestParseTime(t *testing.T) {
	const want = "2007-01-09T09:41:00Z"
	tests := []struct {
		in   string
		want string // "" = rejected
	}{
		// The corner cases of test-time-formats-corner-cases.log.
		{"01/09/2007 09:41:00", want},
		{"1/9/2007 09:41:00", want},
		{"01/09/2007 09:41:00 AM", want},
		{"1/9/2007 9:41:00 AM", want},
		{"1/9/2007 10:41:00 AM +01:00", want},
		{"2007-01-09T09:41:00", want},
		{"2007-01-09T09:41:00.22Z", "2007-01-09T09:41:00.22Z"},
		{"2007-01-09T09:41:00.6816663Z", "2007-01-09T09:41:00.681Z"},
		{"2007-01-09T09:41:00.535404056Z", "2007-01-09T09:41:00.535Z"},
		{"2007-01-09T09:41:00.992099+00:00", "2007-01-09T09:41:00.992Z"},
		{"2007-01-09T11:41:00+02:00", want},
		// Other accepted forms.
		{"12/12/2025 3:03:58 PM", "2025-12-12T15:03:58Z"},
		{"1/9/2007 12:41:00 AM", "2007-01-09T00:41:00Z"},
		{"1/9/2007 12:41:00 PM", "2007-01-09T12:41:00Z"},
		{"2007-01-09T9:41:00.000Z", want},
		{"2007-01-09T09:41:00.999999999Z", "2007-01-09T09:41:00.999Z"},
		{"1969-12-31T23:59:59.9999Z", "1969-12-31T23:59:59.999Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
		// Rejected.
		{"", ""},
		{"garbage", ""},
		{"2007-02-31T09:41:00Z", ""},
		{"2/31/2007 9:41:00 AM", ""},
		{"2023-02-29T00:00:00Z", ""},
		{"13/1/2007 09:41:00", ""},
		{"2007-13-01T00:00:00Z", ""},
		{"2007-01-09T24:00:00Z", ""},
		{"1/9/2007 24:00:00", ""},
		{"1/9/2007 13:41:00 PM", ""},
		{"1/9/2007 0:41:00 AM", ""},
		{"2007-01-09T09:60:00Z", ""},
		{"2007-01-09T09:41:60Z", ""},
		{"2007-01-09T09:41:00+25:00", ""},
		{"2007-01-09T09:41:00.Z", ""},
		{"2007-01-09T09:41:00.1234567890Z", ""},
		{"2007-01-09 09:41:00", ""},
		{"2007-01-09T09:41:00Z ", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := ParseTime(tc.in)
			if tc.want == "" {
				require.False(t, ok, "ParseTime(%q) = %s, want rejected", tc.in, got)
				return
			}
			require.True(t, ok, "ParseTime(%q) rejected, want %s", tc.in, tc.want)
			want := mustTime(t, tc.want)
			require.True(t, got.Equal(want), "ParseTime(%q) = %s, want %s", tc.in, got, want)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}
