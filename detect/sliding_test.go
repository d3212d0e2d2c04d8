package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// slidingRun feeds records one at a time, as separate batches, to the seed
// groups and the sliding session, as the pipeline does, and returns the
// alerts' ids by rule.
func slidingRun(t testing.TB, r Rule, recs []Record) (seed, sliding map[string]Alert) {
	t.Helper()
	groups := map[time.Time]*Group{}
	sess := &Session{}
	seed, sliding = map[string]Alert{}, map[string]Alert{}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	group := func(w time.Time, upn, sid string) *Group {
		if g := groups[w]; g != nil {
			return g
		}
		g := NewGroup(Key{Window: w, UPN: upn, SessionID: sid})
		groups[w] = g
		return g
	}
	for _, rec := range recs {
		key, skip := r.Select(rec)
		require.Equal(t, SkipNone, skip)
		g := group(key.Window, key.UPN, key.SessionID)
		g.Merge(rec, nil)
		if a, ok := r.Evaluate(g, now); ok {
			seed[a.AlertID] = a
		}
		sess.Key = SessionKey{UPN: key.UPN, SessionID: key.SessionID}
		sess.Add(rec)
		if r.ArmSliding(sess) {
			a, b := group(sess.AlertWindow, key.UPN, key.SessionID), group(sess.AlertWindow.Add(r.Window), key.UPN, key.SessionID)
			r.Supersede(sess, a, b)
			u := UnionGroups(a, b)
			if a, ok := r.EvaluateSliding(sess, u, now, nil); ok {
				sliding[a.AlertID] = a
			}
		}
	}
	return seed, sliding
}

