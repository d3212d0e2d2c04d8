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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
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
	// DeadLetters keeps invocations no retry can fix. Without it such an
	// invocation answers 500 (and is retried).
	DeadLetters DeadLetters
	// Ready reports whether the handler's dependencies are open (nil) or
	// why not; default always ready. GET / shows it.
	Ready func() error
}

// Handler serves the custom handler protocol.
type Handler struct {
	proc         Processor
	log          *slog.Logger
	o            Options
	mux          *http.ServeMux
	deadLettered atomic.Int64
}

// DeadLetters keeps the raw bodies of invocations no retry can fix (not
// JSON, no Data, an unknown binding, a malformed events value, a body over
// the cap), for a person to read and replay (drswatch replay
// --invocation). Implementations: package deadletter (a blob container, a
// directory).
type DeadLetters interface {
	// Put stores body under name (DeadLetterName) and returns nil only once
	// it is durably stored. A name already present is replaced.
	Put(ctx context.Context, name string, body io.Reader) error
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

// Reasons an invocation is dead-lettered: no retry can fix them, so the
// handler keeps the raw body for a person and answers 2xx, rather than
// stall the partition forever (SignInLogs retries without end).
const (
	ReasonTooLarge         = "too_large"
	ReasonMalformed        = "malformed_invocation"
	ReasonNoData           = "no_data"
	ReasonUnknownBinding   = "unknown_binding"
	ReasonMalformedBinding = "malformed_events"
)

// maxDeadLetterBytes bounds what is streamed into one dead letter. The
// host's batches are far smaller (host.json); a body past it is cut there
// and the log line says so.
const maxDeadLetterBytes = 1 << 30

// readInvocation reads and decodes the envelope. When it cannot, it
// dead-letters the body and answers itself.
func (h *Handler) readInvocation(w http.ResponseWriter, r *http.Request, log *slog.Logger, start time.Time, bufs *buffers) (invocation, []byte, bool) {
	// The host sends no Content-Length (functions-host-contract.md, "The
	// request"): the body is read up to the cap, and the rest, if any, is
	// streamed into the dead letter without being held. A declared length
	// over the cap (another client) is streamed there at once.
	if r.ContentLength > h.o.MaxBodyBytes {
		h.deadLetter(w, r, log, start, "", ReasonTooLarge, "invocation body too large", io.LimitReader(r.Body, maxDeadLetterBytes),
			"limit_bytes", h.o.MaxBodyBytes, "content_length", r.ContentLength)
		return invocation{}, nil, false
	}
	body, err := readBody(io.LimitReader(r.Body, h.o.MaxBodyBytes+1), r.ContentLength, h.o.MaxBodyBytes, bufs)
	if err != nil {
		// A body cut short (the connection lost): a retry sends it whole.
		log.Error("read invocation body; the host will retry it", "error", err.Error(), "failed", "read")
		reply(w, http.StatusInternalServerError, "drswatch: cannot read body, retry: "+truncate(err.Error(), 200))
		return invocation{}, nil, false
	}
	if int64(len(body)) > h.o.MaxBodyBytes {
		rest := io.LimitReader(r.Body, maxDeadLetterBytes-int64(len(body)))
		h.deadLetter(w, r, log, start, "", ReasonTooLarge, "invocation body too large", io.MultiReader(bytes.NewReader(body), rest),
			"limit_bytes", h.o.MaxBodyBytes, "content_length", r.ContentLength)
		return invocation{}, nil, false
	}
	inv, err := parseInvocation(body, bufs)
	if err != nil {
		h.deadLetter(w, r, log, start, "", ReasonMalformed, "malformed invocation", bytes.NewReader(body),
			"error", truncate(err.Error(), 200))
		return invocation{}, nil, false
	}
	return inv, body, true
}

// deadLetter writes an invocation no retry can fix to the dead-letter
// store and answers 2xx, or answers 500 when the write failed, so that the
// host retries and nothing is lost.
func (h *Handler) deadLetter(w http.ResponseWriter, r *http.Request, log *slog.Logger, at time.Time, partition, reason, msg string, body io.Reader, attrs ...any) {
	name := DeadLetterName(at, partition, reason, r.Header.Get("X-Azure-Functions-InvocationId"))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.o.Timeout)
	defer cancel()
	cr := &countingReader{r: body}
	err := errors.New("no dead-letter store configured")
	if h.o.DeadLetters != nil {
		err = h.o.DeadLetters.Put(ctx, name, cr)
	}
	attrs = append(attrs, "problem", msg, "reason", reason, "dead_letter", name, "bytes", cr.n)
	if err != nil {
		log.Error("dead-letter write failed; the host will retry it", append(attrs, "failed", "dead_letter", "error", truncate(err.Error(), 1000))...)
		reply(w, http.StatusInternalServerError, "drswatch: "+msg+"; dead-letter write failed, retry: "+truncate(err.Error(), 500))
		return
	}
	if cr.n >= maxDeadLetterBytes {
		attrs = append(attrs, "truncated", true)
	}
	total := h.deadLettered.Add(1)
	log.Error("dead-lettered", append(attrs, "outcome", "dead_lettered", "dead_lettered_total", total)...)
	reply(w, http.StatusOK, fmt.Sprintf("drswatch: %s; dead-lettered as %s", msg, name))
}

