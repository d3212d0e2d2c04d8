package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/drswatch/drswatch/pipeline"
)

// envelopeSeeds returns the recorded invocations and a few hand-made forms.
func envelopeSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	paths, _ := filepath.Glob(filepath.Join("testdata", "invocation-*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, c := range splitCases() {
		seeds = append(seeds, []byte(`{"Data":{"events":`+c.raw+`}}`))
	}
	return append(seeds,
		[]byte(`{"Data":{"events":"[]"}}`),
		[]byte(`{"Data":{"events":[{"records":[]}]}}`),
		[]byte(`{"Data":{"events":"\"[\\\"{}\\\"]\""}}`),
		[]byte(`{"Data":{"events":{"records":[{"category":"SignInLogs"}]}}}`),
		[]byte(`{"Data":{"events":"[null,1,\"\"]"},"Metadata":{"SequenceNumberArray":"[1,2]","EnqueuedTimeUtcArray":"[\"x\"]"}}`),
		[]byte(`{"Metadata":{}}`), []byte(`{"Data":{"messages":"[]"}}`), []byte(`{"Data":{"events":42}}`), []byte(`[]`), []byte(``),
	)
}

// FuzzDecodeEvents: the events binding decoder never panics, and the bodies
// it returns are never larger in total than three times its input (an
// invalid UTF-8 byte becomes the three bytes of U+FFFD). Wherever a string
// binding is decoded in one pass, two passes give the same bodies.
func FuzzDecodeEvents(f *testing.F) {
	for _, s := range envelopeSeeds(f) {
		if inv, err := parseInvocation(s, &buffers{}); err == nil {
			if bd, ok := inv.Data[BindingEvents]; ok {
				f.Add(bd.raw)
			}
		}
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		bd := binding{raw: raw}
		if len(raw) > 0 && raw[0] == '"' {
			checkSplit(t, raw, 0)
			var end int
			var err error
			if bd, end, err = stringBinding(raw, 0, &buffers{}); err != nil || end != len(raw) {
				return
			}
		}
		bodies, err := decodeEvents(bd, &buffers{})
		if err != nil {
			if bodies != nil {
				t.Fatalf("bodies %d with error %v", len(bodies), err)
			}
			return
		}
		total := 0
		for _, b := range bodies {
			total += len(b)
		}
		if total > 3*len(raw) {
			t.Fatalf("bodies hold %d bytes, input %d", total, len(raw))
		}
		_ = decodeMeta(map[string]json.RawMessage{"SequenceNumberArray": raw, "EnqueuedTimeUtcArray": raw, "PartitionContext": raw, "RetryContext": raw})
	})
}

// nopProcessor keeps the last batch's events.
type nopProcessor struct{ events []pipeline.Event }

func (p *nopProcessor) Process(_ context.Context, b pipeline.Batch) (pipeline.Result, error) {
	p.events = b.Events
	return pipeline.Result{Events: len(b.Events)}, nil
}

func (p *nopProcessor) Sweep(context.Context) (pipeline.SweepResult, error) {
	return pipeline.SweepResult{}, nil
}

// discardDeadLetters accepts every dead letter and keeps nothing.
type discardDeadLetters struct{}

func (discardDeadLetters) Put(_ context.Context, _ string, body io.Reader) error {
	_, err := io.Copy(io.Discard, body)
	return err
}

// FuzzInvocation posts any body to /SignInLogs, chunked as the host does:
// no panic, always a JSON custom handler answer, always 200 (an invocation
// no retry can fix is dead-lettered, never refused), and never more event
// bytes handed on than the body held.
func FuzzInvocation(f *testing.F) {
	for _, s := range envelopeSeeds(f) {
		f.Add(s)
	}
	p := &nopProcessor{}
	h := New(p, nil, Options{MaxBodyBytes: 1 << 20, DeadLetters: discardDeadLetters{}})
	f.Fuzz(func(t *testing.T, body []byte) {
		p.events = nil
		rec := httptest.NewRecorder()
		req := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/" + FunctionSignIns}, Header: http.Header{},
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: -1, TransferEncoding: []string{"chunked"}}
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		var resp struct {
			Outputs map[string]any
			Logs    []string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Outputs == nil || resp.Logs == nil {
			t.Fatalf("answer %q: %v", rec.Body.String(), err)
		}
		total := 0
		for _, ev := range p.events {
			total += len(ev.Body)
		}
		if total > 3*len(body) {
			t.Fatalf("events hold %d bytes, body %d", total, len(body))
		}
	})
}
