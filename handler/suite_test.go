package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/memstore"
)

// storeKind opens a fresh, empty store for one test.
type storeKind struct {
	name string
	open func(t *testing.T) pipeline.Store
}

// stores lists the stores the suite runs against: the embedded one always,
// Table Storage on Azurite when available (see stores_table_test.go).
var stores = []storeKind{
	{"memory", func(*testing.T) pipeline.Store { return memstore.New() }},
}

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
	dead  *memDeadLetters
	h     *handler.Handler
	logs  *logBuffer
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
	b := &bed{t: t, store: st, sink: fs, dead: &memDeadLetters{}, logs: &logBuffer{}, now: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)}
	o.Lateness, o.FutureSkew, o.Now = 24*time.Hour, time.Hour, b.clock
	proc := pipeline.New(st, sk, o)
	b.h = handler.New(proc, slog.New(slog.NewJSONHandler(b.logs, nil)), handler.Options{Now: b.clock, DeadLetters: b.dead})
	return b
}

// logBuffer collects the handler's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

// lines returns the log lines whose msg is msg, decoded.
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "log line %q", line)
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (b *bed) clock() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.now }

func (b *bed) advance(d time.Duration) { b.mu.Lock(); b.now = b.now.Add(d); b.mu.Unlock() }

func (b *bed) batch(bodies [][]byte) int {
	code, _ := post(b.t, b.h, handler.FunctionSignIns, envelope(b.t, bodies, true))
	return code
}

func (b *bed) mustBatch(bodies [][]byte) {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.batch(bodies))
}