// InvocationEvents returns the events of a SignInLogs invocation body as the
// host sends it (a dead letter, for drswatch replay --invocation), with
// their enqueued times when the metadata has them. The error says why the
// body is not one.
func InvocationEvents(body []byte) ([]pipeline.Event, error) {
	var bufs buffers // not released: the events keep its buffers
	inv, err := parseInvocation(body, &bufs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ReasonMalformed, err)
	}
	if inv.Data == nil {
		return nil, errors.New(ReasonNoData + ": the invocation has no Data")
	}
	raw, ok := inv.Data[BindingEvents]
	if !ok {
		return nil, fmt.Errorf("%s: no binding named %s", ReasonUnknownBinding, BindingEvents)
	}
	bodies, err := decodeEvents(raw, &bufs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ReasonMalformedBinding, err)
	}
	return events(bodies, decodeMeta(inv.Metadata)), nil
}

func events(bodies [][]byte, meta batchMeta) []pipeline.Event {
	events := make([]pipeline.Event, len(bodies))
	for i, b := range bodies {
		events[i] = pipeline.Event{Body: b}
		if i < len(meta.Enqueued) {
			events[i].EnqueuedAt = meta.Enqueued[i]
		}
	}
	return events
}

// DeadLettered returns how many invocations the handler has dead-lettered.
func (h *Handler) DeadLettered() int64 { return h.deadLettered.Load() }

// DeadLetterName is the name an invocation is dead-lettered under:
// YYYY/MM/DD/hhmmss.sssZ-p<partition>-<reason>-<invocation id>.json, in UTC,
// so that names sort by time and say where the batch came from (the
// partition is empty when the envelope could not be read, as for a body
// over the cap: the host writes Metadata after Data). Characters
// outside [A-Za-z0-9._-] in the partition and id become '_'.
func DeadLetterName(at time.Time, partition, reason, invocationID string) string {
	at = at.UTC()
	if invocationID == "" {
		invocationID = "none"
	}
	return fmt.Sprintf("%s/%s-p%s-%s-%s.json", at.Format("2006/01/02"), at.Format("150405.000Z"),
		safeName(partition, 32), reason, safeName(invocationID, 64))
}

func safeName(s string, n int) string {
	b := []byte(s[:min(len(s), n)])
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// countingReader counts what was read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (h *Handler) signIns(w http.ResponseWriter, r *http.Request) {
	start := h.o.Now()
	log := h.log.With("function", FunctionSignIns, "invocation_id", r.Header.Get("X-Azure-Functions-InvocationId"))
	var bufs buffers
	defer bufs.release() // after the batch is processed and answered
	inv, body, ok := h.readInvocation(w, r, log, start, &bufs)
	if !ok {
		return
	}
	meta := decodeMeta(inv.Metadata)
	if inv.Data == nil {
		h.deadLetter(w, r, log, start, meta.Partition, ReasonNoData, "invocation without Data", bytes.NewReader(body))
		return
	}
	raw, ok := inv.Data[BindingEvents]
	if !ok {
		names := make([]string, 0, len(inv.Data))
		for k := range inv.Data {
			names = append(names, truncate(k, 64))
		}
		sort.Strings(names)
		h.deadLetter(w, r, log, start, meta.Partition, ReasonUnknownBinding, "unknown trigger binding", bytes.NewReader(body),
			"bindings", names, "want", BindingEvents)
		return
	}
	bodies, err := decodeEvents(raw, &bufs)
	if err != nil {
		h.deadLetter(w, r, log, start, meta.Partition, ReasonMalformedBinding, "malformed events binding", bytes.NewReader(body),
			"error", truncate(err.Error(), 200))
		return
	}
	events := events(bodies, meta)
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
	deferred := 0
	for _, a := range res.Alerts {
		if a.Outcome == pipeline.Retry {
			deferred++
		}
		if a.Err != nil {
			log.Warn("alert delivery deferred to Sweep", "failed", "sink", "outcome", a.Outcome.String(), "error", truncate(a.Err.Error(), 500))
		}
	}
	summary := []any{"records", res.Records, "matched", res.Matched, "skipped", res.Skipped,
		"groups", res.Groups, "writes", res.Writes, "alerts", len(res.Alerts), "deferred", deferred,
		"truncated_alerts", truncated, "took_ms", took.Milliseconds(), "chain", res.Chain}
	if err != nil {
		status, failed := failure(err)
		log.Error("batch failed; the host will retry it", append(summary, "failed", failed, "error", truncate(err.Error(), 1000))...)
		reply(w, status, "drswatch: batch failed, retry: "+failed+": "+truncate(err.Error(), 500))
		return
	}
	log.Info("batch processed", summary...)
	msg := fmt.Sprintf("drswatch: %d records, %d matched, %d groups, %d alerts in %d ms",
		res.Records, res.Matched, res.Groups, len(res.Alerts), took.Milliseconds())
	if deferred > 0 {
		// State and the pending revisions are stored: the batch is done, and
		// Sweep resends what the sink did not take.
		msg += fmt.Sprintf("; %d alert revisions kept for Sweep: sink unavailable", deferred)
	}
	reply(w, http.StatusOK, msg)
}

func (h *Handler) sweep(w http.ResponseWriter, r *http.Request) {
	start := h.o.Now()
	log := h.log.With("function", FunctionSweep, "invocation_id", r.Header.Get("X-Azure-Functions-InvocationId"))
	var bufs buffers
	defer bufs.release()
	if _, _, ok := h.readInvocation(w, r, log, start, &bufs); !ok {
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
// limit+1 bytes, which r does not exceed.
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
		if int64(len(buf)) > limit {
			return buf, nil
		}
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
