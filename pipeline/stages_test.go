package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/memstore"
)

var at = time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC)

// TestPlan runs the pure stage with no store and no sink at all.
func TestPlan(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	p := pipeline.New(nil, nil, pipeline.Options{Lateness: time.Hour, FutureSkew: time.Hour})
	legs := fixture.Phish("ana@contoso.example", "s1", at)
	other := fixture.SignIn{AppID: "00000000-0000-0000-0000-000000000001", Time: at}
	late := fixture.SignIn{UPN: "old@contoso.example", Session: "s-old", Time: now.Add(-3 * time.Hour)}
	future := fixture.SignIn{UPN: "new@contoso.example", Session: "s-new", Time: now.Add(2 * time.Hour)}
	t1, t2 := at.Add(time.Minute), at.Add(2*time.Minute)
	events := []pipeline.Event{
		{Body: fixture.Body(legs[0], other), EnqueuedAt: t2},
		{Body: fixture.Body(legs[1], late, future), EnqueuedAt: t1},
		{Body: fixture.Body(fixture.Phish("bo@contoso.example", "s2", at)...)},
		{Body: []byte("not json")},
	}
	pl := p.Plan(events, now)

	require.Equal(t, 8, pl.Records, "records read, the prefiltered one included")
	var want pipeline.SkipCounts
	want[detect.SkipPrefiltered] = 1
	want[detect.SkipLate] = 1
	want[detect.SkipFuture] = 1
	want[detect.SkipNotJSON] = 1
	require.Equal(t, want, pl.Skipped)
	require.Equal(t, 4, pl.Skipped.Total())

	require.Len(t, pl.Groups, 2)
	require.Less(t, pl.Groups[0].ID, pl.Groups[1].ID, "sorted by id")
	byUPN := map[string]pipeline.GroupWork{}
	for _, g := range pl.Groups {
		require.Equal(t, g.Key.ID(), g.ID)
		byUPN[g.Key.UPN] = g
	}
	ana := byUPN["ana@contoso.example"]
	require.Len(t, ana.Records, 2)
	require.True(t, ana.Enqueued.Equal(t2), "the newest enqueue time: %v", ana.Enqueued)
	require.True(t, byUPN["bo@contoso.example"].Enqueued.IsZero(), "unknown")

	// Pure: the same input gives the same plan.
	require.Equal(t, pl, p.Plan(events, now))
}

func TestSkipCountsLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	var c pipeline.SkipCounts
	log.Info("none", "skipped", c)
	c[detect.SkipLate] = 2
	c[detect.SkipNotJSON] = 1
	log.Info("some", "skipped", c)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.NotContains(t, lines[0], "skipped")
	require.Contains(t, lines[1], `"skipped":{"not_json":1,"late":2}`)
}

// probeStore wraps a store, counts calls and how many run at once, and can
// fail or slow them.
type probeStore struct {
	pipeline.Store
	mu             sync.Mutex
	loads, commits int
	inFlight, peak int
	failLoad       int // the failLoad-th Load fails (1-based; 0: none)
	conflicts      int // the first conflicts Commits lose a race
	delay          time.Duration
	cutoffs        []store.Cutoff
}

func (s *probeStore) enter() func() {
	s.mu.Lock()
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	s.mu.Unlock()
	time.Sleep(s.delay)
	return func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }
}

func (s *probeStore) Load(ctx context.Context, id string, w time.Time) (store.Group, error) {
	defer s.enter()()
	s.mu.Lock()
	s.loads++
	fail := s.loads == s.failLoad
	s.mu.Unlock()
	if fail {
		return store.Group{}, errors.New("injected: load failed")
	}
	return s.Store.Load(ctx, id, w)
}

func (s *probeStore) Commit(ctx context.Context, g store.Group, out []store.Pending) error {
	defer s.enter()()
	s.mu.Lock()
	s.commits++
	lose := s.commits <= s.conflicts
	s.mu.Unlock()
	if lose {
		return fmt.Errorf("injected: %w", store.ErrConflict)
	}
	return s.Store.Commit(ctx, g, out)
}

func (s *probeStore) Expire(ctx context.Context, c store.Cutoff) (int, error) {
	s.mu.Lock()
	s.cutoffs = append(s.cutoffs, c)
	s.mu.Unlock()
	return s.Store.Expire(ctx, c)
}

