package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store"
)

// fakeSink is a hand-written sink that records rows and can be told to fail.
type fakeSink struct {
	mu   sync.Mutex
	rows [][]byte
	down bool
}

type sinkDown struct{}

func (sinkDown) Error() string   { return "sink unavailable" }
func (sinkDown) Permanent() bool { return false }

func (s *fakeSink) Send(_ context.Context, rows [][]byte) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(rows))
	for i, r := range rows {
		if s.down {
			errs[i] = sinkDown{}
			continue
		}
		s.rows = append(s.rows, append([]byte(nil), r...))
	}
	return errs
}

func (s *fakeSink) setDown(d bool) { s.mu.Lock(); s.down = d; s.mu.Unlock() }

// revisions returns how many rows each alert got.
func (s *fakeSink) revisions() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, r := range s.rows {
		var a detect.Alert
		if err := json.Unmarshal(r, &a); err == nil {
			out[a.AlertID]++
		}
	}
	return out
}

// final returns each alert's latest revision without TimeGenerated and
// Revision: what an analyst's arg_max(Revision, *) by AlertId query shows.
func (s *fakeSink) final(t *testing.T) map[string]string {
	t.Helper()
	s.mu.Lock()
	rows := append([][]byte(nil), s.rows...)
	s.mu.Unlock()
	return argMax(t, rows)
}

// bed is a handler wired to a store and a fake sink, with a settable clock.
type bed struct {
	t     *testing.T
	store pipeline.Store
	sink  *fakeSink
	dead  *testenv.DeadLetters
	h     *handler.Handler
	logs  *testenv.LogBuffer
	mu    sync.Mutex
	now   time.Time
}

func newBed(t *testing.T, st pipeline.Store) *bed {
	return newBedWith(t, st, &fakeSink{}, pipeline.Options{})
}

// newBedWith is newBed with another sink and pipeline options; the lateness,
// future skew and clock are always serve's (24h, 1h) and the bed's.
func newBedWith(t *testing.T, st pipeline.Store, sk pipeline.Sink, o pipeline.Options) *bed {
	fs, _ := sk.(*fakeSink)
	b := &bed{t: t, store: st, sink: fs, dead: &testenv.DeadLetters{}, logs: &testenv.LogBuffer{}, now: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)}
	o.Lateness, o.FutureSkew, o.Now = 24*time.Hour, time.Hour, b.clock
	proc := pipeline.New(st, sk, o)
	b.h = handler.New(proc, slog.New(slog.NewJSONHandler(b.logs, nil)), handler.Options{Now: b.clock, DeadLetters: b.dead})
	return b
}

func (b *bed) clock() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.now }

func (b *bed) advance(d time.Duration) { b.mu.Lock(); b.now = b.now.Add(d); b.mu.Unlock() }

func (b *bed) batch(bodies [][]byte) int {
	code, _ := testenv.Invoke(b.t, b.h, handler.FunctionSignIns, fixture.Invocation(bodies))
	return code
}

func (b *bed) mustBatch(bodies [][]byte) {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.batch(bodies))
}

func (b *bed) sweep() {
	b.t.Helper()
	code, resp := testenv.Invoke(b.t, b.h, handler.FunctionSweep, []byte(`{"Data":{"timer":{"IsPastDue":false}},"Metadata":{}}`))
	require.Equal(b.t, http.StatusOK, code, "logs %v", resp.Logs)
}

// state loads the stored group for k and decodes it.
func (b *bed) state(k detect.Key) (*detect.Group, error) {
	g, err := b.store.Load(context.Background(), k.ID(), k.Window)
	if err != nil {
		return nil, err
	}
	var dg detect.Group
	require.NoError(b.t, dg.UnmarshalBinary(g.State))
	return &dg, nil
}

