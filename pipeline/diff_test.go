package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/pipeline"
	"github.com/drswatch/drswatch/store/memstore"
)

// rowSink is a hand-written sink that keeps every row.
type rowSink struct {
	mu   sync.Mutex
	rows []string
}

func (s *rowSink) Send(_ context.Context, rows [][]byte) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		s.rows = append(s.rows, string(r))
	}
	return make([]error, len(rows))
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC) }

// runBoth processes the same batches with and without the prefilter (the
// full decode: every record decoded) and returns what each produced.
func runBoth(t testing.TB, batches [][][]byte) (fast, full []string, fastRes, fullRes pipeline.Result) {
	run := func(fullDecode bool) ([]string, pipeline.Result) {
		s := &rowSink{}
		newProcessor := pipeline.New
		if fullDecode {
			newProcessor = pipeline.NewFullDecode
		}
		p := newProcessor(memstore.New(), s, pipeline.Options{Now: fixedNow})
		var total pipeline.Result
		for _, b := range batches {
			evs := make([]pipeline.Event, len(b))
			for i := range b {
				evs[i] = pipeline.Event{Body: b[i]}
			}
			res, err := p.Process(context.Background(), pipeline.Batch{Events: evs})
			if err != nil {
				t.Fatalf("process: %v", err)
			}
			total.Records += res.Records
			total.Matched += res.Matched
		}
		return s.rows, total
	}
	fast, fastRes = run(false)
	full, fullRes = run(true)
	return
}

func seedBodies(t testing.TB) [][]byte {
	var out [][]byte
	if b, err := os.ReadFile(filepath.Join("..", "testdata", "demo.ndjson")); err == nil {
		out = append(out, bytes.Split(bytes.TrimSpace(b), []byte("\n"))...)
	}
	at := time.Date(2026, 11, 3, 9, 40, 0, 0, time.UTC)
	out = append(out, fixture.Body(fixture.Phish("ana@contoso.example", "s1", at)...))
	legs := fixture.Phish("bo@contoso.example", "s2", at)
	out = append(out, fixture.Body(legs[0]), fixture.Body(legs[1]))
	// A bare record, and one whose ids are spelled with \u escapes.
	rec := fixture.Body(legs[0])
	out = append(out, rec[len(`{"records":[`):len(rec)-2])
	out = append(out, bytes.ReplaceAll(fixture.Body(fixture.Phish("cy@contoso.example", "s3", at)...), []byte("29d9ed98-"), []byte(`29d9ed98\u002d`)))
	return out
}

func TestFastPathEqualsFullDecode(t *testing.T) {
	bodies := seedBodies(t)
	fast, full, fr, ur := runBoth(t, [][][]byte{bodies})
	require.Equal(t, full, fast)
	require.Equal(t, ur.Records, fr.Records)
	require.Equal(t, ur.Matched, fr.Matched)
	require.NotEmpty(t, fast, "the seeds contain attacks")
}

// FuzzFastPathEqualsFullDecode: on any input, the prefilter and scanner give
// exactly the alerts and matches of the full decode.
func FuzzFastPathEqualsFullDecode(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b, []byte(nil))
	}
	bodies := seedBodies(f)
	f.Add(bodies[len(bodies)-4], bodies[len(bodies)-3])
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fast, full, fr, ur := runBoth(t, [][][]byte{{a, b}})
		if len(full) != len(fast) {
			t.Fatalf("fast path gave %d alert rows, full decode %d", len(fast), len(full))
		}
		for i := range full {
			if full[i] != fast[i] {
				t.Fatalf("row %d differs:\nfast %s\nfull %s", i, fast[i], full[i])
			}
		}
		if fr.Matched != ur.Matched {
			t.Fatalf("matched: fast %d, full %d", fr.Matched, ur.Matched)
		}
	})
}