// live returns the ids of the alerts whose latest revision is not
// superseded.
func live(seed, sliding map[string]Alert) []string {
	var out []string
	for _, m := range []map[string]Alert{seed, sliding} {
		for id, a := range m {
			if a.SupersededBy == "" {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestSlidingSupersededBySeed: the pair at 09:29:50 and 09:30:20 raises
// the sliding alert; a late third record at 09:31:00 completes the 09:30
// bucket into the seed's condition, and the seed alert is raised; the
// sliding alert's next revision names it in SupersededBy, so one alert is
// live. Whatever the order of the three, the live alert is the seed's.
func TestSlidingSupersededBySeed(t *testing.T) {
	r := DefaultRule()
	chrome := "Chrome 120.0.0"
	recs := []Record{
		ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", chrome),
		ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", ""),
		ev(t, "c", "2026-03-02T09:31:00Z", "192.0.2.1", chrome),
	}
	tests := []struct {
		name       string
		order      []int
		sliding    int  // sliding alerts raised
		superseded bool // the sliding alert's latest revision is superseded
	}{
		{name: "the late record arrives last", order: []int{0, 1, 2}, sliding: 1, superseded: true},
		{name: "the late record arrives between the pair", order: []int{0, 2, 1}},
		{name: "the late record arrives first", order: []int{2, 0, 1}},
		{name: "the later leg first, then the late record", order: []int{1, 0, 2}, sliding: 1, superseded: true},
		{name: "the later leg and the late record first", order: []int{1, 2, 0}},
		{name: "the late record, then the later leg", order: []int{2, 1, 0}},
	}
	var want []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []Record
			for _, k := range tc.order {
				in = append(in, recs[k])
			}
			seed, sliding := slidingRun(t, r, in)
			require.Len(t, seed, 1, "the 09:30 bucket alerts")
			require.Len(t, sliding, tc.sliding, "sliding alerts")
			var seedID string
			for id := range seed {
				seedID = id
			}
			for _, a := range sliding {
				require.Equal(t, tc.superseded, a.SupersededBy != "", "superseded")
				require.Equal(t, seedID, a.SupersededBy, "superseded by the seed alert")
				require.Equal(t, 2, a.Revision, "the superseding revision follows the first")
				require.Equal(t, "2026-03-02T09:00:00Z", a.WindowStart.Format(time.RFC3339))
			}
			for _, a := range seed {
				require.Empty(t, a.SupersededBy, "a seed alert is never superseded")
			}
			got := live(seed, sliding)
			require.Equal(t, []string{seedID}, got, "one live alert, the seed's")
			if want == nil {
				want = got
			}
			require.Equal(t, want, got, "the live alerts do not depend on the order")
		})
	}
	// The mark survives the session's state round trip.
	sess := &Session{Key: SessionKey{UPN: recs[0].UPN, SessionID: recs[0].SessionID}, AlertWindow: mustTime(t, "2026-03-02T09:00:00Z"), SupersededBy: "abc"}
	b, err := sess.MarshalBinary()
	require.NoError(t, err)
	var back Session
	require.NoError(t, back.UnmarshalBinary(b))
	require.Equal(t, "abc", back.SupersededBy)
	require.False(t, r.Supersede(&back, NewGroup(Key{}), nil), "once marked the mark stays")
}

func TestSlidingRule(t *testing.T) {
	r := DefaultRule()
	chrome := "Chrome 120.0.0"
	tests := []struct {
		name          string
		recs          func(t testing.TB) []Record
		seed, sliding int
	}{
		{name: "a pair across 09:30 gives exactly one alert", recs: func(t testing.TB) []Record {
			return []Record{ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", chrome), ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", "")}
		}, sliding: 1},
		{name: "a pair inside one bucket is the seed's alone", recs: func(t testing.TB) []Record {
			return []Record{ev(t, "a", "2026-03-02T09:31:00Z", "192.0.2.1", chrome), ev(t, "b", "2026-03-02T09:32:00Z", "198.51.100.7", "")}
		}, seed: 1},
		{name: "across the boundary but the later bucket meets the seed's condition", recs: func(t testing.TB) []Record {
			return []Record{
				ev(t, "c", "2026-03-02T09:31:00Z", "192.0.2.1", chrome), ev(t, "d", "2026-03-02T09:32:00Z", "198.51.100.7", ""),
				ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", chrome), ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", ""),
			}
		}, seed: 1},
		// The one order that gives two alerts (README, "Limits"): the
		// sliding alert is raised for the pair, and records that make the
		// later bucket meet the seed's condition arrive after it; the seed
		// alert is then raised too, as the ES|QL query would.
		{name: "residual: the later bucket meets the seed's condition only after the sliding alert", recs: func(t testing.TB) []Record {
			return []Record{
				ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", chrome), ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", ""),
				ev(t, "c", "2026-03-02T09:31:00Z", "192.0.2.1", chrome), ev(t, "d", "2026-03-02T09:32:00Z", "198.51.100.7", ""),
			}
		}, seed: 1, sliding: 1},
		{name: "a pair further apart than the window", recs: func(t testing.TB) []Record {
			return []Record{ev(t, "a", "2026-03-02T09:10:00Z", "192.0.2.1", chrome), ev(t, "b", "2026-03-02T09:40:00Z", "198.51.100.7", "")}
		}},
		{name: "across a boundary without a browser", recs: func(t testing.TB) []Record {
			return []Record{ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", "Rich Client 4.0"), ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", "")}
		}},
		{name: "across a boundary from one address", recs: func(t testing.TB) []Record {
			return []Record{ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", chrome), ev(t, "b", "2026-03-02T09:30:20Z", "192.0.2.1", "")}
		}},
		{name: "an attack over three buckets is one sliding alert", recs: func(t testing.TB) []Record {
			return []Record{
				ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", chrome), ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", ""),
				ev(t, "c", "2026-03-02T09:59:55Z", "198.51.100.7", ""), ev(t, "d", "2026-03-02T10:00:10Z", "192.0.2.1", chrome),
			}
		}, sliding: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seed, sliding := slidingRun(t, r, tc.recs(t))
			require.Len(t, seed, tc.seed, "seed alerts")
			require.Len(t, sliding, tc.sliding, "sliding alerts")
			for _, a := range sliding {
				require.Equal(t, SlidingRuleID, a.RuleID)
				require.Equal(t, SlidingRuleName, a.RuleName)
				require.Equal(t, "high", a.Severity)
				require.Equal(t, 73, a.RiskScore)
				require.Equal(t, "2026-03-02T09:00:00Z", a.WindowStart.Format(time.RFC3339))
				require.Equal(t, "2026-03-02T10:00:00Z", a.WindowEnd.Format(time.RFC3339))
				require.Equal(t, 2, a.SourceAddressCount)
				for id := range seed {
					require.NotEqual(t, id, a.AlertID)
				}
			}
		})
	}
}

