package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/handler"
	"github.com/drswatch/drswatch/internal/fixture"
	"github.com/drswatch/drswatch/internal/testenv"
	"github.com/drswatch/drswatch/pipeline"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// demoBodies are the last five bodies of the bundled sample, the ones the
// recorded invocations carry.
func demoBodies(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "demo.ndjson"))
	require.NoError(t, err)
	var out [][]byte
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		out = append(out, l)
	}
	return out[len(out)-5:]
}

// recordingProcessor is a hand-written fake that keeps the events it got.
type recordingProcessor struct {
	events []pipeline.Event
	sweeps int
}

func (p *recordingProcessor) Process(_ context.Context, b pipeline.Batch) (pipeline.Result, error) {
	p.events = append(p.events, b.Events...)
	return pipeline.Result{Events: len(b.Events)}, nil
}

func (p *recordingProcessor) Sweep(context.Context) (pipeline.SweepResult, error) {
	p.sweeps++
	return pipeline.SweepResult{}, nil
}

func TestEnvelopeForms(t *testing.T) {
	bodies := demoBodies(t)
	want := make([]string, len(bodies))
	for i, b := range bodies {
		want[i] = compact(t, b)
	}
	dataString := fixture.Invocation(bodies)
	// An older host encodes the whole value once more.
	var inv map[string]map[string]any
	require.NoError(t, json.Unmarshal(dataString, &inv))
	twice, _ := json.Marshal(inv["Data"]["events"])
	overEncoded, _ := json.Marshal(map[string]any{"Data": map[string]any{"events": string(twice)}, "Metadata": map[string]any{}})
	rawArray, _ := json.Marshal(map[string]any{"Data": map[string]any{"events": json.RawMessage("[" + string(bytes.Join(bodies, []byte(","))) + "]")}})

	tests := []struct {
		name string
		body []byte
	}{
		{"recorded dataType string", readFixture(t, "invocation-datatype-string.json")},
		{"recorded without dataType", readFixture(t, "invocation-datatype-object.json")},
		{"built dataType string", dataString},
		{"built without dataType", fixture.InvocationParsed(bodies)},
		{"string encoded twice", overEncoded},
		{"array not string encoded", rawArray},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingProcessor{}
			code, resp := testenv.Invoke(t, handler.New(p, nil, handler.Options{}), handler.FunctionSignIns, tc.body)
			require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
			require.Len(t, p.events, len(want))
			for i, ev := range p.events {
				require.Equal(t, want[i], compact(t, ev.Body), "event %d", i)
			}
		})
	}
}

func TestRecordedMetadataGivesEnqueuedTimes(t *testing.T) {
	p := &recordingProcessor{}
	code, _ := testenv.Invoke(t, handler.New(p, nil, handler.Options{}), handler.FunctionSignIns, readFixture(t, "invocation-datatype-string.json"))
	require.Equal(t, http.StatusOK, code)
	require.Len(t, p.events, 5)
	for i, ev := range p.events {
		require.False(t, ev.EnqueuedAt.IsZero(), "event %d has no enqueued time", i)
		require.Equal(t, "UTC", ev.EnqueuedAt.Location().String())
	}
	require.Equal(t, "2026-11-03T09:33:10.52Z", p.events[0].EnqueuedAt.Format("2006-01-02T15:04:05.999Z07:00"))
}

