package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/store"
)

var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// scenario is one entry of testdata/scenarios.json: raw records in arrival
// order and the alerts they must produce (none for a benign look-alike).
type scenario struct {
	Name    string            `json:"name"`
	Note    string            `json:"note"`
	Records []json.RawMessage `json:"records"`
	Alerts  []wantAlert       `json:"alerts"`
}

// wantAlert holds the alert figures a scenario checks; empty lists are not
// checked.
type wantAlert struct {
	WindowStart        string   `json:"windowStart"`
	UserPrincipalName  string   `json:"userPrincipalName"`
	SessionID          string   `json:"sessionId"`
	EventCount         int      `json:"eventCount"`
	SourceAddressCount int      `json:"sourceAddressCount"`
	IsBrowserMax       int      `json:"isBrowserMax"`
	FirstSeen          string   `json:"firstSeen"`
	LastSeen           string   `json:"lastSeen"`
	SourceAddresses    []string `json:"sourceAddresses"`
	Browsers           []string `json:"browsers"`
	SourceCities       []string `json:"sourceCities"`
}

func loadScenarios(t testing.TB) []scenario {
	t.Helper()
	data, err := os.ReadFile("testdata/scenarios.json")
	require.NoError(t, err)
	var out []scenario
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

// runRecords decodes, selects and merges raw records in order and returns
// the alert of every alerting group, sorted by AlertID.
func runRecords(t testing.TB, r Rule, raws []json.RawMessage) []Alert {
	t.Helper()
	groups := map[Key]*Group{}
	for _, raw := range raws {
		rec, skip := DecodeRecord(raw)
		if skip != SkipNone {
			continue
		}
		k, skip := r.Select(rec)
		if skip != SkipNone {
			continue
		}
		g := groups[k]
		if g == nil {
			g = NewGroup(k)
			groups[k] = g
		}
		g.Merge(rec, nil)
	}
	var out []Alert
	for _, g := range groups {
		if a, ok := r.Evaluate(g, now); ok {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Alert) int { return strings.Compare(a.AlertID, b.AlertID) })
	return out
}

func TestScenarios(t *testing.T) {
	for _, sc := range loadScenarios(t) {
		t.Run(sc.Name, func(t *testing.T) {
			got := runRecords(t, DefaultRule(), sc.Records)
			require.Len(t, got, len(sc.Alerts), "%s: alerts = %d, want %d", sc.Note, len(got), len(sc.Alerts))
			for i, w := range sc.Alerts {
				a := got[i]
				ts := func(tm time.Time) string { return tm.UTC().Format(timeLayout) }
				require.Equal(t, w.WindowStart, ts(a.WindowStart.Time), "WindowStart")
				require.Equal(t, w.UserPrincipalName, a.UserPrincipalName, "UserPrincipalName")
				require.Equal(t, w.SessionID, a.SessionID, "SessionID")
				require.Equal(t, w.EventCount, a.EventCount, "EventCount")
				require.Equal(t, w.SourceAddressCount, a.SourceAddressCount, "SourceAddressCount")
				require.Equal(t, w.IsBrowserMax, a.IsBrowserMax, "IsBrowserMax")
				require.Equal(t, w.FirstSeen, ts(a.FirstSeen.Time), "FirstSeen")
				require.Equal(t, w.LastSeen, ts(a.LastSeen.Time), "LastSeen")
				require.Equal(t, 1, a.SessionIDCount, "SessionIDCount")
				require.Equal(t, 1, a.Revision, "Revision")
				if w.SourceAddresses != nil {
					require.ElementsMatch(t, w.SourceAddresses, a.SourceAddresses, "SourceAddresses")
				}
				if w.Browsers != nil {
					require.ElementsMatch(t, w.Browsers, a.Browsers, "Browsers")
				}
				if w.SourceCities != nil {
					require.ElementsMatch(t, w.SourceCities, a.SourceCities, "SourceCities")
				}
			}
		})
	}
}

func TestThresholds(t *testing.T) {
	const at = "2026-03-02T10:05:00Z"
	tests := []struct {
		name   string
		events [][2]string // address, browser
		want   bool
	}{
		{name: "one event", events: [][2]string{{"198.51.100.1", "Chrome 120"}}, want: false},
		{name: "two events one address", events: [][2]string{{"198.51.100.1", "Chrome 120"}, {"198.51.100.1", "Chrome 120"}}, want: false},
		{name: "two events two addresses", events: [][2]string{{"198.51.100.1", "Chrome 120"}, {"198.51.100.2", "Rich Client 4"}}, want: true},
		{name: "two addresses no browser", events: [][2]string{{"198.51.100.1", "Rich Client 4"}, {"198.51.100.2", ""}}, want: false},
		{name: "browser only on second", events: [][2]string{{"198.51.100.1", ""}, {"198.51.100.2", "edge"}}, want: true},
		{name: "address strings not normalised", events: [][2]string{{"2001:db8::1", "Safari"}, {"2001:DB8::1", "Safari"}}, want: true},
	}
	r := DefaultRule()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g *Group
			for i, e := range tc.events {
				rec := ev(t, fmt.Sprint("id-", i), at, e[0], e[1])
				k, skip := r.Select(rec)
				require.Equal(t, SkipNone, skip)
				if g == nil {
					g = NewGroup(k)
				}
				require.True(t, g.Merge(rec, nil), "Merge(event %d) = false, want new", i)
			}
			_, got := r.Evaluate(g, now)
			require.Equal(t, tc.want, got, "Evaluate = %v, want %v (events %d, addresses %d, browser %d)", got, tc.want, g.EventCount(), g.AddressCount(), g.BrowserMax)
		})
	}
}