// sessions returns one event per phishing session, n sessions.
func sessions(n int) []pipeline.Event {
	evs := make([]pipeline.Event, n)
	for i := range evs {
		evs[i] = pipeline.Event{Body: fixture.Body(fixture.Phish(fmt.Sprintf("u%d@contoso.example", i), "s", at)...)}
	}
	return evs
}

var now10 = func() time.Time { return time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC) }

// The tests of store calls below count the seed groups' calls alone
// (SeedOnly); the attack chain's own are counted in chain_test.go.

func TestCommitStopsAtFirstFailure(t *testing.T) {
	st := &probeStore{Store: memstore.New(), failLoad: 3}
	p := pipeline.New(st, &rowSink{}, pipeline.Options{SeedOnly: true, Now: now10, GroupConcurrency: 1})
	res, err := p.Process(context.Background(), pipeline.Batch{Events: sessions(20)})
	require.ErrorContains(t, err, "injected: load failed")
	require.Equal(t, 3, st.loads, "no group starts after the failure")
	require.Equal(t, 2, st.commits)
	require.Equal(t, 20, res.Groups)
	require.Equal(t, 2, res.Writes, "the groups written before the failure count")
	require.Len(t, res.Alerts, 2, "and their revisions are delivered")
	for _, a := range res.Alerts {
		require.Equal(t, pipeline.Delivered, a.Outcome)
	}

	// Side by side, the failure cancels the groups in flight.
	st = &probeStore{Store: memstore.New(), failLoad: 1, delay: 5 * time.Millisecond}
	p = pipeline.New(st, &rowSink{}, pipeline.Options{SeedOnly: true, Now: now10, GroupConcurrency: 4})
	_, err = p.Process(context.Background(), pipeline.Batch{Events: sessions(40)})
	require.ErrorContains(t, err, "injected: load failed")
	require.Less(t, st.loads, 40, "not every group was started")
}

func TestCommitNothingAfterContextDone(t *testing.T) {
	st := &probeStore{Store: memstore.New()}
	p := pipeline.New(st, &rowSink{}, pipeline.Options{SeedOnly: true, Now: now10})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := p.Process(ctx, pipeline.Batch{Events: sessions(5)})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, st.loads+st.commits, "no store call once ctx is done")
	require.Equal(t, 5, res.Groups)
	require.Zero(t, res.Writes)
}

func TestConflictRetries(t *testing.T) {
	tests := []struct {
		name      string
		conflicts int
		wantErr   bool
	}{
		{"a few lost races, then written", 5, false},
		{"every race lost: given up after ConflictRetries", 100, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &probeStore{Store: memstore.New(), conflicts: tc.conflicts}
			p := pipeline.New(st, &rowSink{}, pipeline.Options{SeedOnly: true, Now: now10, ConflictRetries: 6, ConflictBackoff: time.Millisecond})
			res, err := p.Process(context.Background(), pipeline.Batch{Events: sessions(1)})
			if tc.wantErr {
				require.ErrorIs(t, err, store.ErrConflict)
				require.ErrorContains(t, err, "gave up after 7 lost races")
				require.Equal(t, 7, st.commits)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.conflicts+1, st.commits)
			require.Equal(t, tc.conflicts+1, st.loads, "each retry reloads")
			require.Equal(t, 1, res.Writes)
		})
	}
}

