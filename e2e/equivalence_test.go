package e2e

import (
	"context"
	"encoding/json"
	"math/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/gen"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
)

// TestHostDeliveryEqualsReplay: generated traffic posted to /SignInLogs by 4
// parallel workers, every batch twice and out of order, gives exactly the
// alerts `drswatch replay` gives for the same records (replay's pipeline:
// in order, memory store, batches of 100).
func TestHostDeliveryEqualsReplay(t *testing.T) {
	g := gen.New(gen.Config{Seed: 11, Bodies: 400, RecordsPerBody: 20, Span: 6 * time.Hour,
		MatchShare: 0.01, Attacks: 12, Redeliver: 0.05, Shuffle: true})
	var bodies [][]byte
	for {
		b, ok := g.Next()
		if !ok {
			break
		}
		bodies = append(bodies, b)
	}
	stats := g.Stats()
	now := func() time.Time { return gen.DefaultStart.Add(7 * time.Hour) }

	// What replay produces.
	ref := &fakeSink{}
	proc := pipeline.New(memstore.New(), ref, pipeline.Options{Now: now})
	for i := 0; i < len(bodies); i += 100 {
		evs := make([]pipeline.Event, 0, 100)
		for _, b := range bodies[i:min(i+100, len(bodies))] {
			evs = append(evs, pipeline.Event{Body: b})
		}
		_, err := proc.Process(context.Background(), pipeline.Batch{Events: evs})
		require.NoError(t, err)
	}
	want := ref.final(t)
	require.Len(t, byRule(t, want, detect.RuleID), len(stats.ExpectedAlerts), "replay finds the generator's planted attacks")

	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			sink := &fakeSink{}
			p := pipeline.New(sk.open(t), sink, pipeline.Options{Now: now, Lateness: 24 * time.Hour, FutureSkew: time.Hour})
			h := handler.New(p, nil, handler.Options{Now: now})
			// Batches of 10 events, each sent twice, in a random order.
			var batches [][][]byte
			for i := 0; i < len(bodies); i += 10 {
				b := bodies[i:min(i+10, len(bodies))]
				batches = append(batches, b, b)
			}
			rand.New(rand.NewSource(12)).Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
			work := make(chan [][]byte)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var codes []int
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := range work {
						code, _ := testenv.Invoke(t, h, handler.FunctionSignIns, fixture.Invocation(b))
						mu.Lock()
						codes = append(codes, code)
						mu.Unlock()
					}
				}()
			}
			for _, b := range batches {
				work <- b
			}
			close(work)
			wg.Wait()
			for _, c := range codes {
				require.Equal(t, http.StatusOK, c)
			}
			got := sink.final(t)
			require.Equal(t, byRule(t, want, detect.RuleID), byRule(t, got, detect.RuleID), "the seed rule's alerts are replay's")
			// The sliding rule: out of order, a sliding alert may be raised
			// on records that later records complete into a seed alert
			// (README, "Limits"); it never misses an attack replay's
			// sliding rule finds, and never alerts twice on a session.
			alerted := sessionsOf(t, got)
			for s, n := range sessionsOf(t, byRule(t, want, detect.SlidingRuleID)) {
				require.Equal(t, 1, n, "replay: one sliding alert for %s", s)
				require.Contains(t, alerted, s, "the attack replay's sliding rule finds is alerted")
			}
			extra := 0
			for s, n := range sessionsOf(t, byRule(t, got, detect.SlidingRuleID)) {
				require.Equal(t, 1, n, "one sliding alert for %s", s)
				if sessionsOf(t, byRule(t, want, detect.SlidingRuleID))[s] == 0 {
					extra++
					require.Contains(t, sessionsOf(t, byRule(t, want, detect.RuleID)), s, "an extra sliding alert is for an attack the seed rule also alerts on")
				}
			}
			t.Logf("sliding alerts raised before the seed's condition was met (the residual case): %d", extra)
			// Each of those is superseded by the seed alert that completed:
			// the live alerts (the latest revision of each, not superseded)
			// are replay's, and an attack has one.
			require.Equal(t, liveAlerts(t, want), liveAlerts(t, got), "the live alerts are replay's")
			for s, n := range sessionsOf(t, liveAlerts(t, got)) {
				require.Equal(t, 1, n, "one live alert for %s", s)
			}
			superseded := 0
			for id, row := range byRule(t, got, detect.SlidingRuleID) {
				var a struct{ SupersededBy string }
				require.NoError(t, json.Unmarshal([]byte(row), &a))
				if a.SupersededBy != "" {
					superseded++
					require.Contains(t, got, a.SupersededBy, "sliding alert %s is superseded by an alert that exists", id)
				}
			}
			require.Equal(t, extra, superseded, "every extra sliding alert is superseded")
		})
	}
}

// liveAlerts keeps the alerts whose latest revision is not superseded
// (what the alert rules and the README's queries show).
func liveAlerts(t *testing.T, final map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, row := range final {
		var a struct{ SupersededBy string }
		require.NoError(t, json.Unmarshal([]byte(row), &a))
		if a.SupersededBy == "" {
			out[id] = row
		}
	}
	return out
}

// sessionsOf counts alerts by UPN and session.
func sessionsOf(t *testing.T, final map[string]string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, row := range final {
		var a struct{ UserPrincipalName, SessionId string }
		require.NoError(t, json.Unmarshal([]byte(row), &a))
		out[a.UserPrincipalName+" "+a.SessionId]++
	}
	return out
}