func TestNullSessionNeverAlerts(t *testing.T) {
	r := DefaultRule()
	g := NewGroup(Key{Window: r.WindowStart(now), UPN: "alex@contoso.example"})
	for i, addr := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		rec := ev(t, fmt.Sprint("n", i), "2026-03-02T12:01:00Z", addr, "Chrome 120")
		rec.SessionID = ""
		g.Merge(rec, nil)
	}
	require.False(t, r.Alerting(g), "group with null session alerts")
	_, ok := r.Evaluate(g, now)
	require.False(t, ok)
}

func TestMergeRedelivery(t *testing.T) {
	r := DefaultRule()
	a := ev(t, "same", "2026-03-02T10:05:00Z", "198.51.100.1", "Chrome 120")
	k, _ := r.Select(a)
	g := NewGroup(k)
	require.True(t, g.Merge(a, nil))
	require.False(t, g.Merge(a, nil), "Merge(redelivered) = true, want false")
	// Same id, other content: still the same event (the id decides).
	b := a
	b.SourceAddress = "198.51.100.2"
	require.False(t, g.Merge(b, nil), "Merge(same id, other address) = true, want false")
	require.Equal(t, 1, g.EventCount())
	require.Equal(t, 1, g.AddressCount())
}

func TestEvaluateRevisions(t *testing.T) {
	r := DefaultRule()
	rec := func(id, addr string) Record { return ev(t, id, "2026-03-02T10:05:00Z", addr, "Chrome 120") }
	k, _ := r.Select(rec("a", "198.51.100.1"))
	g := NewGroup(k)
	g.Merge(rec("a", "198.51.100.1"), nil)
	_, ok := r.Evaluate(g, now)
	require.False(t, ok, "one event alerted")
	require.Equal(t, 0, g.Revision)

	g.Merge(rec("b", "198.51.100.2"), nil)
	a1, ok := r.Evaluate(g, now)
	require.True(t, ok)
	require.Equal(t, 1, a1.Revision)
	require.Equal(t, now, a1.TimeGenerated.Time)

	_, ok = r.Evaluate(g, now.Add(time.Minute))
	require.False(t, ok, "unchanged figures gave a new revision")

	g.Merge(rec("b", "198.51.100.2"), nil) // redelivery
	_, ok = r.Evaluate(g, now.Add(2*time.Minute))
	require.False(t, ok, "redelivery gave a new revision")

	g.Merge(rec("c", "198.51.100.3"), nil)
	a2, ok := r.Evaluate(g, now.Add(3*time.Minute))
	require.True(t, ok, "new address gave no revision")
	require.Equal(t, 2, a2.Revision)
	require.Equal(t, 3, a2.SourceAddressCount)
	require.Equal(t, a1.AlertID, a2.AlertID, "AlertID changed between revisions")

	// The revision survives a state round trip.
	b, err := g.MarshalBinary()
	require.NoError(t, err)
	var back Group
	require.NoError(t, back.UnmarshalBinary(b))
	_, ok = r.Evaluate(&back, now.Add(4*time.Minute))
	require.False(t, ok, "round-tripped group re-emitted unchanged figures")
}