func (b *bed) sweep() {
	b.t.Helper()
	code, resp := post(b.t, b.h, handler.FunctionSweep, []byte(`{"Data":{"timer":{"IsPastDue":false}},"Metadata":{}}`))
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

func TestSuite(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("recorded invocations, both dataType forms", func(t *testing.T) {
				for _, name := range []string{"invocation-datatype-string.json", "invocation-datatype-object.json"} {
					b := newBed(t, sk.open(t))
					code, resp := post(t, b.h, handler.FunctionSignIns, readFixture(t, name))
					require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
					require.Len(t, b.sink.final(t), 1, name)
				}
			})
			t.Run("same batch three times gives one revision", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				bodies := [][]byte{fixture.Body(fixture.Phish("ana@contoso.example", "s1", time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC))...)}
				for i := 0; i < 3; i++ {
					b.mustBatch(bodies)
				}
				require.Equal(t, map[string]int{keyOf("ana@contoso.example", "s1", 9, 30).ID(): 1}, b.sink.revisions())
			})
			t.Run("batches out of order give the same alerts", func(t *testing.T) {
				batches := scenario(1)
				inOrder := newBed(t, sk.open(t))
				for _, bs := range batches {
					inOrder.mustBatch(bs)
				}
				want := inOrder.sink.final(t)
				require.Len(t, want, 5, "five phishing sessions alert; the one straddling a window edge does not (as in ES|QL); look-alikes do not")
				r := rand.New(rand.NewSource(2))
				for round := 0; round < 3; round++ {
					shuffled := newBed(t, sk.open(t))
					perm := r.Perm(len(batches))
					for _, i := range perm {
						shuffled.mustBatch(batches[i])
						if r.Intn(3) == 0 { // and some redelivered
							shuffled.mustBatch(batches[i])
						}
					}
					require.Equal(t, want, shuffled.sink.final(t), "order %v", perm)
				}
			})
			t.Run("8 concurrent calls lose no update", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				at := time.Date(2026, 11, 3, 9, 35, 0, 0, time.UTC)
				var wg sync.WaitGroup
				codes := make([]int, 8)
				for i := 0; i < 8; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var bodies [][]byte
						for g := 0; g < 3; g++ { // three groups, each touched by every call
							bodies = append(bodies, fixture.Body(fixture.SignIn{
								UPN: fmt.Sprintf("g%d@contoso.example", g), Session: "shared", Time: at,
								IP: fmt.Sprintf("198.51.100.%d", i), ID: fmt.Sprintf("c%d-g%d", i, g),
							}))
						}
						codes[i] = b.batch(bodies)
					}()
				}
				wg.Wait()
				for i, c := range codes {
					require.Equal(t, http.StatusOK, c, "call %d", i)
				}
				for g := 0; g < 3; g++ {
					st, err := b.state(keyOf(fmt.Sprintf("g%d@contoso.example", g), "shared", 9, 30))
					require.NoError(t, err)
					require.Equal(t, 8, st.EventCount(), "group %d events", g)
					require.Equal(t, 8, st.AddressCount(), "group %d addresses", g)
				}
			})
			t.Run("forbidden characters and unicode in keys", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				upn := "o'brien/x\\y#z?\u00e9\u4e2d\U0001F600\x01\t@contoso.example"
				session := "sess/#?\\\x7f'\u0085"
				at := time.Date(2026, 11, 3, 9, 10, 0, 0, time.UTC)
				legs := fixture.Phish(upn, session, at)
				b.mustBatch([][]byte{fixture.Body(legs...)})
				st, err := b.state(detect.Key{Window: at.Truncate(30 * time.Minute), UPN: upn, SessionID: session})
				require.NoError(t, err)
				require.Equal(t, upn, st.Key.UPN)
				require.Equal(t, session, st.Key.SessionID)
				require.Len(t, b.sink.final(t), 1)
			})
			t.Run("store failing mid-batch, then the host's retry", func(t *testing.T) {
				batches := scenario(3)
				clean := newBed(t, sk.open(t))
				for _, bs := range batches {
					clean.mustBatch(bs)
				}
				flaky := &failingStore{Store: sk.open(t), failAt: 3}
				b := newBed(t, flaky)
				failed := 0
				for _, bs := range batches {
					if code := b.batch(bs); code != http.StatusOK {
						require.Equal(t, http.StatusInternalServerError, code)
						failed++
						b.mustBatch(bs) // the function's retry policy sends the whole batch again
					}
				}
				require.Equal(t, 1, failed, "the store failed once")
				require.Equal(t, clean.sink.final(t), b.sink.final(t))
				for id := range clean.sink.final(t) {
					require.Equal(t, clean.sink.revisions()[id], b.sink.revisions()[id], "revisions of %s", id)
				}
			})
			t.Run("Sweep deletes expired state", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				at := time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC)
				b.mustBatch([][]byte{fixture.Body(fixture.Phish("gus@contoso.example", "s-gus", at)...)})
				k := keyOf("gus@contoso.example", "s-gus", 9, 30)
				_, err := b.state(k)
				require.NoError(t, err)
				b.sweep()
				_, err = b.state(k)
				require.NoError(t, err, "not expired yet")
				b.advance(25 * time.Hour)
				b.sweep()
				_, err = b.state(k)
				require.ErrorIs(t, err, store.ErrNotFound)
				// A record for that window now arrives too late and is skipped.
				b.mustBatch([][]byte{fixture.Body(fixture.SignIn{UPN: "gus@contoso.example", Session: "s-gus", Time: at, ID: "late"})})
				_, err = b.state(k)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
			t.Run("sink down: revisions stay pending, Sweep delivers them", func(t *testing.T) {
				b := newBed(t, sk.open(t))
				b.sink.setDown(true)
				for _, bs := range scenario(4) {
					b.mustBatch(bs) // delivery failures do not fail the batch
				}
				require.Empty(t, b.sink.final(t))
				b.advance(2 * time.Minute)
				b.sweep() // still down
				b.sink.setDown(false)
				b.advance(time.Hour)
				b.sweep()
				ref := newBed(t, sk.open(t))
				for _, bs := range scenario(4) {
					ref.mustBatch(bs)
				}
				require.Equal(t, ref.sink.final(t), b.sink.final(t))
				pending, err := b.store.ListPending(context.Background(), b.clock().Add(1000*time.Hour), 100)
				require.NoError(t, err)
				require.Empty(t, pending)
			})
			t.Run("a group past the size bound saves, counts saturate", func(t *testing.T) {
				if testing.Short() {
					t.Skip("large group")
				}
				b := newBed(t, sk.open(t))
				at := time.Date(2026, 11, 3, 9, 31, 0, 0, time.UTC)
				total := detect.MaxEvents + 500
				for start := 0; start < total; start += 2500 {
					var bodies [][]byte
					for i := start; i < min(start+2500, total); i += 50 {
						var legs []fixture.SignIn
						for j := i; j < min(i+50, total); j++ {
							legs = append(legs, fixture.SignIn{UPN: "big@contoso.example", Session: "s-big", Time: at,
								IP: fmt.Sprintf("10.%d.%d.%d", j>>16&255, j>>8&255, j&255), ID: fmt.Sprintf("big-%d", j),
								UserAgent: fmt.Sprintf("agent %d %0200d", j, j)})
						}
						bodies = append(bodies, fixture.Body(legs...))
					}
					b.mustBatch(bodies)
				}
				st, err := b.state(keyOf("big@contoso.example", "s-big", 9, 30))
				require.NoError(t, err)
				require.Equal(t, detect.MaxEvents, st.EventCount())
				require.Equal(t, detect.MaxAddresses, st.AddressCount())
				require.True(t, st.Saturated)
				final := b.sink.final(t)
				require.Len(t, final, 1)
			})
		})
	}
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

var _ = sort.Strings

func fixtureBodyAt(upn, session string, at time.Time) []byte {
	return fixture.Body(fixture.Phish(upn, session, at)...)
}
