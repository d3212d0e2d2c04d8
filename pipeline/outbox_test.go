package pipeline_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
)

// scriptedSink fails rows whose text contains a marker, permanently or not.
type scriptedSink struct {
	mu        sync.Mutex
	reject    string
	permanent bool
	accepted  []string
	calls     int
}

type rowError struct{ permanent bool }

func (e rowError) Error() string   { return "rejected by the test sink" }
func (e rowError) Permanent() bool { return e.permanent }

func (s *scriptedSink) Send(_ context.Context, rows [][]byte) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	errs := make([]error, len(rows))
	for i, r := range rows {
		if s.reject != "" && strings.Contains(string(r), s.reject) {
			errs[i] = rowError{s.permanent}
			continue
		}
		s.accepted = append(s.accepted, string(r))
	}
	return errs
}

// failed returns the alerts whose delivery went wrong.
func failed(as []pipeline.AlertInfo) []pipeline.AlertInfo {
	var out []pipeline.AlertInfo
	for _, a := range as {
		if a.Err != nil {
			out = append(out, a)
		}
	}
	return out
}

func TestOutbox(t *testing.T) {
	at := time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC)
	bodies := []pipeline.Event{
		{Body: fixture.Body(fixture.Phish("bad@contoso.example", "s-bad", at)...)},
		{Body: fixture.Body(fixture.Phish("good@contoso.example", "s-good", at)...)},
	}
	tests := []struct {
		name      string
		permanent bool
		sweeps    int
		wantDrop  int
		wantPend  int
	}{
		{name: "permanent rejection: dropped after 5, the other row delivered", permanent: true, sweeps: 4, wantDrop: 1, wantPend: 0},
		{name: "transient failure: kept pending however long", permanent: false, sweeps: 8, wantDrop: 0, wantPend: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
			st := memstore.New()
			sink := &scriptedSink{reject: "bad@contoso.example", permanent: tc.permanent}
			p := pipeline.New(st, sink, pipeline.Options{Now: func() time.Time { return now }})
			res, err := p.Process(context.Background(), pipeline.Batch{Events: bodies})
			require.NoError(t, err)
			require.Len(t, res.Alerts, 2)
			require.Len(t, failed(res.Alerts), 1)
			require.Len(t, sink.accepted, 1)

			dropped := 0
			var last pipeline.SweepResult
			for i := 0; i < tc.sweeps; i++ {
				now = now.Add(2 * time.Hour) // past any backoff
				last, err = p.Sweep(context.Background())
				require.NoError(t, err)
				require.Equal(t, 1, last.Resent, "sweep %d resends the one pending revision", i)
				dropped += last.Dropped
				require.Len(t, last.Deliveries, 1)
				for _, d := range last.Deliveries {
					require.Error(t, d.Err)
					if d.Outcome == pipeline.Dropped {
						require.Equal(t, 1, d.Revision)
					}
				}
			}
			require.Equal(t, tc.wantDrop, dropped)
			require.Equal(t, tc.wantPend, last.Pending)
			require.Len(t, sink.accepted, 1, "the good row was sent once, never again")
		})
	}
}

func TestSweepWaitsForBackoff(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	st := memstore.New()
	sink := &scriptedSink{reject: "@", permanent: false}
	p := pipeline.New(st, sink, pipeline.Options{Now: func() time.Time { return now }})
	_, err := p.Process(context.Background(), pipeline.Batch{Events: []pipeline.Event{{Body: fixture.Body(fixture.Phish("a@contoso.example", "s", time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC))...)}}})
	require.NoError(t, err)
	// Attempt 1 failed at 10:00; resends are due after 1, 2, 4, 8 ... minutes.
	steps := []struct {
		advance time.Duration
		resent  int
	}{
		{30 * time.Second, 0},
		{31 * time.Second, 1}, // 10:01:01: attempt 2 fails, next after 2 min
		{time.Minute, 0},
		{61 * time.Second, 1}, // attempt 3 fails, next after 4 min
		{3 * time.Minute, 0},
		{61 * time.Second, 1},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		res, err := p.Sweep(context.Background())
		require.NoError(t, err)
		require.Equal(t, s.resent, res.Resent, "step %d at %s", i, now.Format("15:04:05"))
		require.Equal(t, 1, res.Pending)
	}
}