// orderScenario is a group whose user agents pass their column's byte
// budget, so the value lists' bound is exercised too.
func orderScenario(t testing.TB) []Record {
	t.Helper()
	var recs []Record
	for i := range 40 {
		rec := with(baseRecord(), "properties.id", fmt.Sprintf("ord-%02d", i))
		rec = with(rec, "time", fmt.Sprintf("2026-03-02T10:%02d:%02d.%03dZ", i/2, i%60, i*7))
		rec = with(rec, "properties.ipAddress", fmt.Sprintf("198.51.100.%d", i%5))
		rec = with(rec, "properties.userAgent", fmt.Sprintf("agent-%02d %s", i, strings.Repeat("x", 300)))
		browser := "Rich Client 4"
		if i == 17 {
			browser = "Firefox 121"
		}
		rec = with(rec, "properties.deviceDetail.browser", browser)
		recs = append(recs, decode(t, rec))
	}
	// Redeliveries.
	recs = append(recs, recs[3], recs[17], recs[39])
	return recs
}

func TestOrderAndBatchIndependence(t *testing.T) {
	r := DefaultRule()
	recs := orderScenario(t)
	k, skip := r.Select(recs[0])
	require.Equal(t, SkipNone, skip)

	base := NewGroup(k)
	for _, rec := range recs {
		base.Merge(rec, nil)
	}
	want, ok := r.Evaluate(base, now)
	require.True(t, ok)
	require.Equal(t, 40, want.EventCount)
	require.Equal(t, 5, want.SourceAddressCount)
	require.Less(t, len(want.UserAgents), 40, "user agents fit their budget")
	require.Greater(t, len(want.UserAgents), 16)
	require.Equal(t, []string{"UserAgents"}, want.TruncatedColumns)

	rng := rand.New(rand.NewPCG(20260302, 1))
	for run := range 200 {
		perm := slices.Clone(recs)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		// Random batch split; between batches the state is persisted and
		// reloaded, and the group is evaluated as the pipeline does.
		var state []byte
		var last Alert
		for i := 0; i < len(perm); {
			n := 1 + rng.IntN(8)
			end := min(i+n, len(perm))
			g := NewGroup(k)
			if state != nil {
				require.NoError(t, g.UnmarshalBinary(state))
			}
			for _, rec := range perm[i:end] {
				g.Merge(rec, nil)
			}
			if a, ok := r.Evaluate(g, now); ok {
				last = a
			}
			var err error
			state, err = g.MarshalBinary()
			require.NoError(t, err)
			i = end
		}
		require.Equal(t, figures(want), figures(last), "run %d: final alert figures differ from in-order merge", run)
	}
}

// listJSON is the JSON array of a list as the alert row encodes it.
func listJSON(t testing.TB, vs []string) []byte {
	t.Helper()
	if vs == nil {
		vs = []string{}
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(vs))
	return []byte(strings.TrimSuffix(buf.String(), "\n"))
}

