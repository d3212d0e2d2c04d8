// Package handler adapts drswatch's pipeline to the Azure Functions custom
// handler protocol: the host POSTs {"Data":...,"Metadata":...} to
// /<FunctionName> on 127.0.0.1, chunked (no Content-Length), and expects
// {"Outputs":...,"Logs":[...],"ReturnValue":...} back. SignInLogs is the
// Event Hub trigger (binding "events"); Sweep is the timer.
//
// The host treats every non-2xx answer alike: the invocation failed, it is
// retried by the function's retry policy, and the answer's Logs are thrown
// away (functions-host-contract.md, "The answer"). So a 5xx means "retry
// this batch" and is given only for failures a retry can fix; the reason is
// in the log line, which the host does keep.
package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/drswatch/drswatch/pipeline"
)

// Processor is what the handler needs from the pipeline.
type Processor interface {
	Process(ctx context.Context, b pipeline.Batch) (pipeline.Result, error)
	Sweep(ctx context.Context) (pipeline.SweepResult, error)
}

// Options tune the handler.
type Options struct {
	// MaxBodyBytes caps an invocation body (default 64 MiB). The host sends
	// the body chunked, without a length, so the cap is enforced while
	// reading.
	MaxBodyBytes int64
	// Timeout bounds one invocation's work (default 4 minutes, under the
	// host's functionTimeout of 5).
	Timeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Ready reports whether the handler's dependencies are open (nil) or
	// why not; default always ready. GET / shows it.
	Ready func() error
}

// Handler serves the custom handler protocol.
type Handler struct {
	proc Processor
	log  *slog.Logger
	o    Options
	mux  *http.ServeMux
}

// ErrNotReady marks a dependency that is still being opened (serve opens
// the state store in the background); the invocation answers 503 and the
// host retries it.
var ErrNotReady = errors.New("not ready")

// Names of the functions (their folders) and of the trigger binding.
const (
	FunctionSignIns = "SignInLogs"
	FunctionSweep   = "Sweep"
	BindingEvents   = "events"
)

// New returns the handler. A nil logger discards logs.
func New(proc Processor, log *slog.Logger, o Options) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 4 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Ready == nil {
		o.Ready = func() error { return nil }
	}
	h := &Handler{proc: proc, log: log, o: o, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /"+FunctionSignIns, h.signIns)
	h.mux.HandleFunc("POST /"+FunctionSweep, h.sweep)
	// Any answer on the port tells the host the handler has started; the
	// body tells a person (or a test) whether its dependencies are open.
	h.mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st := struct {
			Status string `json:"status"`
			Reason string `json:"reason,omitempty"`
		}{Status: "ready"}
		if err := h.o.Ready(); err != nil {
			st.Status, st.Reason = "starting", truncate(err.Error(), 500)
		}
		b, _ := json.Marshal(st)
		_, _ = w.Write(b)
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// response is the custom handler's answer.
type response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

func reply(w http.ResponseWriter, status int, logs ...string) {
	if logs == nil {
		logs = []string{}
	}
	b, _ := json.Marshal(response{Outputs: map[string]any{}, Logs: logs})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readInvocation reads and decodes the envelope, answering 4xx itself when
// it cannot.
func (h *Handler) readInvocation(w http.ResponseWriter, r *http.Request, log *slog.Logger, bufs *buffers) (invocation, bool) {
	tooLarge := func(length int64) {
		log.Error("invocation body too large", "limit_bytes", h.o.MaxBodyBytes, "content_length", length, "outcome", "rejected")
		reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("drswatch: body over %d bytes rejected", h.o.MaxBodyBytes))
	}
	// The host sends no Content-Length (functions-host-contract.md): the
	// body is read only up to the cap. A declared length over the cap (some
	// other client) is refused before a byte is read.
	if r.ContentLength > h.o.MaxBodyBytes {
		tooLarge(r.ContentLength)
		return invocation{}, false
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes), r.ContentLength, h.o.MaxBodyBytes, bufs)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge(r.ContentLength)
			return invocation{}, false
		}
		log.Error("read invocation body", "error", err.Error(), "outcome", "rejected")
		reply(w, http.StatusBadRequest, "drswatch: cannot read body")
		return invocation{}, false
	}
	inv, err := parseInvocation(body, bufs)
	if err != nil {
		log.Error("malformed invocation", "error", truncate(err.Error(), 200), "outcome", "rejected")
		reply(w, http.StatusBadRequest, "drswatch: malformed invocation body")
		return invocation{}, false
	}
	return inv, true
}

