package e2e

// The catalogue of hostile and broken input (docs/hostile-input.md): one
// subtest per row, through the real handler, pipeline and store. Every
// record-level row posts its hostile bodies in the same batch as a valid
// phishing session and checks that the session still alerts.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/store/memstore"
)

// hostileAt is inside the 09:30 window; the beds' clock is 10:00.
var hostileAt = time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC)

const (
	victimUPN     = "victim@contoso.example"
	victimSession = "s-victim"
)

// victimBody is the valid phishing session every record-level row carries.
func victimBody() []byte { return fixture.Body(fixture.Phish(victimUPN, victimSession, hostileAt)...) }

func victimID() string { return keyOf(victimUPN, victimSession, 9, 30).ID() }

// rec returns a record the rule selects (MAB -> DRS, a Member, a browser),
// changed by mod, which gets the record and its properties.
func rec(upn, id string, mod func(r, p map[string]any)) map[string]any {
	r := fixture.SignIn{UPN: upn, Session: "s-" + id, ID: id, Time: hostileAt}.Record()
	if mod != nil {
		mod(r, r["properties"].(map[string]any))
	}
	return r
}

// bodyOf wraps records in an Event Hub body.
func bodyOf(recs ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"records": recs})
	if err != nil {
		panic(err)
	}
	return b
}

// rawEnvelope builds the host's other form, Data.events as a JSON array of
// parsed bodies, keeping the bodies' bytes exactly (invalid UTF-8 included).
func rawEnvelope(bodies [][]byte) []byte {
	return []byte(`{"Data":{"events":[` + string(bytes.Join(bodies, []byte(","))) + `]},"Metadata":{}}`)
}

// summary is the handler's "batch processed" log line.
type summary struct {
	Records int `json:"records"`
	Matched int `json:"matched"`
	Groups  int `json:"groups"`
	Alerts  int `json:"alerts"`
	// TruncatedAlerts counts the revisions whose value lists were cut.
	TruncatedAlerts int            `json:"truncated_alerts"`
	Skipped         map[string]int `json:"skipped"`
}

func lastSummary(t *testing.T, b *bed) summary {
	t.Helper()
	lines := b.logs.Lines(t, "batch processed")
	require.NotEmpty(t, lines, "no batch summary in the log:\n%s", b.logs.String())
	raw, err := json.Marshal(lines[len(lines)-1])
	require.NoError(t, err)
	var s summary
	require.NoError(t, json.Unmarshal(raw, &s))
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	return s
}