func TestGroupValueBudget(t *testing.T) {
	long := func(i int) string { return fmt.Sprintf("v%04d-%s", i, strings.Repeat("y", 200)) }
	tests := []struct {
		name    string
		col     Column
		values  []string
		wantAll bool // every value kept, column not cut
	}{
		{name: "40 addresses all kept", col: ColSourceAddresses, values: seq(40, func(i int) string { return fmt.Sprintf("2001:db8:%x::%x", i, i*7) }), wantAll: true},
		{name: "40 token ids all kept", col: ColUniqueTokenIdentifiers, values: seq(40, func(i int) string { return fmt.Sprintf("tok%022d", i) }), wantAll: true},
		{name: "1,000 IPv4 addresses all kept", col: ColSourceAddresses, values: seq(1000, func(i int) string { return fmt.Sprintf("198.51.%d.%d", i/256, i%256) }), wantAll: true},
		{name: "user agents past the budget", col: ColUserAgents, values: seq(60, long)},
		{name: "addresses past the budget", col: ColSourceAddresses, values: seq(5000, func(i int) string { return fmt.Sprintf("2001:db8:%04x::%04x", i, i) })},
		{name: "quotes count twice", col: ColBrowsers, values: seq(300, func(i int) string { return fmt.Sprintf("%03d%s", i, strings.Repeat(`"`, 20)) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sorted := slices.Clone(tc.values)
			slices.Sort(sorted)
			rng := rand.New(rand.NewPCG(7, uint64(len(tc.values))))
			var first []string
			for run := range 5 {
				g := NewGroup(Key{UPN: "u", SessionID: "s"})
				perm := slices.Clone(tc.values)
				rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
				for _, v := range perm {
					g.addValue(tc.col, v)
				}
				got := g.Values[tc.col]
				b := listJSON(t, got)
				require.LessOrEqual(t, len(b), ListBudget(tc.col), "list JSON %d bytes, budget %d", len(b), ListBudget(tc.col))
				require.Equal(t, len(b), g.listBytes(tc.col), "tracked size = encoded size")
				require.Equal(t, sorted[:len(got)], got, "kept values = the smallest ones")
				if tc.wantAll {
					require.Len(t, got, len(tc.values))
					require.False(t, g.Cut.Has(tc.col))
					require.Empty(t, g.Over[tc.col])
				} else {
					require.Less(t, len(got), len(tc.values))
					require.True(t, g.Cut.Has(tc.col), "cut column not flagged")
					require.Equal(t, sorted[len(got)], g.Over[tc.col], "Over = smallest value left out")
					next := listJSON(t, sorted[:len(got)+1])
					require.Greater(t, len(next), ListBudget(tc.col), "one more value would still have fitted")
				}
				if run == 0 {
					first = slices.Clone(got)
				}
				require.Equal(t, first, got, "run %d: arrival order changed the kept values", run)
			}
		})
	}
}

func seq(n int, f func(int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestGroupValueBoundAfterCut(t *testing.T) {
	g := NewGroup(Key{UPN: "u", SessionID: "s"})
	big := strings.Repeat(`"`, 1000) // 2,004 bytes in the list: two fit ListBytes, three do not
	require.True(t, g.addValue(ColBrowsers, "b"+big))
	require.True(t, g.addValue(ColBrowsers, "c"+big))
	require.False(t, g.addValue(ColBrowsers, "d"+big), "value past the budget kept")
	require.Equal(t, "d"+big, g.Over[ColBrowsers])
	// A small value above the bound stays out, as it would have had it
	// arrived before the large one.
	require.False(t, g.addValue(ColBrowsers, "e"), "value above Over added")
	// A value below it goes in and pushes out what no longer fits.
	require.True(t, g.addValue(ColBrowsers, "a"+big))
	require.Equal(t, []string{"a" + big, "b" + big}, g.Values[ColBrowsers])
	require.Equal(t, "c"+big, g.Over[ColBrowsers])
	require.False(t, g.addValue(ColBrowsers, ""), "empty value added")
	require.True(t, g.Cut.Has(ColBrowsers))
	require.False(t, g.Cut.Has(ColUserAgents))

	// A value over MaxValueBytes is shortened and flags its column.
	require.True(t, g.addValue(ColUserAgents, strings.Repeat("z", MaxValueBytes+1)))
	require.True(t, g.Cut.Has(ColUserAgents))
	require.Len(t, g.Values[ColUserAgents][0], MaxValueBytes)
}

func TestJSONLen(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "\u2028\u2029x", "Zürich – Straße", "<&>", strings.Repeat("\uFFFD", 9)} {
		require.Equal(t, len(listJSON(t, []string{s}))-2, jsonLen(s), "jsonLen(%q)", s)
	}
}

func TestFortyAddressesAndTokens(t *testing.T) {
	r := DefaultRule()
	var g *Group
	var addrs, toks []string
	for i := range 40 {
		rec := ev(t, fmt.Sprint("burst-", i), "2026-03-02T10:05:00Z", fmt.Sprintf("203.0.113.%d", i+1), "Chrome 120")
		rec.UniqueTokenIdentifier = fmt.Sprintf("tok-%02d-QmFzZTY0VG9rZW4", i)
		addrs, toks = append(addrs, rec.SourceAddress), append(toks, rec.UniqueTokenIdentifier)
		if g == nil {
			k, _ := r.Select(rec)
			g = NewGroup(k)
		}
		require.True(t, g.Merge(rec, nil))
	}
	a, ok := r.Evaluate(g, now)
	require.True(t, ok)
	require.ElementsMatch(t, addrs, a.SourceAddresses)
	require.ElementsMatch(t, toks, a.UniqueTokenIdentifiers)
	require.Equal(t, 40, a.SourceAddressCount)
	require.Equal(t, 40, a.EventCount)
	require.Empty(t, a.TruncatedColumns)
	require.NotNil(t, a.TruncatedColumns, "encodes as []")
}

func TestClean(t *testing.T) {
	long := strings.Repeat("a", MaxValueBytes+10)
	euro := strings.Repeat("€", MaxValueBytes) // 3 bytes each
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain kept", in: "Chrome 120", want: "Chrome 120"},
		{name: "unicode kept", in: "Zürich – Straße", want: "Zürich – Straße"},
		{name: "control chars replaced", in: "a\x00b\nc\x7fd", want: "a\uFFFDb\uFFFDc\uFFFDd"},
		{name: "C1 control replaced", in: "a\u0085b", want: "a\uFFFDb"},
		{name: "invalid UTF-8 replaced", in: "a\xffb\xc3", want: "a\uFFFDb\uFFFD"},
		{name: "cut to max bytes", in: long, want: long[:MaxValueBytes]},
		{name: "cut on rune boundary", in: euro, want: strings.Repeat("€", MaxValueBytes/3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := clean(tc.in, MaxValueBytes)
			require.Equal(t, tc.want, got, "clean(%.30q) = %.30q, want %.30q", tc.in, got, tc.want)
			require.LessOrEqual(t, len(got), MaxValueBytes)
		})
	}
}

func TestGroupSaturation(t *testing.T) {
	r := DefaultRule()
	k := Key{Window: r.WindowStart(now), UPN: "u@x", SessionID: "s"}
	g := NewGroup(k)
	rec := ev(t, "x", "2026-03-02T12:01:00Z", "198.51.100.1", "Chrome 120")
	for i := range MaxEvents + 5 {
		rec.ID = fmt.Sprint("e", i)
		rec.SourceAddress = fmt.Sprint("a", i)
		g.Merge(rec, nil)
	}
	require.Equal(t, MaxEvents, g.EventCount(), "EventCount saturates at MaxEvents")
	require.Equal(t, MaxAddresses, g.AddressCount(), "AddressCount saturates at MaxAddresses")
	require.True(t, g.Saturated)
	require.True(t, slices.IsSorted(g.Events))
	a := r.alert(g)
	require.Len(t, a.TruncatedColumns, int(numColumns), "records left out whole: every list may be incomplete")

	b, err := g.MarshalBinary()
	require.NoError(t, err)
	var back Group
	require.NoError(t, back.UnmarshalBinary(b))
	require.Equal(t, g.Events, back.Events)
	require.Equal(t, g.Addresses, back.Addresses)
	require.True(t, back.Saturated)
}

func TestGroupStateRoundTrip(t *testing.T) {
	r := DefaultRule()
	recs := orderScenario(t)
	k, _ := r.Select(recs[0])
	g := NewGroup(k)
	for _, rec := range recs {
		g.Merge(rec, &Geo{CountryName: func(code string) string { return "Country " + code }})
	}
	_, ok := r.Evaluate(g, now)
	require.True(t, ok)
	b, err := g.MarshalBinary()
	require.NoError(t, err)
	var back Group
	require.NoError(t, back.UnmarshalBinary(b))
	require.True(t, g.Key.Window.Equal(back.Key.Window))
	back.Key.Window = g.Key.Window
	require.Equal(t, *g, back, "UnmarshalBinary(MarshalBinary(g)) differs from g")

	for _, bad := range []string{``, `{}`, `{"v":3}`, `{"v":1,"e":"AAE="}`, `not json`,
		`{"v":2,"x":{"Nope":["a"]}}`, `{"v":2,"x":{"Browsers":["b","a"]}}`, `{"v":2,"x":{"Browsers":["a","a"]}}`,
		`{"v":2,"x":{"Browsers":[""]}}`, `{"v":2,"x":{"Browsers":["\b"]}}`, `{"v":2,"x":{"Browsers":["b"]},"c":{"Browsers":"a"}}`, `{"v":2,"t":["Nope"]}`} {
		var x Group
		require.Error(t, x.UnmarshalBinary([]byte(bad)), "UnmarshalBinary(%q) accepted", bad)
	}
}

// TestGroupWorstCaseSize fills every bound with the values whose JSON
// encoding is longest and checks the state still fits one Table entity
// (store.MaxStateBytes) and the alert one outbox row (store.MaxRowBytes),
// with every list under the Logs Ingestion API's 64 KB field limit.
func TestGroupWorstCaseSize(t *testing.T) {
	const fieldLimit = 64 << 10 // azure-monitor-limits-custom-logs.md: "Maximum size for field values 64 KB"
	worst := []string{"<", ">", "&", "\u2028", "\"", "\\", "\uFFFD"}
	for _, ch := range worst {
		t.Run(fmt.Sprintf("%U", []rune(ch)[0]), func(t *testing.T) {
			g := NewGroup(Key{Window: now, UPN: strings.Repeat(ch, MaxKeyBytes/len(ch)), SessionID: strings.Repeat(ch, MaxKeyBytes/len(ch))})
			for i := range MaxEvents {
				insertSorted(&g.Events, hash64(fmt.Sprint("e", i)), MaxEvents)
			}
			for i := range MaxAddresses {
				insertSorted(&g.Addresses, hash64(fmt.Sprint("a", i)), MaxAddresses)
			}
			for c := range numColumns {
				for i := 0; g.Over[c] == ""; i++ {
					// Short and long values, so both the per-value overhead
					// and the long escapes are at their worst somewhere.
					n := (MaxValueBytes - 4) / len(ch)
					if c%2 == 0 {
						n = 1
					}
					g.addValue(c, fmt.Sprintf("%04d", i)+strings.Repeat(ch, n))
				}
				g.Over[c] = strings.Repeat(ch, MaxValueBytes/len(ch)) // the longest bound
				require.True(t, g.Cut.Has(c))
			}
			g.Saturated, g.Revision, g.Emitted, g.BrowserMax = true, 1<<30, strings.Repeat("f", 24), 1
			g.GeoSources = geoIP | geoEntra
			g.FirstSeen, g.LastSeen = now, now
			b, err := g.MarshalBinary()
			require.NoError(t, err)
			t.Logf("worst-case state with %q: %d bytes (limit %d)", ch, len(b), store.MaxStateBytes)
			require.LessOrEqual(t, len(b), store.MaxStateBytes, "MarshalBinary(worst case %q) = %d bytes, want <= %d", ch, len(b), store.MaxStateBytes)

			a := DefaultRule().alert(g)
			a.ApplyChain(worstChainView(t, ch))
			row, err := a.MarshalJSON()
			require.NoError(t, err)
			t.Logf("worst-case alert row with %q: %d bytes (limit %d)", ch, len(row), store.MaxRowBytes)
			require.LessOrEqual(t, len(row), store.MaxRowBytes)
			var cols map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(row, &cols))
			for name, v := range cols {
				require.LessOrEqual(t, len(v), fieldLimit, "column %s: %d bytes", name, len(v))
			}
			for c := range numColumns {
				require.LessOrEqual(t, len(cols[columnNames[c]]), ListBudget(c), "column %s", columnNames[c])
			}
			require.LessOrEqual(t, len(cols["RegisteredDevices"]), ChainListBytes)
			require.LessOrEqual(t, len(cols["PrtSignIns"]), ChainListBytes)
			require.Len(t, a.TruncatedColumns, int(numColumns)+2)
		})
	}
}