// scenario is a set of batches with phishing sessions, benign look-alikes
// and noise, some records split over batches and some redelivered.
func scenario(seed int64) [][][]byte {
	r := rand.New(rand.NewSource(seed))
	base := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	var signIns []fixture.SignIn
	for i := 0; i < 6; i++ {
		at := base.Add(time.Duration(r.Intn(50)) * time.Minute)
		if i == 0 {
			at = base.Add(29*time.Minute + 30*time.Second) // the legs straddle the window edge
		}
		signIns = append(signIns, fixture.Phish(fmt.Sprintf("user%d@contoso.example", i), fmt.Sprintf("session-%d", i), at)...)
	}
	// Benign: one address only; two addresses but no browser; another app.
	signIns = append(signIns,
		fixture.SignIn{UPN: "chen@contoso.example", Session: "s-chen", IP: "203.0.113.22", ID: "chen-1", Time: base.Add(5 * time.Minute)},
		fixture.SignIn{UPN: "chen@contoso.example", Session: "s-chen", IP: "203.0.113.22", ID: "chen-2", Time: base.Add(6 * time.Minute), Browser: "-"},
		fixture.SignIn{UPN: "eve@contoso.example", Session: "s-eve", IP: "203.0.113.30", ID: "eve-1", Browser: "-", Time: base.Add(7 * time.Minute)},
		fixture.SignIn{UPN: "eve@contoso.example", Session: "s-eve", IP: "203.0.113.31", ID: "eve-2", Browser: "Rich Client 4.1", Time: base.Add(8 * time.Minute)},
		fixture.SignIn{UPN: "finn@contoso.example", Session: "s-finn", IP: "203.0.113.40", ID: "finn-1", AppID: "1fec8e78-bce4-4aaf-ab1b-5451cc387264", Time: base.Add(9 * time.Minute)},
		fixture.SignIn{UPN: "finn@contoso.example", Session: "s-finn", IP: "203.0.113.41", ID: "finn-2", AppID: "1fec8e78-bce4-4aaf-ab1b-5451cc387264", Time: base.Add(9 * time.Minute)},
	)
	// A third leg for user1 from yet another address makes a second revision.
	signIns = append(signIns, fixture.SignIn{UPN: "user1@contoso.example", Session: "session-1", IP: "192.0.2.9", Browser: "-", ID: "user1-third",
		Time: base.Add(time.Duration(r.Intn(20)) * time.Minute)})
	r.Shuffle(len(signIns), func(i, j int) { signIns[i], signIns[j] = signIns[j], signIns[i] })
	var batches [][][]byte
	for len(signIns) > 0 {
		n := 1 + r.Intn(4)
		if n > len(signIns) {
			n = len(signIns)
		}
		var bodies [][]byte
		for _, s := range signIns[:n] {
			bodies = append(bodies, fixture.Body(s))
			if r.Intn(4) == 0 { // at-least-once: the same event twice
				bodies = append(bodies, fixture.Body(s))
			}
		}
		bodies = append(bodies, []byte(`{"records":[{"category":"AuditLogs","time":"2026-11-03T09:00:00Z"}]}`), []byte(`not json`))
		batches = append(batches, bodies)
		signIns = signIns[n:]
	}
	return batches
}

func keyOf(upn, session string, hour, minute int) detect.Key {
	return detect.Key{Window: time.Date(2026, 11, 3, hour, minute, 0, 0, time.UTC), UPN: upn, SessionID: session}
}

// failingStore fails its failAt-th Commit once, as a store outage in the
// middle of a batch would.
type failingStore struct {
	pipeline.Store
	mu      sync.Mutex
	commits int
	failAt  int
}

func (f *failingStore) Commit(ctx context.Context, g store.Group, out []store.Pending) error {
	f.mu.Lock()
	f.commits++
	fail := f.commits == f.failAt
	f.mu.Unlock()
	if fail {
		return errors.New("injected: state store unavailable")
	}
	return f.Store.Commit(ctx, g, out)
}

func fixtureBodyAt(upn, session string, at time.Time) []byte {
	return fixture.Body(fixture.Phish(upn, session, at)...)
}

// recordedInvocation reads an invocation recorded from the Functions host;
// they live with the handler's tests, which check how each form decodes.
func recordedInvocation(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "handler", "testdata", name))
	require.NoError(t, err)
	return b
}
