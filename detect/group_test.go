package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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

// orderScenario is a group with more distinct values than MaxValues, so the
// value lists' bound is exercised too.
func orderScenario(t testing.TB) []Record {
	t.Helper()
	var recs []Record
	for i := range 40 {
		rec := with(baseRecord(), "properties.id", fmt.Sprintf("ord-%02d", i))
		rec = with(rec, "time", fmt.Sprintf("2026-03-02T10:%02d:%02d.%03dZ", i/2, i%60, i*7))
		rec = with(rec, "properties.ipAddress", fmt.Sprintf("198.51.100.%d", i%5))
		rec = with(rec, "properties.userAgent", fmt.Sprintf("agent-%02d", i))
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
	require.Len(t, want.UserAgents, MaxValues)

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

func TestGroupMaxValues(t *testing.T) {
	g := NewGroup(Key{UPN: "u", SessionID: "s"})
	var all []string
	for i := 30; i > 0; i-- {
		v := fmt.Sprintf("v%02d", i)
		all = append(all, v)
		g.addValue(ColUserAgents, v)
	}
	slices.Sort(all)
	require.Equal(t, all[:MaxValues], g.Values[ColUserAgents], "kept values = the MaxValues smallest")
	require.False(t, g.addValue(ColUserAgents, "zzz"), "value above the kept range added")
	require.True(t, g.addValue(ColUserAgents, "a"), "value below the kept range not added")
	require.Len(t, g.Values[ColUserAgents], MaxValues)
	require.False(t, g.addValue(ColUserAgents, ""), "empty value added")
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
		g.Merge(rec, func(code string) string { return "Country " + code })
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

	for _, bad := range []string{``, `{}`, `{"v":2}`, `{"v":1,"e":"AAE="}`, `not json`} {
		var x Group
		require.Error(t, x.UnmarshalBinary([]byte(bad)), "UnmarshalBinary(%q) accepted", bad)
	}
}

// TestGroupWorstCaseSize fills every bound with the values whose JSON
// encoding is longest and checks the state still fits one Table entity
// (store.MaxStateBytes, 720 KiB).
func TestGroupWorstCaseSize(t *testing.T) {
	const maxStateBytes = 720 << 10
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
			n := MaxValueBytes / len(ch)
			for c := range numColumns {
				for i := range MaxValues {
					v := fmt.Sprintf("%02d", i) + strings.Repeat(ch, n)
					g.addValue(c, v)
				}
				require.Len(t, g.Values[c], MaxValues)
			}
			g.Saturated, g.Revision, g.Emitted, g.BrowserMax = true, 1<<30, strings.Repeat("f", 24), 1
			g.FirstSeen, g.LastSeen = now, now
			b, err := g.MarshalBinary()
			require.NoError(t, err)
			t.Logf("worst-case state with %q: %d bytes (limit %d)", ch, len(b), maxStateBytes)
			require.LessOrEqual(t, len(b), maxStateBytes, "MarshalBinary(worst case %q) = %d bytes, want <= %d", ch, len(b), maxStateBytes)
		})
	}
}