// alertRow returns the latest row of alert id.
func alertRow(t *testing.T, b *bed, id string) detect.Alert {
	t.Helper()
	b.sink.mu.Lock()
	defer b.sink.mu.Unlock()
	var best detect.Alert
	for _, r := range b.sink.rows {
		var a detect.Alert
		require.NoError(t, json.Unmarshal(r, &a))
		if a.AlertID == id && a.Revision >= best.Revision {
			best = a
		}
	}
	require.NotEmpty(t, best.AlertID, "no alert %s", id)
	return best
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// heapAfterGC returns the live heap after a full collection.
// heapAfterGC is the live heap. Two collections: the handler's buffer pool
// keeps its buffers through one (reusable, not retained by a batch).
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestHostileRecords(t *testing.T) {
	deep := func(n int) string { return repeat(`{"a":`, n) + "1" + repeat("}", n) }
	forbiddenUPN := "a/b\\c#d?e'f\"g\x00\x01\x1f\x7f\u0085\u2028\ufeff%2F@contoso.example"
	forbiddenSession := "/\\#?\x00\t\n\r\x7f" + repeat("\x1b", 10)
	tests := []struct {
		name    string
		bodies  func() [][]byte // posted with victimBody()
		raw     bool            // Data.events as a raw array (keeps invalid UTF-8)
		skipped map[string]int  // exact skip counters of the batch
		tables  bool            // also on Table Storage (keys and sizes)
		check   func(t *testing.T, b *bed)
	}{
		{name: "event body not JSON", bodies: func() [][]byte { return [][]byte{[]byte("this is not json")} },
			skipped: map[string]int{"not_json": 1}},
		{name: "event body truncated JSON", bodies: func() [][]byte {
			b := bodyOf(rec("t@contoso.example", "trunc", nil))
			return [][]byte{b[:len(b)/2]}
		}, skipped: map[string]int{"not_json": 1}},
		{name: "event body a JSON string, number, null, array", bodies: func() [][]byte {
			return [][]byte{[]byte(`"text"`), []byte(`42`), []byte(`null`), []byte(`[1,2]`)}
		}, skipped: map[string]int{"not_json": 4}},
		{name: "records not an array", bodies: func() [][]byte {
			return [][]byte{[]byte(`{"records":{"category":"SignInLogs","x":"` + fixture.MAB + fixture.DRS + `"}}`)}
		}, skipped: map[string]int{"bad_time": 1}}, // the object is decoded as one record
		{name: "nesting 10,000 deep in a record", bodies: func() [][]byte {
			return [][]byte{[]byte(`{"records":[{"category":"SignInLogs","x":"` + fixture.MAB + fixture.DRS + `","properties":` + deep(10000) + `}]}`)}
		}, skipped: map[string]int{"too_deep": 1}},
		{name: "nesting 10,000 deep in a record without the rule's ids", bodies: func() [][]byte {
			return [][]byte{[]byte(`{"records":[{"category":"SignInLogs","properties":` + deep(10000) + `}]}`)}
		}, skipped: map[string]int{"prefiltered": 1}}, // counted unread: it cannot match
		{name: "nesting 100 deep in the user agent", bodies: func() [][]byte {
			return [][]byte{[]byte(`{"records":[{"category":"SignInLogs","properties":{"appId":"` + fixture.MAB + `","resourceId":"` + fixture.DRS + `","userAgent":` + deep(100) + `}}]}`)}
		}, skipped: map[string]int{"too_deep": 1}},
		{name: "not a sign-in category", bodies: func() [][]byte {
			return [][]byte{bodyOf(rec("a@contoso.example", "audit", func(r, _ map[string]any) { r["category"] = "AuditLogs" }))}
		}, skipped: map[string]int{"not_signin": 1}},
		{name: "category missing", bodies: func() [][]byte {
			return [][]byte{bodyOf(rec("a@contoso.example", "nocat", func(r, _ map[string]any) { delete(r, "category") }))}
		}, skipped: map[string]int{"not_signin": 1}},
		// Wrong types in every field the rule reads.
		{name: "wrong type: category a number", bodies: wrongType(func(r, _ map[string]any) { r["category"] = 42 }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: identity a number", bodies: wrongType(func(r, _ map[string]any) { r["identity"] = 7 }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: UPN a number", bodies: wrongType(func(_, p map[string]any) { p["userPrincipalName"] = 12345 }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: session id a number", bodies: wrongType(func(_, p map[string]any) { p["sessionId"] = 12345 }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: session id an object", bodies: wrongType(func(_, p map[string]any) { p["sessionId"] = map[string]any{"id": "x"} }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: ip address a bool", bodies: wrongType(func(_, p map[string]any) { p["ipAddress"] = true }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: user type an array", bodies: wrongType(func(_, p map[string]any) { p["userType"] = []any{"Member"} }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: app id an array", bodies: wrongType(func(_, p map[string]any) { p["appId"] = []any{fixture.MAB} }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: app id a number (prefilter)", bodies: wrongType(func(_, p map[string]any) { p["appId"] = 29 }), skipped: map[string]int{"prefiltered": 1}},
		{name: "wrong type: resource id an object", bodies: wrongType(func(_, p map[string]any) { p["resourceId"] = map[string]any{"id": fixture.DRS} }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: browser a number", bodies: wrongType(func(_, p map[string]any) { p["deviceDetail"] = map[string]any{"browser": 131} }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: status a string", bodies: wrongType(func(_, p map[string]any) { p["status"] = "0" }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: error code a string", bodies: wrongType(func(_, p map[string]any) { p["status"] = map[string]any{"errorCode": "0"} }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: error code not a number literal", bodies: wrongType(func(_, p map[string]any) { p["status"] = map[string]any{"errorCode": json.Number("1e400")} }), skipped: map[string]int{"wrong_type": 1}},
		{name: "wrong type: properties an array", bodies: wrongType(func(r, _ map[string]any) {
			r["properties"] = []any{map[string]any{"appId": fixture.MAB, "resourceId": fixture.DRS}}
		}), skipped: map[string]int{"no_match": 1}},
		{name: "wrong type: device detail an array", bodies: wrongType(func(_, p map[string]any) { p["deviceDetail"] = []any{"Chrome"} }), skipped: map[string]int{},
			check: func(t *testing.T, b *bed) {
				require.Equal(t, 1, lastSummary(t, b).Matched-2, "read as no browser: selected, no alert alone")
			}},
		{name: "wrong type: time a number", bodies: wrongType(func(r, _ map[string]any) { r["time"] = 1762162800 }), skipped: map[string]int{"bad_time": 1}},
		{name: "wrong type: output-only fields numbers and objects", bodies: func() [][]byte {
			pair := fixture.Phish("types@contoso.example", "s-types", hostileAt)
			var recs []map[string]any
			for _, s := range pair {
				r := s.Record()
				p := r["properties"].(map[string]any)
				p["userAgent"], p["userDisplayName"], p["location"] = 42, true, []any{1}
				recs = append(recs, r)
			}
			return [][]byte{bodyOf(recs...)}
		}, skipped: map[string]int{}, check: func(t *testing.T, b *bed) {
			a := alertRow(t, b, keyOf("types@contoso.example", "s-types", 9, 30).ID())
			require.Equal(t, []string{"42"}, a.UserAgents, "scalars read as text")
			require.Equal(t, []string{"true"}, a.UserDisplayNames)
		}},
		// Times.
		{name: "time unparsable", bodies: timeIs("yesterday at noon"), skipped: map[string]int{"bad_time": 1}},
		{name: "time missing", bodies: wrongType(func(r, _ map[string]any) { delete(r, "time") }), skipped: map[string]int{"bad_time": 1}},
		{name: "time empty", bodies: timeIs(""), skipped: map[string]int{"bad_time": 1}},
		{name: "time out of range (month 13, year 10000)", bodies: func() [][]byte {
			return append(timeIs("2026-13-03T09:40:00Z")(), timeIs("10000-01-01T00:00:00Z")()...)
		}, skipped: map[string]int{"bad_time": 2}},
		{name: "time far future", bodies: func() [][]byte {
			return append(timeIs("9999-12-31T23:59:59.9999999Z")(), timeIs("2026-11-03T11:00:01Z")()...)
		}, skipped: map[string]int{"future": 2}},
		{name: "time far past", bodies: func() [][]byte {
			return append(append(timeIs("0001-01-01T00:00:00Z")(), timeIs("1601-01-01T00:00:00Z")()...), timeIs("2026-11-02T09:29:59.999Z")()...)
		}, skipped: map[string]int{"late": 3}},
		{name: "time with an offset far from UTC", bodies: timeIs("2026-11-03T23:40:00+14:00"), skipped: map[string]int{}},
		// Keys: every character Table Storage forbids, control characters, sizes.
		{name: "forbidden and control characters in UPN and session id", tables: true, bodies: func() [][]byte {
			return [][]byte{fixture.Body(fixture.Phish(forbiddenUPN, forbiddenSession, hostileAt)...)}
		}, skipped: map[string]int{}, check: func(t *testing.T, b *bed) {
			k := detect.Key{Window: hostileAt.Truncate(30 * time.Minute), UPN: forbiddenUPN, SessionID: forbiddenSession}
			st, err := b.state(k)
			require.NoError(t, err)
			require.Equal(t, forbiddenUPN, st.Key.UPN, "state keeps the exact key")
			a := alertRow(t, b, k.ID())
			require.NotContains(t, a.UserPrincipalName, "\x00", "alert shows a cleaned UPN")
			require.NotContains(t, a.SessionID, "\x1b")
			require.Contains(t, a.UserPrincipalName, "a/b\\c#d?e'f\"g")
		}},
		{name: "control characters in user agent and browser", bodies: func() [][]byte {
			pair := fixture.Phish("ctl@contoso.example", "s-ctl", hostileAt)
			pair[0].Browser = "Chrome\x00\x1b[31m\u009b"
			pair[1].UserAgent = "curl\r\nX-Injected: 1\x07"
			return [][]byte{fixture.Body(pair...)}
		}, skipped: map[string]int{}, check: func(t *testing.T, b *bed) {
			a := alertRow(t, b, keyOf("ctl@contoso.example", "s-ctl", 9, 30).ID())
			require.Equal(t, []string{"Chrome\ufffd\ufffd[31m\ufffd"}, a.Browsers)
			require.Contains(t, a.UserAgents, "curl\ufffd\ufffdX-Injected: 1\ufffd")
			require.Equal(t, 1, a.IsBrowserMax)
		}},
		{name: "1 MB UPN", tables: true, bodies: func() [][]byte {
			return [][]byte{fixture.Body(fixture.Phish(repeat("u", mib)+"@contoso.example", "s-big-upn", hostileAt)...)}
		}, skipped: map[string]int{"oversize": 2}},
		{name: "1 MB session id", tables: true, bodies: func() [][]byte {
			return [][]byte{fixture.Body(fixture.Phish("bigsession@contoso.example", repeat("s", mib), hostileAt)...)}
		}, skipped: map[string]int{"oversize": 2}},
		{name: "UPN and session id at MaxKeyBytes, multi-byte", tables: true, bodies: func() [][]byte {
			upn := repeat("\U0001F600", 254) + "@abcd.io" // 1,024 bytes
			return [][]byte{fixture.Body(fixture.Phish(upn, repeat("\u4e2d", detect.MaxKeyBytes/3), hostileAt)...)}
		}, skipped: map[string]int{}, check: func(t *testing.T, b *bed) {
			require.Equal(t, 2, lastSummary(t, b).Alerts)
		}},
		{name: "1 MB user agent and browser", tables: true, bodies: func() [][]byte {
			pair := fixture.Phish("bigua@contoso.example", "s-bigua", hostileAt)
			pair[0].Browser = "Chrome " + repeat("9", mib)
			pair[1].UserAgent = repeat("\u00e9", mib/2)
			return [][]byte{fixture.Body(pair...)}
		}, skipped: map[string]int{}, check: func(t *testing.T, b *bed) {
			a := alertRow(t, b, keyOf("bigua@contoso.example", "s-bigua", 9, 30).ID())
			require.Equal(t, 1, a.IsBrowserMax, "the browser still counts")
			for _, v := range append(a.Browsers, a.UserAgents...) {
				require.LessOrEqual(t, len(v), detect.MaxValueBytes)
			}
			require.Equal(t, []string{"Browsers", "UserAgents"}, a.TruncatedColumns, "shortened values flag their columns")
		}},
		{name: "invalid UTF-8 in UPN, session id, user agent and browser", raw: true, tables: true, bodies: func() [][]byte {
			pair := fixture.Phish("bad\xffutf8@contoso.example", "s-\xc3\x28", hostileAt)
			pair[0].Browser = "Edge\xed\xa0\x80"
			pair[1].UserAgent = "agent\xf0\x28\x8c\x28"
			return [][]byte{fixture.Body(pair...)}
		}, skipped: map[string]int{}, check: func(t *testing.T, b *bed) {
			a := alertRow(t, b, keyOf("bad\ufffdutf8@contoso.example", "s-\ufffd(", 9, 30).ID())
			raw, err := a.MarshalJSON()
			require.NoError(t, err)
			require.True(t, json.Valid(raw))
			require.Contains(t, a.UserAgents, "agent\ufffd(\ufffd(")
		}},
		{name: "session with 10,000 distinct IPs", tables: true, bodies: func() [][]byte {
			var bodies [][]byte
			for i := 0; i < 10000; i += 250 {
				var legs []fixture.SignIn
				for j := i; j < i+250; j++ {
					legs = append(legs, fixture.SignIn{UPN: "spray@contoso.example", Session: "s-spray", Time: hostileAt,
						IP: fmt.Sprintf("10.%d.%d.%d", j>>16&255, j>>8&255, j&255), ID: fmt.Sprintf("spray-%d", j)})
				}
				bodies = append(bodies, fixture.Body(legs...))
			}
			return bodies
		}, skipped: map[string]int{}, check: func(t *testing.T, b *bed) {
			st, err := b.state(keyOf("spray@contoso.example", "s-spray", 9, 30))
			require.NoError(t, err)
			require.Equal(t, 10000, st.EventCount())
			require.Equal(t, 10000, st.AddressCount(), "exact below MaxAddresses")
			require.False(t, st.Saturated)
			a := alertRow(t, b, keyOf("spray@contoso.example", "s-spray", 9, 30).ID())
			require.Equal(t, 10000, a.SourceAddressCount)
			require.Less(t, len(a.SourceAddresses), 10000, "the list is cut at its byte budget")
			require.Greater(t, len(a.SourceAddresses), 1000)
			list, err := json.Marshal(a.SourceAddresses)
			require.NoError(t, err)
			require.LessOrEqual(t, len(list), detect.ListBudget(detect.ColSourceAddresses))
			require.Equal(t, []string{"SourceAddresses"}, a.TruncatedColumns)
			cut := b.logs.Lines(t, "alert value lists cut at their byte budget")
			require.NotEmpty(t, cut, "no log line for the cut list:\n%s", b.logs.String())
			require.Equal(t, []any{"SourceAddresses"}, cut[len(cut)-1]["truncated_columns"])
			require.Equal(t, 1, lastSummary(t, b).TruncatedAlerts, "the last batch's revision is counted")
		}},
		{name: "same record twice in the batch", bodies: func() [][]byte { return [][]byte{victimBody()} },
			skipped: map[string]int{"duplicate": 2}},
		{name: "selected record without a session id", bodies: wrongType(func(_, p map[string]any) { delete(p, "sessionId") }),
			skipped: map[string]int{"no_session": 1}},
	}
	for _, tc := range tests {
		kinds := stores[:1]
		if tc.tables {
			kinds = stores
		}
		for _, sk := range kinds {
			t.Run(tc.name+"/"+sk.name, func(t *testing.T) {
				b := newBed(t, sk.open(t))
				bodies := append(tc.bodies(), victimBody())
				env := fixture.Invocation(bodies)
				if tc.raw {
					env = rawEnvelope(bodies)
				}
				code, resp := testenv.Invoke(t, b.h, handler.FunctionSignIns, env)
				require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
				s := lastSummary(t, b)
				require.Equal(t, tc.skipped, s.Skipped, "skip counters")
				alertRow(t, b, victimID()) // the valid session in the same batch still alerts
				if tc.check != nil {
					tc.check(t, b)
				}
			})
		}
	}
}

// wrongType returns one selected record of its own group changed by mod.
func wrongType(mod func(r, p map[string]any)) func() [][]byte {
	return func() [][]byte { return [][]byte{bodyOf(rec("typed@contoso.example", "typed", mod))} }
}

func timeIs(v string) func() [][]byte {
	return wrongType(func(r, _ map[string]any) { r["time"] = v })
}

func TestHostileBatches(t *testing.T) {
	t.Run("empty batch", func(t *testing.T) {
		for _, env := range []string{`{"Data":{"events":"[]"},"Metadata":{}}`, `{"Data":{"events":[]}}`} {
			b := newBed(t, memstore.New())
			code, _ := testenv.Invoke(t, b.h, handler.FunctionSignIns, []byte(env))
			require.Equal(t, http.StatusOK, code)
			s := lastSummary(t, b)
			require.Equal(t, 0, s.Records)
			require.Empty(t, s.Skipped)
		}
	})
	t.Run("elements null, numbers, empty strings", func(t *testing.T) {
		b := newBed(t, memstore.New())
		inner, err := json.Marshal([]any{nil, 1, "", "  ", string(victimBody())})
		require.NoError(t, err)
		env, err := json.Marshal(map[string]any{"Data": map[string]any{"events": string(inner)}})
		require.NoError(t, err)
		code, resp := testenv.Invoke(t, b.h, handler.FunctionSignIns, env)
		require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
		require.Equal(t, map[string]int{"not_json": 2}, lastSummary(t, b).Skipped, "empty bodies hold no record")
		alertRow(t, b, victimID())
	})
	t.Run("metadata of the wrong types is ignored", func(t *testing.T) {
		b := newBed(t, memstore.New())
		env := fmt.Sprintf(`{"Data":{"events":[%s]},"Metadata":{"PartitionContext":[1],"SequenceNumberArray":"x","EnqueuedTimeUtcArray":{"a":1},"RetryContext":"[[[["}}`, victimBody())
		code, resp := testenv.Invoke(t, b.h, handler.FunctionSignIns, []byte(env))
		require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
		alertRow(t, b, victimID())
	})
	t.Run("batch of 10,000 events, bounded memory", func(t *testing.T) {
		b := newBed(t, memstore.New())
		bodies := make([][]byte, 0, 10001)
		for i := 0; i < 10000; i++ {
			s := fixture.SignIn{UPN: fmt.Sprintf("u%d@contoso.example", i%1000), Session: fmt.Sprintf("s%d", i%1000),
				IP: fmt.Sprintf("198.51.%d.%d", i/250, i%250), ID: fmt.Sprintf("e%d", i), Time: hostileAt}
			if i >= 2000 {
				s.AppID = "1fec8e78-bce4-4aaf-ab1b-5451cc387264" // noise: another app
			}
			bodies = append(bodies, fixture.Body(s))
		}
		bodies = append(bodies, victimBody())
		env := fixture.Invocation(bodies)
		before, alloc := heapAfterGC(), totalAlloc()
		code, resp := testenv.Invoke(t, b.h, handler.FunctionSignIns, env)
		allocated := totalAlloc() - alloc
		retained := int64(heapAfterGC()) - int64(before)
		require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
		s := lastSummary(t, b)
		require.Equal(t, 10002, s.Records)
		require.Equal(t, map[string]int{"prefiltered": 8000}, s.Skipped)
		require.Equal(t, 1001, s.Alerts, "1,000 sessions with two addresses each, and the victim")
		alertRow(t, b, victimID())
		t.Logf("envelope %d MiB, allocated %d MiB, retained %d MiB", len(env)/mib, allocated/mib, retained/mib)
		require.Less(t, allocated, uint64(40*testenv.AllocSlack*len(env)), "allocation is linear in the batch")
		require.Less(t, retained, int64(len(env)), "what stays is the state of 1,001 groups, not the batch")
	})
}

func TestHostileEnvelopes(t *testing.T) {
	deepEnv := `{"Data":{"events":` + repeat("[", 10000) + repeat("]", 10000) + `}}`
	tests := []struct {
		name   string
		body   string
		reason string
		msg    string // the problem the dead-lettered line names
	}{
		{"not JSON", "this is not json", handler.ReasonMalformed, "malformed invocation"},
		{"truncated JSON", `{"Data":{"events":"[`, handler.ReasonMalformed, "malformed invocation"},
		{"empty body", "", handler.ReasonMalformed, "malformed invocation"},
		{"a JSON array", `[{"Data":{}}]`, handler.ReasonMalformed, "malformed invocation"},
		{"Data missing", `{"Metadata":{}}`, handler.ReasonNoData, "invocation without Data"},
		{"Data null", `{"Data":null}`, handler.ReasonNoData, "invocation without Data"},
		{"Data a string", `{"Data":"events"}`, handler.ReasonMalformed, "malformed invocation"},
		{"unknown binding name", `{"Data":{"messages":"[]","Events":"[]"}}`, handler.ReasonUnknownBinding, "unknown trigger binding"},
		{"events a number", `{"Data":{"events":42}}`, handler.ReasonMalformedBinding, "malformed events binding"},
		{"events null", `{"Data":{"events":null}}`, handler.ReasonMalformedBinding, "malformed events binding"},
		{"events string not JSON", `{"Data":{"events":"[not json"}}`, handler.ReasonMalformedBinding, "malformed events binding"},
		{"events string in five layers", `{"Data":{"events":"\"\\\"\\\\\\\"\\\\\\\\\\\\\\\"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"[]\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"\\\\\\\\\\\\\\\"\\\\\\\"\\\"\""}}`, handler.ReasonMalformedBinding, "malformed events binding"},
		{"invalid UTF-8 in the envelope", "{\"Data\":{\"ev\xffents\":\"[]\"}}", handler.ReasonUnknownBinding, "unknown trigger binding"},
		{"nesting 10,000 deep", deepEnv, handler.ReasonMalformed, "malformed invocation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBed(t, memstore.New())
			code, resp := testenv.Invoke(t, b.h, handler.FunctionSignIns, []byte(tc.body))
			require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
			require.NotEmpty(t, resp.Logs)
			lines := b.logs.Lines(t, "dead-lettered")
			require.Len(t, lines, 1, "log:\n%s", b.logs.String())
			require.Equal(t, tc.msg, lines[0]["problem"])
			require.Equal(t, "ERROR", lines[0]["level"])
			require.Equal(t, "dead_lettered", lines[0]["outcome"])
			require.Equal(t, tc.reason, lines[0]["reason"])
			require.Equal(t, float64(1), lines[0]["dead_lettered_total"])
			name, body := b.dead.Only(t)
			require.Equal(t, name, lines[0]["dead_letter"])
			require.Equal(t, tc.body, string(body), "the raw body")
			require.Empty(t, b.sink.rows)
		})
	}
}

const mib = 1 << 20

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
