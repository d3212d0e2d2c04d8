package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/schema"
	"github.com/drswatch/drswatch/sink/loganalytics"
	"github.com/drswatch/drswatch/store"
)

// laSink returns the Log Analytics sink against a fake ingestion endpoint,
// authenticated through the real azidentity managed identity path against
// a fake App Service identity endpoint.
func laSink(t *testing.T) (*loganalytics.Sink, *testenv.Ingest) {
	t.Helper()
	mi := testenv.NewManagedIdentity(t)
	mi.Setenv(t)
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
	t.Setenv("AZURE_CLIENT_ID", testenv.NewClientID())
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	require.NoError(t, err)
	srv := testenv.NewIngest(t, &testenv.IngestOptions{Token: mi.Token})
	s, err := loganalytics.New(srv.URL, srv.RuleID(), srv.Stream(), cred, &loganalytics.Options{
		Validate:  schema.ValidateRow,
		Transport: srv.Client(),
		// The outbox retries across batches and sweeps; keep in-call retries short.
		MaxRetries: 1, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	return s, srv
}

// argMax is the README's KQL `summarize arg_max(Revision, *) by AlertId`,
// with TimeGenerated and Revision left out so runs can be compared.
func argMax(t *testing.T, rows [][]byte) map[string]string {
	t.Helper()
	latest := map[string]detect.Alert{}
	for _, r := range rows {
		var a detect.Alert
		require.NoError(t, json.Unmarshal(r, &a))
		if cur, ok := latest[a.AlertID]; !ok || a.Revision > cur.Revision {
			latest[a.AlertID] = a
		}
	}
	out := map[string]string{}
	for id, a := range latest {
		a.TimeGenerated, a.Revision = detect.Time{}, 0
		b, err := json.Marshal(a)
		require.NoError(t, err)
		out[id] = string(b)
	}
	return out
}

// revisionSet lists each AlertId/Revision pair received and how often.
func revisionSet(t *testing.T, rows [][]byte) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range rows {
		var a detect.Alert
		require.NoError(t, json.Unmarshal(r, &a))
		out[fmt.Sprintf("%s/%d", a.AlertID, a.Revision)]++
	}
	return out
}

// TestLogAnalyticsOutbox: with the endpoint failing for the first minutes of
// a run, every alert revision still arrives exactly as declared and nothing
// is left pending; a crash between the state write and the send is repaired
// by the next process's Sweep; duplicates from a lost acknowledgement are
// removed by the README's arg_max query.
func TestLogAnalyticsOutbox(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("endpoint down for the first minutes", func(t *testing.T) {
				batches := scenario(5)
				ref := newBed(t, sk.open(t))
				for _, bs := range batches {
					ref.mustBatch(bs)
				}
				wantRevs := revisionSet(t, ref.sink.rows)

				s, srv := laSink(t)
				b := newBedWith(t, sk.open(t), s, pipeline.Options{})
				srv.Down(testenv.Fault{Status: 503})
				for i, bs := range batches {
					b.mustBatch(bs) // 200 although delivery fails: the outbox holds the revisions
					b.advance(30 * time.Second)
					if i == len(batches)/2 {
						b.sweep() // the timer fires while the endpoint is still down
						require.Empty(t, srv.Rows())
						srv.Up()
					}
					if i%3 == 2 {
						b.advance(5 * time.Minute)
						b.sweep()
					}
				}
				b.advance(time.Hour)
				b.sweep()
				got := srv.Rows()
				for _, r := range got {
					require.NoError(t, schema.ValidateRow(r))
				}
				require.Equal(t, wantRevs, revisionSet(t, got), "every revision exactly once")
				require.Equal(t, ref.sink.final(t), argMax(t, got))
				pending, err := b.store.ListPending(context.Background(), b.clock().Add(1000*time.Hour), 1000)
				require.NoError(t, err)
				require.Empty(t, pending, "nothing left pending")
			})

			t.Run("killed between the state write and the send", func(t *testing.T) {
				st := sk.open(t)
				now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
				clock := func() time.Time { return now }
				dying := pipeline.New(st, crashingSink{}, pipeline.Options{Now: clock, Lateness: 24 * time.Hour})
				body := fixtureBody("hana@contoso.example", "s-hana")
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { // the process dies inside the send, after the commit
					defer wg.Done()
					_, _ = dying.Process(context.Background(), pipeline.Batch{Events: []pipeline.Event{{Body: body}}})
					t.Error("Process returned: the crash did not happen")
				}()
				wg.Wait()

				s, srv := laSink(t)
				now = now.Add(2 * time.Minute) // a new instance's next timer tick
				fresh := pipeline.New(st, s, pipeline.Options{Now: clock, Lateness: 24 * time.Hour})
				res, err := fresh.Sweep(context.Background())
				require.NoError(t, err)
				require.Equal(t, 1, res.Delivered)
				require.Equal(t, 0, res.Pending)
				require.Len(t, srv.Rows(), 1)
			})

			t.Run("lost acknowledgement: sent twice, arg_max shows it once", func(t *testing.T) {
				s, srv := laSink(t)
				st := &ackFailingStore{Store: sk.open(t), fail: 1}
				b := newBedWith(t, st, s, pipeline.Options{})
				b.mustBatch([][]byte{fixtureBody("ivo@contoso.example", "s-ivo")})
				b.advance(2 * time.Minute)
				b.sweep()
				rows := srv.Rows()
				require.Len(t, rows, 2, "the revision was sent again because its ack was lost")
				require.Equal(t, map[string]int{detectKeyID("ivo@contoso.example", "s-ivo") + "/1": 2}, revisionSet(t, rows))
				require.Len(t, argMax(t, rows), 1)
			})
		})
	}
}

func fixtureBody(upn, session string) []byte {
	return fixtureBodyAt(upn, session, time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC))
}

func detectKeyID(upn, session string) string { return keyOf(upn, session, 9, 30).ID() }

// crashingSink ends the calling goroutine as a killed process would: no
// code after the send runs.
type crashingSink struct{}

func (crashingSink) Send(context.Context, [][]byte) []error {
	runtime.Goexit()
	return nil
}

// ackFailingStore loses the first fail acknowledgements.
type ackFailingStore struct {
	pipeline.Store
	mu   sync.Mutex
	fail int
}

func (s *ackFailingStore) Ack(ctx context.Context, p store.Pending) error {
	s.mu.Lock()
	lose := s.fail > 0
	s.fail--
	s.mu.Unlock()
	if lose {
		return errors.New("injected: acknowledgement lost")
	}
	return s.Store.Ack(ctx, p)
}