// TestGroupStateV1Loads reads a group stored by the previous state encoding
// (testdata/group-state-v1.json, written by MarshalBinary at commit 285265a
// with the alert it then produced in group-state-v1.alert.json) and checks
// that it loads with the same figures, counts its 16-value lists as cut, and
// carries on from there.
func TestGroupStateV1Loads(t *testing.T) {
	state, err := os.ReadFile("testdata/group-state-v1.json")
	require.NoError(t, err)
	oldRow, err := os.ReadFile("testdata/group-state-v1.alert.json")
	require.NoError(t, err)
	var g Group
	require.NoError(t, g.UnmarshalBinary(bytes.TrimSpace(state)))
	require.Equal(t, 2, g.Revision)
	require.Equal(t, 40, g.EventCount())
	require.Equal(t, 20, g.AddressCount())

	r := DefaultRule()
	a := r.alert(&g)
	a.Revision, a.TimeGenerated = g.Revision, Time{now}
	newRow, err := a.MarshalJSON()
	require.NoError(t, err)
	var want, got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(oldRow, &want))
	require.NoError(t, json.Unmarshal(newRow, &got))
	for name, v := range want {
		require.JSONEq(t, string(v), string(got[name]), "column %s differs from what the old code emitted", name)
	}
	require.Equal(t, []string{"UniqueTokenIdentifiers", "SourceAddresses"}, a.TruncatedColumns, "16-value lists of version 1 may have been cut")
	require.Equal(t, GeoSourceEntra, a.GeoSource)
	require.Equal(t, a.SourceCities, a.EntraCities, "version 1 locations were Entra's")
	require.Equal(t, a.SourceRegions, a.EntraRegions)
	require.Equal(t, a.SourceCountries, a.EntraCountries)

	// It carries on: a token above the old bound stays out (as version 1
	// would have kept it out), one below goes in, a new address counts.
	rec := ev(t, "v1-new", "2026-03-02T10:20:00Z", "198.51.100.200", "Chrome 120")
	rec.UniqueTokenIdentifier = "tok-16"
	require.True(t, g.Merge(rec, nil))
	rec = ev(t, "v1-new2", "2026-03-02T10:21:00Z", "198.51.100.201", "Chrome 120")
	rec.UniqueTokenIdentifier = "tok-00a"
	require.True(t, g.Merge(rec, nil))
	require.NotContains(t, g.Values[ColUniqueTokenIdentifiers], "tok-16")
	require.Contains(t, g.Values[ColUniqueTokenIdentifiers], "tok-00a")
	require.Equal(t, 22, g.AddressCount())
	a2, ok := r.Evaluate(&g, now)
	require.True(t, ok)
	require.Equal(t, 3, a2.Revision)

	// And it is written back in the current encoding.
	b, err := g.MarshalBinary()
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte(`{"v":2,`)), "state %.20s", b)
	var back Group
	require.NoError(t, back.UnmarshalBinary(b))
	require.Equal(t, g, back)
}

