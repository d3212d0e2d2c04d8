package tablestore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
)

// acceptSink accepts every row.
type acceptSink struct{}

func (acceptSink) Send(_ context.Context, rows [][]byte) []error { return make([]error, len(rows)) }

// TestPipelineCallsPerBatch holds the Table Storage budget the bench reports
// batch by batch: reads = groups, writes <= group writes + deliveries (each
// delivered revision is one delete), group writes <= groups, and no call at
// all for a batch without matching records.
func TestPipelineCallsPerBatch(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	// The seed groups' budget (SeedOnly); the attack chain's own calls are
	// held by e2e's TestChainStoreCallsFollowRegistrations and the bench.
	p := pipeline.New(s, acceptSink{}, pipeline.Options{SeedOnly: true, Now: func() time.Time { return now }})
	at := now.Add(-20 * time.Minute)
	phish := func(n int) []pipeline.Event {
		evs := make([]pipeline.Event, n)
		for i := range evs {
			evs[i] = pipeline.Event{Body: fixture.Body(fixture.Phish(fmt.Sprintf("u%d@contoso.example", i), "s", at)...)}
		}
		return evs
	}
	quiet := []pipeline.Event{{Body: fixture.Body(
		fixture.SignIn{AppID: "00000000-0000-0000-0000-000000000001", Time: at},
		fixture.SignIn{Resource: "00000003-0000-0000-c000-000000000000", Time: at},
		fixture.SignIn{ErrorCode: 50126, Time: at},
	)}}
	oneLeg := []pipeline.Event{{Body: fixture.Body(fixture.SignIn{UPN: "solo@contoso.example", Session: "s-solo", Time: at})}}
	tests := []struct {
		name                string
		events              []pipeline.Event
		groups, writes, ack int
	}{
		{"no matching record", quiet, 0, 0, 0},
		{"three phishing sessions", phish(3), 3, 3, 3},
		{"the same records again", phish(3), 3, 0, 0},
		{"a session without an alert", oneLeg, 1, 1, 0},
		{"no matching record, with state in the table", quiet, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r0, w0 := s.Calls()
			res, err := p.Process(context.Background(), pipeline.Batch{Events: tc.events})
			require.NoError(t, err)
			r1, w1 := s.Calls()
			reads, writes := r1-r0, w1-w0
			delivered := 0
			for _, a := range res.Alerts {
				if a.Outcome == pipeline.Delivered {
					delivered++
				}
			}
			require.Equal(t, tc.groups, res.Groups)
			require.Equal(t, tc.writes, res.Writes)
			require.Equal(t, tc.ack, delivered)
			// The bench's checks.
			require.Equal(t, int64(res.Groups), reads, "reads = groups")
			require.LessOrEqual(t, writes, int64(res.Writes+delivered), "writes <= group writes + deliveries")
			require.LessOrEqual(t, res.Writes, res.Groups)
			if res.Groups == 0 {
				require.Zero(t, reads+writes, "a batch without matches makes no call")
			}
			// And exactly: one transaction per written group, one delete per delivery.
			require.Equal(t, int64(res.Writes+delivered), writes)
		})
	}
}