// TestMalformedInvocations: an invocation no retry can fix answers 200 (a
// non-2xx would be retried without end and stall the partition), with its
// raw body dead-lettered under a name holding its time, partition, reason
// and invocation id.
func TestMalformedInvocations(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 2048)
	tests := []struct {
		name   string
		body   []byte
		reason string
	}{
		{"not json", []byte("this is not json"), handler.ReasonMalformed},
		{"truncated json", []byte(`{"Data":{"events":"[`), handler.ReasonMalformed},
		{"empty body", nil, handler.ReasonMalformed},
		{"no Data", []byte(`{"Metadata":{}}`), handler.ReasonNoData},
		{"unknown binding", []byte(`{"Data":{"messages":"[]"}}`), handler.ReasonUnknownBinding},
		{"events is a number", []byte(`{"Data":{"events":42}}`), handler.ReasonMalformedBinding},
		{"events string is not json", []byte(`{"Data":{"events":"[not json"}}`), handler.ReasonMalformedBinding},
		{"body over the cap", append([]byte(`{"Data":{"events":"`), append(big, []byte(`"}}`)...)...), handler.ReasonTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingProcessor{}
			dl := &testenv.DeadLetters{}
			h := handler.New(p, nil, handler.Options{MaxBodyBytes: 1024, DeadLetters: dl, Now: func() time.Time {
				return time.Date(2026, 11, 3, 9, 33, 20, 0, time.UTC)
			}})
			code, resp := testenv.Invoke(t, h, handler.FunctionSignIns, tc.body)
			require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
			require.Empty(t, p.events)
			require.NotEmpty(t, resp.Logs)
			require.Contains(t, resp.Logs[0], "dead-lettered")
			name, body := dl.Only(t)
			require.Equal(t, "2026/11/03/093320.000Z-p-"+tc.reason+"-0f6e9c1a-1d2b-4c3d-8e4f-5a6b7c8d9e0f.json", name)
			require.Equal(t, string(tc.body), string(body), "the raw body, whole")
			require.Equal(t, int64(1), h.DeadLettered())
		})
	}
}

// TestDeadLetterFailureIsRetried: when the dead letter cannot be written the
// invocation answers 500, so the host retries it and nothing is lost.
func TestDeadLetterFailureIsRetried(t *testing.T) {
	var logs bytes.Buffer
	dl := &testenv.DeadLetters{}
	dl.SetDown(true)
	h := handler.New(&recordingProcessor{}, slog.New(slog.NewJSONHandler(&logs, nil)), handler.Options{DeadLetters: dl})
	code, resp := testenv.Invoke(t, h, handler.FunctionSignIns, []byte("this is not json"))
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, resp.Logs[0], "dead-letter write failed, retry")
	var line map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line))
	require.Equal(t, "dead_letter", line["failed"])
	require.Contains(t, line["error"], "blob service unavailable")
	require.Equal(t, int64(0), h.DeadLettered())

	dl.SetDown(false) // the host's retry
	code, _ = testenv.Invoke(t, h, handler.FunctionSignIns, []byte("this is not json"))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, int64(1), h.DeadLettered())
}

func TestEmptyBatch(t *testing.T) {
	p := &recordingProcessor{}
	code, _ := testenv.Invoke(t, handler.New(p, nil, handler.Options{}), handler.FunctionSignIns, []byte(`{"Data":{"events":"[]"},"Metadata":{}}`))
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, p.events)
}

func TestSweepTimerInvocation(t *testing.T) {
	p := &recordingProcessor{}
	code, resp := testenv.Invoke(t, handler.New(p, nil, handler.Options{}), handler.FunctionSweep, readFixture(t, "invocation-timer.json"))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, p.sweeps)
	require.True(t, strings.Contains(resp.Logs[0], "sweep"), "logs %v", resp.Logs)
}