// fakeGeo answers lookups from a table and counts them.
type fakeGeo struct {
	city    map[string][3]string
	org     map[string]string
	lookups int
}

func (f *fakeGeo) geo(withCity, withASN bool) *Geo {
	g := &Geo{CountryName: func(code string) string { return "Country " + code }}
	if withCity {
		g.City = func(addr string) (string, string, string) {
			f.lookups++
			v := f.city[addr]
			return v[0], v[1], v[2]
		}
	}
	if withASN {
		g.ASOrganization = func(addr string) string { return f.org[addr] }
	}
	return g
}

func TestMergeGeo(t *testing.T) {
	f := &fakeGeo{
		city: map[string][3]string{"203.0.113.1": {"Madrid", "Madrid", "Spain"}, "198.51.100.2": {"", "", "Netherlands"}},
		org:  map[string]string{"203.0.113.1": "Documentation ASN"},
	}
	// Entra's location on every record: London, England, GB.
	tests := []struct {
		name                      string
		geo                       *Geo
		cities, regions, countrys []string
		orgs                      []string
		source                    string
	}{
		{name: "no geo: Entra's codes", geo: nil, cities: []string{"London"}, regions: []string{"England"}, countrys: []string{"GB"}, source: GeoSourceEntra},
		{name: "Entra's names", geo: f.geo(false, false), cities: []string{"London"}, regions: []string{"England"}, countrys: []string{"Country GB"}, source: GeoSourceEntra},
		{name: "city database", geo: f.geo(true, false), cities: []string{"Madrid"}, regions: []string{"Madrid"}, countrys: []string{"Netherlands", "Spain"}, source: GeoSourceGeoIP},
		{name: "both databases", geo: f.geo(true, true), cities: []string{"Madrid"}, regions: []string{"Madrid"}, countrys: []string{"Netherlands", "Spain"}, orgs: []string{"Documentation ASN"}, source: GeoSourceGeoIP},
		{name: "ASN database only", geo: f.geo(false, true), cities: []string{"London"}, regions: []string{"England"}, countrys: []string{"Country GB"}, orgs: []string{"Documentation ASN"}, source: GeoSourceEntra},
	}
	r := DefaultRule()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.lookups = 0
			var g *Group
			for i, addr := range []string{"203.0.113.1", "198.51.100.2", "203.0.113.1", "192.0.2.9"} {
				rec := ev(t, fmt.Sprint("geo-", i), "2026-03-02T10:05:00Z", addr, "Chrome 120")
				if g == nil {
					k, _ := r.Select(rec)
					g = NewGroup(k)
				}
				require.True(t, g.Merge(rec, tc.geo))
			}
			a, ok := r.Evaluate(g, now)
			require.True(t, ok)
			orgs := tc.orgs
			if orgs == nil {
				orgs = []string{}
			}
			require.Equal(t, tc.cities, a.SourceCities)
			require.Equal(t, tc.regions, a.SourceRegions)
			require.Equal(t, tc.countrys, a.SourceCountries)
			require.Equal(t, orgs, a.SourceAsOrganizations)
			require.Equal(t, tc.source, a.GeoSource)
			require.Equal(t, []string{"London"}, a.EntraCities, "Entra's own location either way")
			require.Equal(t, []string{"England"}, a.EntraRegions)
			if tc.geo != nil && tc.geo.City != nil {
				require.Equal(t, 3, f.lookups, "one lookup per distinct address")
			}
		})
	}
	t.Run("mixed sources say entra", func(t *testing.T) {
		rec := ev(t, "mixed-1", "2026-03-02T10:05:00Z", "203.0.113.1", "Chrome 120")
		k, _ := r.Select(rec)
		g := NewGroup(k)
		g.Merge(rec, f.geo(true, true))
		require.Equal(t, GeoSourceGeoIP, g.GeoSource())
		rec = ev(t, "mixed-2", "2026-03-02T10:06:00Z", "198.51.100.2", "Chrome 120")
		g.Merge(rec, nil)
		require.Equal(t, GeoSourceEntra, g.GeoSource())
	})
}