// TestSlidingOrderIndependence: once every record is in, whether the
// session has a sliding span, and which, does not depend on the order
// records came in; nor does the sliding alert's id when the seed's
// condition is met in no bucket.
func TestSlidingOrderIndependence(t *testing.T) {
	r := DefaultRule()
	recs := []Record{
		ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", "Chrome 120"),
		ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", ""),
		ev(t, "c", "2026-03-02T09:45:00Z", "198.51.100.7", ""),
		ev(t, "d", "2026-03-02T09:10:00Z", "192.0.2.1", "Chrome 120"),
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var wantIDs []string
	for i := range 30 {
		order := rng.Perm(len(recs))
		var shuffled []Record
		for _, k := range order {
			shuffled = append(shuffled, recs[k])
		}
		seed, sliding := slidingRun(t, r, shuffled)
		require.Empty(t, seed)
		var ids []string
		for id := range sliding {
			ids = append(ids, id)
		}
		require.Len(t, ids, 1, "order %v", order)
		if i == 0 {
			wantIDs = ids
		}
		require.Equal(t, wantIDs, ids, "order %v", order)
	}
}

func TestSessionBoundsAndTrim(t *testing.T) {
	s := &Session{}
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range MaxSessionEvents + 10 {
		rec := Record{ID: time.Duration(i).String(), Timestamp: base.Add(time.Duration(i) * time.Second), SourceAddress: "192.0.2.1"}
		require.True(t, s.Add(rec))
	}
	require.True(t, s.Saturated)
	require.Len(t, s.Events, MaxSessionEvents)
	require.Equal(t, base.Add(10*time.Second).UnixMilli(), s.Events[0].T, "the oldest go")
	require.False(t, s.Add(Record{ID: time.Duration(MaxSessionEvents).String(), Timestamp: base}), "redelivery")
	n := s.Trim(base.Add(time.Duration(MaxSessionEvents) * time.Second))
	require.Equal(t, MaxSessionEvents-10, n)
	require.Len(t, s.Events, 10)
}

// TestUnionGroups: the union of two groups is the group of all their
// records, location sources and cut lists included.
func TestUnionGroups(t *testing.T) {
	r := DefaultRule()
	recs := []Record{
		ev(t, "a", "2026-03-02T09:29:50Z", "192.0.2.1", "Chrome 120"),
		ev(t, "b", "2026-03-02T09:30:20Z", "198.51.100.7", ""),
		ev(t, "c", "2026-03-02T09:31:20Z", "198.51.100.8", ""),
	}
	geo := &Geo{}
	all := NewGroup(Key{Window: mustTime(t, "2026-03-02T09:00:00Z"), UPN: recs[0].UPN, SessionID: recs[0].SessionID})
	parts := [2]*Group{NewGroup(all.Key), NewGroup(Key{Window: mustTime(t, "2026-03-02T09:30:00Z"), UPN: all.Key.UPN, SessionID: all.Key.SessionID})}
	for _, rec := range recs {
		all.Merge(rec, geo)
		k, _ := r.Select(rec)
		parts[min(1, int(k.Window.Sub(all.Key.Window)/r.Window))].Merge(rec, geo)
	}
	u := UnionGroups(parts[0], parts[1])
	require.Equal(t, figures(r.alert(all)), figures(r.alert(u)))
}

// TestFingerprintWithoutSupersededBy: an alert that is not superseded has
// the fingerprint it had before the SupersededBy column existed (the hash of
// its row without the member), so alerts stored then get no new revision,
// and fire no alert rule again, for the column; a superseded one differs.
func TestFingerprintWithoutSupersededBy(t *testing.T) {
	a := DefaultRule().alert(NewGroup(Key{Window: mustTime(t, "2026-03-02T09:00:00Z"), UPN: "u@x", SessionID: "s"}))
	b, err := a.MarshalJSON()
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(b, []byte(`,"SupersededBy":""}`)), "SupersededBy is the last column")
	before := sha256.Sum256(append(bytes.TrimSuffix(b, []byte(`,"SupersededBy":""}`)), '}'))
	require.Equal(t, hex.EncodeToString(before[:12]), a.fingerprint())
	s := a
	s.SupersededBy = "abc"
	require.NotEqual(t, a.fingerprint(), s.fingerprint())
}
