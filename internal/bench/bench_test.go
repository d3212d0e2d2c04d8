package bench

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drswatch/drswatch/gen"
	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
)

func TestPct(t *testing.T) {
	s := make([]time.Duration, 100)
	for i := range s {
		s[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct{ p, want int }{{50, 50}, {99, 99}, {100, 100}} {
		if got := pct(s, tc.p); got != time.Duration(tc.want) {
			t.Errorf("pct(1..100, %d) = %d, want %d", tc.p, got, tc.want)
		}
	}
}

// TestEnvelopeThroughHandler: the bench's envelopes are accepted by the
// handler and every record reaches the pipeline.
func TestEnvelopeThroughHandler(t *testing.T) {
	g := gen.New(gen.Config{Seed: 1, Bodies: 5, RecordsPerBody: 4})
	var bodies [][]byte
	for b, ok := g.Next(); ok; b, ok = g.Next() {
		bodies = append(bodies, b)
	}
	env := fixture.InvocationAt(bodies, time.Now())
	proc := &resultProc{Processor: pipeline.New(memstore.New(), &timedSink{sent: new(atomic.Int64)}, pipeline.Options{})}
	rec := httptest.NewRecorder()
	handler.New(proc, nil, handler.Options{}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+handler.FunctionSignIns, bytes.NewReader(env)))
	if rec.Code != http.StatusOK || proc.last.Events != len(bodies) || proc.last.Records != g.Stats().Records {
		t.Fatalf("status %d, %d events, %d records; want 200, %d, %d", rec.Code, proc.last.Events, proc.last.Records, len(bodies), g.Stats().Records)
	}
}

// TestNaiveReplaySelectsMatches: the naive handler finds the generator's
// MAB -> DRS records that the rule selects (a fair baseline does the work).
func TestNaiveReplaySelectsMatches(t *testing.T) {
	name := filepath.Join(t.TempDir(), "t.ndjson")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	st, err := gen.New(gen.Config{Seed: 1, Bodies: 200, RecordsPerBody: 20}).WriteNDJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	n, err := naiveReplay(name)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n > st.Matching {
		t.Fatalf("naiveReplay selected %d of %d MAB -> DRS records", n, st.Matching)
	}
}