func (h *Handler) signIns(w http.ResponseWriter, r *http.Request) {
	start := h.o.Now()
	log := h.log.With("function", FunctionSignIns, "invocation_id", r.Header.Get("X-Azure-Functions-InvocationId"))
	var bufs buffers
	defer bufs.release() // after the batch is processed and answered
	inv, ok := h.readInvocation(w, r, log, &bufs)
	if !ok {
		return
	}
	if inv.Data == nil {
		log.Error("invocation without Data", "outcome", "rejected")
		reply(w, http.StatusBadRequest, "drswatch: invocation has no Data")
		return
	}
	raw, ok := inv.Data[BindingEvents]
	if !ok {
		names := make([]string, 0, len(inv.Data))
		for k := range inv.Data {
			names = append(names, truncate(k, 64))
		}
		sort.Strings(names)
		log.Error("unknown trigger binding", "bindings", names, "want", BindingEvents, "outcome", "rejected")
		reply(w, http.StatusBadRequest, "drswatch: no binding named "+BindingEvents)
		return
	}
	bodies, err := decodeEvents(raw, &bufs)
	if err != nil {
		log.Error("malformed events binding", "error", truncate(err.Error(), 200), "outcome", "rejected")
		reply(w, http.StatusBadRequest, "drswatch: malformed events binding")
		return
	}
	meta := decodeMeta(inv.Metadata)
	events := make([]pipeline.Event, len(bodies))
	for i, b := range bodies {
		events[i] = pipeline.Event{Body: b}
		if i < len(meta.Enqueued) {
			events[i].EnqueuedAt = meta.Enqueued[i]
		}
	}
	attrs := []any{"events", len(events)}
	if meta.Partition != "" {
		attrs = append(attrs, "partition", meta.Partition)
	}
	if meta.HasSeq {
		attrs = append(attrs, "seq_first", meta.SeqFirst, "seq_last", meta.SeqLast)
	}
	if meta.HasRetry {
		attrs = append(attrs, "retry_count", meta.RetryCount)
	}
	log = log.With(attrs...)

	// The batch runs to its end even if the host goes away: a commit cut
	// half-way is safe, but finishing it spares the redelivery its work.
	// On SIGTERM, serve drains in-flight requests before it exits.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.o.Timeout)
	defer cancel()
	res, err := h.proc.Process(ctx, pipeline.Batch{Events: events, Received: start})
	took := h.o.Now().Sub(start)
	truncated := 0
	for _, a := range res.Alerts {
		log.Info("alert", "alert_id", a.AlertID, "revision", a.Revision, "delivered", a.Outcome == pipeline.Delivered,
			"latency_ms", a.Latency.Milliseconds(), "since_enqueued_ms", a.SinceEnqueued.Milliseconds())
		if len(a.TruncatedColumns) > 0 {
			truncated++
			log.Warn("alert value lists cut at their byte budget", "alert_id", a.AlertID, "revision", a.Revision,
				"truncated_columns", a.TruncatedColumns, "outcome", "truncated")
		}
	}
	for _, a := range res.Alerts {
		if a.Err != nil {
			log.Warn("alert delivery deferred to Sweep", "error", truncate(a.Err.Error(), 500))
		}
	}
	summary := []any{"records", res.Records, "matched", res.Matched, "skipped", res.Skipped,
		"groups", res.Groups, "writes", res.Writes, "alerts", len(res.Alerts), "truncated_alerts", truncated, "took_ms", took.Milliseconds()}
	if err != nil {
		status, failed := failure(err)
		log.Error("batch failed; the host will retry it", append(summary, "failed", failed, "error", truncate(err.Error(), 1000))...)
		reply(w, status, "drswatch: batch failed, retry: "+failed+": "+truncate(err.Error(), 500))
		return
	}
	log.Info("batch processed", summary...)
	reply(w, http.StatusOK, fmt.Sprintf("drswatch: %d records, %d matched, %d groups, %d alerts in %d ms",
		res.Records, res.Matched, res.Groups, len(res.Alerts), took.Milliseconds()))
}

func (h *Handler) sweep(w http.ResponseWriter, r *http.Request) {
	start := h.o.Now()
	log := h.log.With("function", FunctionSweep, "invocation_id", r.Header.Get("X-Azure-Functions-InvocationId"))
	var bufs buffers
	defer bufs.release()
	if _, ok := h.readInvocation(w, r, log, &bufs); !ok {
		return
	}
	// As for a batch: a sweep in flight finishes what it started.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.o.Timeout)
	defer cancel()
	res, err := h.proc.Sweep(ctx)
	for _, d := range res.Deliveries {
		if d.Err != nil {
			log.Warn("resend failed", "error", truncate(d.Err.Error(), 500))
		}
	}
	summary := []any{"expired", res.Expired, "resent", res.Resent, "delivered", res.Delivered,
		"dropped", res.Dropped, "pending", res.Pending, "took_ms", h.o.Now().Sub(start).Milliseconds()}
	if err != nil {
		status, failed := failure(err)
		log.Error("sweep failed", append(summary, "failed", failed, "error", truncate(err.Error(), 1000))...)
		reply(w, status, "drswatch: sweep failed: "+failed+": "+truncate(err.Error(), 500))
		return
	}
	log.Info("sweep done", summary...)
	reply(w, http.StatusOK, fmt.Sprintf("drswatch: sweep expired %d, resent %d, delivered %d, pending %d",
		res.Expired, res.Resent, res.Delivered, res.Pending))
}

// failure classifies an error of the pipeline, which fails a batch only
// when state could not be read or written (sink failures leave revisions in
// the outbox and do not fail it).
func failure(err error) (status int, failed string) {
	if errors.Is(err, ErrNotReady) {
		return http.StatusServiceUnavailable, "state store not ready"
	}
	return http.StatusInternalServerError, "state store unavailable"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// readBody reads a request body into pooled buffers: at once when its
// length is declared, else (as the host sends it) growing by doubling up to
// limit, past which r fails.
func readBody(r io.Reader, length, limit int64, bufs *buffers) ([]byte, error) {
	if length > 0 {
		buf := bufs.get(int(length))[:length]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf := bufs.get(64 << 10)
	for {
		if len(buf) == cap(buf) {
			buf = append(bufs.get(int(min(2*int64(cap(buf)), limit+1))), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