func TestConflictBackoffEndsWithContext(t *testing.T) {
	st := &probeStore{Store: memstore.New(), conflicts: 1000}
	p := pipeline.New(st, &rowSink{}, pipeline.Options{Now: now10, ConflictRetries: 1000, ConflictBackoff: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Process(ctx, pipeline.Batch{Events: sessions(1)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second, "the wait ends with the context")
	require.Less(t, st.commits, 100, "retries wait between attempts")
}

// TestOneLimitPerProcessor: batches running at once share the Processor's
// limit on store calls.
func TestOneLimitPerProcessor(t *testing.T) {
	st := &probeStore{Store: memstore.New(), delay: 2 * time.Millisecond}
	p := pipeline.New(st, &rowSink{}, pipeline.Options{SeedOnly: true, Now: now10, GroupConcurrency: 3})
	var wg sync.WaitGroup
	for b := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([]pipeline.Event, 10)
			for i := range evs {
				evs[i] = pipeline.Event{Body: fixture.Body(fixture.Phish(fmt.Sprintf("b%d-u%d@contoso.example", b, i), "s", at)...)}
			}
			_, err := p.Process(context.Background(), pipeline.Batch{Events: evs})
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Equal(t, 40, st.commits)
	require.LessOrEqual(t, st.peak, 3, "store calls in flight across all batches")
	require.Equal(t, 3, st.peak, "the limit is used")
}

func TestDeliverOutcomes(t *testing.T) {
	now := now10()
	st := memstore.New()
	sink := &scriptedSink{reject: "bad@", permanent: true}
	p := pipeline.New(st, sink, pipeline.Options{Now: func() time.Time { return now }, MaxPermanentFailures: 2})
	res, err := p.Process(context.Background(), pipeline.Batch{Events: []pipeline.Event{
		{Body: fixture.Body(fixture.Phish("bad@contoso.example", "s", at)...)},
		{Body: fixture.Body(fixture.Phish("good@contoso.example", "s", at)...)},
	}})
	require.NoError(t, err)
	outcomes := map[pipeline.Outcome]int{}
	for _, a := range res.Alerts {
		outcomes[a.Outcome]++
		if a.Outcome == pipeline.Delivered {
			require.NoError(t, a.Err)
		} else {
			require.ErrorContains(t, a.Err, "rejected by the test sink")
		}
	}
	require.Equal(t, map[pipeline.Outcome]int{pipeline.Delivered: 1, pipeline.Retry: 1}, outcomes)

	now = now.Add(time.Hour)
	sw, err := p.Sweep(context.Background())
	require.NoError(t, err)
	require.Len(t, sw.Deliveries, 1)
	require.Equal(t, pipeline.Dropped, sw.Deliveries[0].Outcome, "the second permanent rejection")
	require.Equal(t, "dropped", sw.Deliveries[0].Outcome.String())
	require.Equal(t, 1, sw.Dropped)
	require.Zero(t, sw.Pending)
}

func TestLatencyFromReceived(t *testing.T) {
	now := now10()
	clock := func() time.Time { now = now.Add(10 * time.Millisecond); return now }
	p := pipeline.New(memstore.New(), &rowSink{}, pipeline.Options{Now: clock})
	received := now10().Add(-time.Second)
	enq := received.Add(-time.Minute)
	res, err := p.Process(context.Background(), pipeline.Batch{
		Events:   []pipeline.Event{{Body: fixture.Body(fixture.Phish("a@contoso.example", "s", at)...), EnqueuedAt: enq}},
		Received: received,
	})
	require.NoError(t, err)
	require.Len(t, res.Alerts, 1)
	a := res.Alerts[0]
	require.Equal(t, now.Sub(received), a.Latency, "from Received to the last clock reading")
	require.Equal(t, now.Sub(enq), a.SinceEnqueued)
}

func TestSweepCountsEveryPending(t *testing.T) {
	now := now10()
	sink := &scriptedSink{reject: "@"}
	p := pipeline.New(memstore.New(), sink, pipeline.Options{Now: func() time.Time { return now }, SweepLimit: 2})
	_, err := p.Process(context.Background(), pipeline.Batch{Events: sessions(5)})
	require.NoError(t, err)
	now = now.Add(time.Hour)
	res, err := p.Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, res.Resent, "SweepLimit bounds the resends")
	require.Equal(t, 5, res.Pending, "not the count")
}

func TestSweepExpiresByLifetime(t *testing.T) {
	const lateness = 2 * time.Hour
	rule := detect.DefaultRule()
	now := now10()
	st := &probeStore{Store: memstore.New()}
	p := pipeline.New(st, &rowSink{}, pipeline.Options{Now: func() time.Time { return now }, Lateness: lateness})
	res, err := p.Process(context.Background(), pipeline.Batch{Events: sessions(1)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Writes)
	pl := p.Plan(sessions(1), now)
	window := pl.Groups[0].Key.Window
	expires := window.Add(rule.Window + lateness)

	for _, step := range []struct {
		at      time.Time
		expired int
	}{
		{expires.Add(-time.Second), 0},
		{expires, 0},
		{expires.Add(time.Second), 1},
	} {
		now = step.at
		sw, err := p.Sweep(context.Background())
		require.NoError(t, err)
		require.Equal(t, step.expired, sw.Expired, "at %s", now)
		c := st.cutoffs[len(st.cutoffs)-1]
		require.True(t, c.ExpiresBefore.Equal(now))
		require.True(t, c.WindowsBefore.Equal(now.Add(-rule.Window-lateness)), "the window bound is now minus the lifetime: %v", c.WindowsBefore)
	}
}