func TestReadinessAndUnknownRoutes(t *testing.T) {
	h := handler.New(&recordingProcessor{}, nil, handler.Options{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/Other", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, b))
	return buf.String()
}

// TestRecordedInvocationsCarryTheHostsMetadata: the recorded invocations
// hold what a real Event Hubs invocation holds (functions-host-contract.md,
// "The request"), and the handler logs the partition and the retry count
// from them.
func TestRecordedInvocationsCarryTheHostsMetadata(t *testing.T) {
	for _, name := range []string{"invocation-datatype-string.json", "invocation-datatype-object.json"} {
		t.Run(name, func(t *testing.T) {
			body := readFixture(t, name)
			var inv struct{ Metadata map[string]json.RawMessage }
			require.NoError(t, json.Unmarshal(body, &inv))
			for _, k := range []string{"PartitionContext", "TriggerPartitionContext", "OffsetStringArray",
				"SequenceNumberArray", "EnqueuedTimeUtcArray", "RetryContext"} {
				require.Contains(t, inv.Metadata, k)
			}
			logs := &testenv.LogBuffer{}
			h := handler.New(&recordingProcessor{}, slog.New(slog.NewJSONHandler(logs, nil)), handler.Options{})
			code, resp := testenv.Invoke(t, h, handler.FunctionSignIns, body)
			require.Equal(t, http.StatusOK, code, "logs %v", resp.Logs)
			lines := logs.Lines(t, "batch processed")
			require.Len(t, lines, 1)
			require.Equal(t, "3", lines[0]["partition"])
			require.Equal(t, float64(0), lines[0]["retry_count"])
		})
	}
}

// failingProcessor fails every batch and sweep with err.
type failingProcessor struct{ err error }

func (p failingProcessor) Process(context.Context, pipeline.Batch) (pipeline.Result, error) {
	return pipeline.Result{}, p.err
}

func (p failingProcessor) Sweep(context.Context) (pipeline.SweepResult, error) {
	return pipeline.SweepResult{}, p.err
}

// TestAnswerSaysWhatFailed: a batch the store could not take answers 5xx
// (the host retries it), and the log line, the one record the host keeps of
// a non-2xx answer, names what failed.
func TestAnswerSaysWhatFailed(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int
		failed string
	}{
		{"store not opened yet", fmt.Errorf("state store %w: 403 AuthorizationPermissionMismatch", handler.ErrNotReady),
			http.StatusServiceUnavailable, "state store not ready"},
		{"store failed", errors.New("tablestore: load group 1: dial tcp: connection refused"),
			http.StatusInternalServerError, "state store unavailable"},
	}
	for _, tc := range tests {
		for _, fn := range []string{handler.FunctionSignIns, handler.FunctionSweep} {
			t.Run(tc.name+"/"+fn, func(t *testing.T) {
				var logs bytes.Buffer
				h := handler.New(failingProcessor{tc.err}, slog.New(slog.NewJSONHandler(&logs, nil)), handler.Options{})
				body := readFixture(t, "invocation-datatype-string.json")
				if fn == handler.FunctionSweep {
					body = readFixture(t, "invocation-timer.json")
				}
				code, resp := testenv.Invoke(t, h, fn, body)
				require.Equal(t, tc.code, code)
				require.Contains(t, resp.Logs[0], tc.failed)
				var line map[string]any
				require.NoError(t, json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line), logs.String())
				require.Equal(t, "ERROR", line["level"])
				require.Equal(t, tc.failed, line["failed"])
				require.Contains(t, line["error"], tc.err.Error())
			})
		}
	}
}

func TestReadinessSaysWhyNot(t *testing.T) {
	notYet := fmt.Errorf("state store %w: dial tcp: connection refused", handler.ErrNotReady)
	h := handler.New(&recordingProcessor{}, nil, handler.Options{Ready: func() error { return notYet }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code, "any answer tells the host the handler started")
	require.JSONEq(t, `{"status":"starting","reason":"state store not ready: dial tcp: connection refused"}`, rec.Body.String())
}

// deferringProcessor stores every batch but its sink takes no alert.
type deferringProcessor struct{ recordingProcessor }

func (p *deferringProcessor) Process(context.Context, pipeline.Batch) (pipeline.Result, error) {
	return pipeline.Result{Alerts: []pipeline.AlertInfo{{Delivery: pipeline.Delivery{AlertID: "a1", Revision: 1,
		Outcome: pipeline.Retry, Err: errors.New("sink: unavailable (HTTP 503)")}}}}, nil
}

// TestAnswerSaysTheSinkDeferred: a batch whose state is stored answers 200
// even when the sink takes none of its alerts (the outbox keeps them for
// Sweep), and says so in the answer and the log.
func TestAnswerSaysTheSinkDeferred(t *testing.T) {
	logs := &testenv.LogBuffer{}
	h := handler.New(&deferringProcessor{}, slog.New(slog.NewJSONHandler(logs, nil)), handler.Options{})
	code, resp := testenv.Invoke(t, h, handler.FunctionSignIns, readFixture(t, "invocation-datatype-string.json"))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, resp.Logs[0], "1 alert revisions kept for Sweep: sink unavailable")
	lines := logs.Lines(t, "alert delivery deferred to Sweep")
	require.Len(t, lines, 1)
	require.Equal(t, "sink", lines[0]["failed"])
	require.Equal(t, float64(1), logs.Lines(t, "batch processed")[0]["deferred"])
}
