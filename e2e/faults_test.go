package e2e

// Faults against real dependencies: Azurite stopped in the middle of a batch,
// and Log Analytics (the fake ingestion endpoint) down for a long stretch.

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/schema"
	"github.com/drswatch/drswatch/sink/loganalytics"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/memstore"
	"github.com/drswatch/drswatch/store/tablestore"
)

// stopAfter wraps a store and calls stop once, right after the n-th Commit
// of the stretch it is armed for: the table service goes away in the middle
// of a batch, with some of its groups written and the rest not.
type stopAfter struct {
	pipeline.Store
	mu      sync.Mutex
	armed   bool
	commits int
	n       int
	stop    func()
}

func (s *stopAfter) Commit(ctx context.Context, g store.Group, out []store.Pending) error {
	err := s.Store.Commit(ctx, g, out)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.armed {
		if s.commits++; s.commits == s.n {
			s.armed = false
			s.stop()
		}
	}
	return err
}

func (s *stopAfter) arm(n int) { s.mu.Lock(); s.armed, s.commits, s.n = true, 0, n; s.mu.Unlock() }

// groupStates loads, for every alert the bed's sink got, its group's state.
func groupStates(t *testing.T, b *bed) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, row := range b.sink.final(t) {
		var a detect.Alert
		require.NoError(t, json.Unmarshal([]byte(row), &a))
		eid, w := id, a.WindowStart.Time
		if a.RuleID == detect.SlidingRuleID { // kept in its session's entity
			eid, w = detect.SessionKey{UPN: a.UserPrincipalName, SessionID: a.SessionID}.ID(), time.Unix(0, 0).UTC()
		}
		g, err := b.store.Load(context.Background(), eid, w)
		require.NoError(t, err)
		out[id] = string(g.State)
	}
	return out
}

func TestAzuriteStoppedMidBatch(t *testing.T) {
	srv := testenv.StartAzurite(t, testenv.Persistent())
	if srv.External() {
		t.Skip("cannot stop an external table service")
	}
	ctx := context.Background()
	// Few, short retries: the batch must fail while Azurite is down, not wait.
	opts := &tablestore.Options{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{
		MaxRetries: 1, TryTimeout: 2 * time.Second, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}}}
	ts, err := tablestore.NewFromConnectionString(srv.ConnectionString(), "faults", opts)
	require.NoError(t, err)
	require.NoError(t, ts.CreateTable(ctx))
	st := &stopAfter{Store: ts, stop: func() { require.NoError(t, srv.Stop()) }}
	// One group at a time, so that the outage falls between two groups' writes.
	b := newBedWith(t, st, &fakeSink{}, pipeline.Options{GroupConcurrency: 1})
	clean := newBed(t, openTable(t))

	batches := scenario(7)
	big := 0 // the batch with the most groups is the one cut in half
	for i, bs := range batches {
		if len(bs) > len(batches[big]) {
			big = i
		}
	}
	for i, bs := range batches {
		clean.mustBatch(bs)
		if i != big {
			b.mustBatch(bs)
			continue
		}
		st.arm(1)
		code, resp := testenv.Invoke(t, b.h, "SignInLogs", fixture.Invocation(bs))
		require.Equal(t, http.StatusInternalServerError, code, "logs %v", resp.Logs)
		failed := b.logs.Lines(t, "batch failed; the host will retry it")
		require.Len(t, failed, 1)
		require.NoError(t, srv.Restart())
		b.mustBatch(bs) // the host's retry
	}
	require.Equal(t, clean.sink.final(t), b.sink.final(t), "alerts")
	require.Equal(t, groupStates(t, clean), groupStates(t, b), "state")
	// A revision delivered just before the outage could not be acknowledged:
	// it stays in the outbox and Sweep sends it again (at least once; the
	// analyst's arg_max(Revision) by AlertId is unchanged).
	b.advance(2 * time.Minute)
	b.sweep()
	pending, err := ts.ListPending(ctx, b.clock().Add(1000*time.Hour), 100)
	require.NoError(t, err)
	require.Empty(t, pending, "nothing left in the outbox")
	require.Equal(t, clean.sink.final(t), b.sink.final(t), "alerts")
	// Delivery is at least once: a revision may arrive twice, none is missing.
	require.Equal(t, keys(revisionSet(t, clean.sink.rows)), keys(revisionSet(t, b.sink.rows)), "the same revisions, none missing")
}

func TestLogAnalyticsDownForALongStretch(t *testing.T) {
	ingest := testenv.NewIngest(t, nil)
	la, err := loganalytics.New(ingest.URL, ingest.RuleID(), ingest.Stream(), &azfake.TokenCredential{}, &loganalytics.Options{
		MaxRetries: 1, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond, CallTimeout: 5 * time.Second,
		Validate: schema.ValidateRow, Transport: ingest.Client(),
	})
	require.NoError(t, err)
	st := memstore.New()
	b := newBedWith(t, st, la, pipeline.Options{})
	ref := newBed(t, memstore.New())

	ingest.Down(testenv.Fault{Status: http.StatusServiceUnavailable})
	batches := scenario(8)
	for hour := 0; hour < 6; hour++ { // six hours of outage, Sweep every five minutes
		if hour < len(batches) {
			b.mustBatch(batches[hour])
		}
		for m := 0; m < 12; m++ {
			b.advance(5 * time.Minute)
			b.sweep()
		}
	}
	for _, bs := range batches[min(6, len(batches)):] {
		b.mustBatch(bs)
	}
	for _, bs := range batches {
		ref.mustBatch(bs)
	}
	want := ref.sink.final(t)
	require.NotEmpty(t, want)
	require.Empty(t, ingest.Rows(), "nothing got through")
	b.sweep()
	sweeps := b.logs.Lines(t, "sweep done")
	last := sweeps[len(sweeps)-1]
	require.Equal(t, float64(len(ref.sink.rows)), last["pending"], "Sweep logs every revision as pending")
	require.NotEmpty(t, b.logs.Lines(t, "resend failed"))

	ingest.Up()
	b.advance(time.Hour) // past the longest backoff (30 min)
	b.sweep()
	sweeps = b.logs.Lines(t, "sweep done")
	last = sweeps[len(sweeps)-1]
	require.Equal(t, float64(0), last["pending"], "log %v", last)
	require.Equal(t, float64(len(ref.sink.rows)), last["delivered"])
	got := ingest.Rows()
	for _, r := range got {
		require.NoError(t, schema.ValidateRow(r))
	}
	require.Equal(t, want, argMax(t, got), "every revision arrived")
	require.Len(t, got, len(ref.sink.rows), "each revision once")
	pending, err := st.ListPending(context.Background(), b.clock().Add(1000*time.Hour), 100)
	require.NoError(t, err)
	require.Empty(t, pending)
}

func keys(m map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}
