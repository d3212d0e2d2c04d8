// Package pipeline runs the detection core over batches of Event Hub event
// bodies: it decodes and selects records, groups them by detection group,
// performs one read and at most one conditional write per touched group, and
// delivers new alert revisions through an outbox so that none is lost.
//
// The same Processor serves `drswatch replay` (memory store) and the Azure
// Functions handler (Table Storage). The store and the sink are the small
// interfaces declared here; implementations live in store/... and sink/...
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/store"
)

// GroupStore reads and conditionally writes group state.
type GroupStore interface {
	// Load returns the group, or an error wrapping store.ErrNotFound.
	Load(ctx context.Context, id string, window time.Time) (store.Group, error)
	// Commit creates (g.ETag == "") or conditionally updates the group and adds
	// the outbox entries in one atomic write. A lost race wraps store.ErrConflict.
	Commit(ctx context.Context, g store.Group, outbox []store.Pending) (string, error)
}

// Outbox holds alert revisions until the sink has accepted them.
type Outbox interface {
	ListPending(ctx context.Context, due time.Time, limit int) ([]store.Pending, error)
	UpdatePending(ctx context.Context, p store.Pending) (string, error)
	Ack(ctx context.Context, p store.Pending) error
}

// Store is everything the Processor needs from state storage.
type Store interface {
	GroupStore
	Outbox
	// Expire deletes groups whose ExpiresAt is before now and returns how many.
	Expire(ctx context.Context, now time.Time) (int, error)
}

// Sink delivers encoded alert rows. Send returns one error per row, nil when
// the row was accepted. An error with a Permanent() bool method returning
// true will fail again if the row is resent unchanged.
type Sink interface {
	Send(ctx context.Context, rows [][]byte) []error
}

// Options tune a Processor. Zero values take the documented defaults.
type Options struct {
	Rule detect.Rule // default detect.DefaultRule()
	// Lateness is how long after a window ends its records are accepted;
	// zero accepts any age (replay). It also sets how long state is kept.
	Lateness time.Duration
	// FutureSkew rejects records stamped further than this ahead of now; zero
	// accepts any time (replay).
	FutureSkew time.Duration
	// Geo says where the alert's location and AS columns come from (GeoIP
	// lookups, Entra's country names); nil keeps Entra's location with ISO
	// country codes.
	Geo *detect.Geo
	// Pseudonymize, when set, replaces user principal names and display names
	// in alert rows (not in state) by its result.
	Pseudonymize func(string) string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ConflictRetries bounds read-modify-write retries per group (default 16).
	ConflictRetries int
	// ResendAfter is how old a pending revision must be before Sweep resends
	// it (default 1 minute); the first resend backoff.
	ResendAfter time.Duration
	// MaxBackoff caps the resend backoff (default 30 minutes).
	MaxBackoff time.Duration
	// MaxPermanentFailures is how many permanent (4xx) rejections a revision
	// may get before it is dropped (default 5).
	MaxPermanentFailures int
	// SweepLimit bounds the revisions one Sweep resends (default 5000).
	SweepLimit int
	// GroupConcurrency bounds the groups of one batch whose state is read
	// and written at the same time (default 8).
	GroupConcurrency int
	// FullDecode turns off the byte prefilter (detect.ScanBody) and the
	// selective decoder (detect.DecodeRecordFast) and decodes every record in
	// full: the reference path the fast one is tested against.
	FullDecode bool
}

// Processor processes batches. It is safe for concurrent use.
type Processor struct {
	store Store
	sink  Sink
	o     Options
	pf    detect.Prefilter // built once: it holds the ids' lookup table
}

// New returns a Processor.
func New(st Store, sink Sink, o Options) *Processor {
	if o.Rule.Window == 0 {
		o.Rule = detect.DefaultRule()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ConflictRetries <= 0 {
		o.ConflictRetries = 16
	}
	if o.ResendAfter <= 0 {
		o.ResendAfter = time.Minute
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Minute
	}
	if o.MaxPermanentFailures <= 0 {
		o.MaxPermanentFailures = 5
	}
	if o.SweepLimit <= 0 {
		o.SweepLimit = 5000
	}
	if o.GroupConcurrency <= 0 {
		o.GroupConcurrency = 8
	}
	return &Processor{store: st, sink: sink, o: o, pf: o.Rule.Prefilter()}
}

// Event is one Event Hub event: its body and, when known, when Event Hubs
// enqueued it.
type Event struct {
	Body       []byte
	EnqueuedAt time.Time
}

// AlertInfo describes one alert revision produced by a batch.
type AlertInfo struct {
	AlertID   string
	Revision  int
	Delivered bool
	// SinceEnqueued is from the newest contributing event's enqueue time to
	// the hand-over to the sink; zero when unknown.
	SinceEnqueued time.Duration
	// SinceReceived is from the start of Process to the hand-over.
	SinceReceived time.Duration
	// TruncatedColumns names the value lists the revision had to cut (its
	// TruncatedColumns column); callers log and count them.
	TruncatedColumns []string
}

// Result counts what a batch did.
type Result struct {
	Events  int
	Records int
	Skipped map[string]int // by detect.Skip name
	Matched int            // records selected and new to their group
	Groups  int            // distinct groups touched
	// GroupIDs are the touched groups' ids (the AlertId they would have).
	GroupIDs []string
	Writes   int // group commits
	Alerts   []AlertInfo
	// DeliveryErrors are sink or outbox failures that did not fail the batch:
	// the revisions stay pending and Sweep resends them.
	DeliveryErrors []error
}

func (r *Result) skip(s detect.Skip) {
	if r.Skipped == nil {
		r.Skipped = map[string]int{}
	}
	r.Skipped[s.String()]++
}

type groupWork struct {
	key       detect.Key
	id        string
	records   []detect.Record
	enqueued  time.Time
	truncated []string // of the revision commitGroup made, if any
}

// Process handles one batch. It returns an error only when state could not
// be read or written; the batch should then be retried whole, which is safe:
// records already merged change nothing. Delivery failures are reported in
// the Result and left to Sweep.
func (p *Processor) Process(ctx context.Context, events []Event) (Result, error) {
	start := p.o.Now()
	res := Result{Events: len(events)}
	work := map[string]*groupWork{}
	decode := detect.DecodeRecordFast
	if p.o.FullDecode {
		decode = detect.DecodeRecord
	}
	for _, ev := range events {
		handle := func(raw []byte) {
			rec, skip := decode(raw)
			if skip != detect.SkipNone {
				res.skip(skip)
				return
			}
			key, skip := p.o.Rule.Select(rec)
			if skip == detect.SkipNone {
				skip = p.timely(rec, key, start)
			}
			if skip != detect.SkipNone {
				res.skip(skip)
				return
			}
			id := key.ID()
			w := work[id]
			if w == nil {
				w = &groupWork{key: key, id: id}
				work[id] = w
			}
			w.records = append(w.records, rec)
			if ev.EnqueuedAt.After(w.enqueued) {
				w.enqueued = ev.EnqueuedAt
			}
		}
		if p.o.FullDecode {
			res.Records += detect.SplitBody(ev.Body, handle)
			continue
		}
		n, rejected := detect.ScanBody(ev.Body, p.pf, handle)
		res.Records += n
		if rejected > 0 {
			if res.Skipped == nil {
				res.Skipped = map[string]int{}
			}
			res.Skipped[detect.SkipPrefiltered.String()] += rejected
		}
	}
	ids := make([]string, 0, len(work))
	for id := range work {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	res.Groups = len(ids)
	res.GroupIDs = ids

	// Groups are independent: their read-merge-write cycles run side by
	// side (bounded), and their outcomes are gathered in id order.
	type outcome struct {
		pend          *store.Pending
		matched, dups int
		wrote         bool
		err           error
	}
	outs := make([]outcome, len(ids))
	sem := make(chan struct{}, p.o.GroupConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			o := &outs[i]
			o.pend, o.matched, o.dups, o.wrote, o.err = p.commitGroup(ctx, work[id], start)
		}()
	}
	wg.Wait()
	var errs []error
	var fresh []store.Pending
	enq := map[string]time.Time{}
	for i, o := range outs {
		if o.err != nil {
			errs = append(errs, o.err)
			continue
		}
		res.Matched += o.matched
		for range o.dups {
			res.skip(detect.SkipDuplicate)
		}
		if o.wrote {
			res.Writes++
		}
		if o.pend != nil {
			fresh = append(fresh, *o.pend)
			enq[o.pend.GroupID] = work[ids[i]].enqueued
		}
	}
	if len(fresh) > 0 {
		delivered, derrs := p.deliver(ctx, fresh)
		now := p.o.Now()
		for i, pd := range fresh {
			info := AlertInfo{AlertID: pd.GroupID, Revision: pd.Revision, Delivered: delivered[i], SinceReceived: now.Sub(start),
				TruncatedColumns: work[pd.GroupID].truncated}
			if t := enq[pd.GroupID]; !t.IsZero() {
				info.SinceEnqueued = now.Sub(t)
			}
			res.Alerts = append(res.Alerts, info)
		}
		res.DeliveryErrors = derrs
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("process batch: %w", err)
	}
	return res, nil
}

// timely rejects records outside the accepted time range.
func (p *Processor) timely(rec detect.Record, key detect.Key, now time.Time) detect.Skip {
	if p.o.Lateness > 0 && key.Window.Add(p.o.Rule.Window+p.o.Lateness).Before(now) {
		return detect.SkipLate
	}
	if p.o.FutureSkew > 0 && rec.Timestamp.After(now.Add(p.o.FutureSkew)) {
		return detect.SkipFuture
	}
	return detect.SkipNone
}

func (p *Processor) retention() time.Duration {
	if p.o.Lateness > 0 {
		return p.o.Lateness
	}
	return 24 * time.Hour
}

// commitGroup merges a group's records with its stored state: one read and,
// when anything changed, one conditional write (repeated on a lost race).
func (p *Processor) commitGroup(ctx context.Context, w *groupWork, now time.Time) (pend *store.Pending, matched, dups int, wrote bool, err error) {
	for attempt := 0; ; attempt++ {
		stored, err := p.store.Load(ctx, w.id, w.key.Window)
		g := detect.NewGroup(w.key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			stored = store.Group{}
		case err != nil:
			return nil, 0, 0, false, fmt.Errorf("load group %s: %w", w.id, err)
		default:
			if err := g.UnmarshalBinary(stored.State); err != nil {
				return nil, 0, 0, false, fmt.Errorf("group %s: %w", w.id, err)
			}
		}
		matched, dups = 0, 0
		for _, rec := range w.records {
			if g.Merge(rec, p.o.Geo) {
				matched++
			} else {
				dups++
			}
		}
		if matched == 0 {
			return nil, 0, dups, false, nil
		}
		var outbox []store.Pending
		if alert, ok := p.o.Rule.Evaluate(g, now); ok {
			w.truncated = alert.TruncatedColumns
			row, err := p.encode(alert)
			if err != nil {
				return nil, 0, 0, false, fmt.Errorf("group %s: encode alert: %w", w.id, err)
			}
			outbox = []store.Pending{{
				GroupID: w.id, Window: w.key.Window, Revision: alert.Revision, Row: row,
				CreatedAt: now, NextAttempt: now.Add(p.o.ResendAfter),
			}}
		}
		state, err := g.MarshalBinary()
		if err != nil {
			return nil, 0, 0, false, fmt.Errorf("group %s: encode state: %w", w.id, err)
		}
		sg := store.Group{
			ID: w.id, Window: w.key.Window, ExpiresAt: w.key.Window.Add(p.o.Rule.Window + p.retention()),
			UPN: w.key.UPN, SessionID: w.key.SessionID, State: state, ETag: stored.ETag,
		}
		if len(sg.UPN) > detect.MaxKeyBytes {
			sg.UPN = sg.UPN[:detect.MaxKeyBytes]
		}
		_, err = p.store.Commit(ctx, sg, outbox)
		if errors.Is(err, store.ErrConflict) && attempt < p.o.ConflictRetries {
			continue
		}
		if err != nil {
			return nil, 0, 0, false, fmt.Errorf("commit group %s: %w", w.id, err)
		}
		if len(outbox) > 0 {
			return &outbox[0], matched, dups, true, nil
		}
		return nil, matched, dups, true, nil
	}
}

// encode turns an alert into its row, pseudonymizing names when configured.
func (p *Processor) encode(a detect.Alert) ([]byte, error) {
	if f := p.o.Pseudonymize; f != nil {
		a.UserPrincipalName = f(a.UserPrincipalName)
		a.UserPrincipalNames = mapAll(a.UserPrincipalNames, f)
		a.UserDisplayNames = mapAll(a.UserDisplayNames, f)
	}
	return a.MarshalJSON()
}

func mapAll(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	slices.Sort(out)
	return out
}

type permanent interface{ Permanent() bool }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) && p.Permanent()
}

// deliver sends pending revisions and records the outcome in the outbox:
// accepted ones are acknowledged (removed), failed ones get a later attempt,
// and those rejected permanently too often are dropped. It reports which
// were delivered and the errors met.
func (p *Processor) deliver(ctx context.Context, pend []store.Pending) ([]bool, []error) {
	rows := make([][]byte, len(pend))
	for i := range pend {
		rows[i] = pend[i].Row
	}
	sendErrs := p.sink.Send(ctx, rows)
	delivered := make([]bool, len(pend))
	var errs []error
	now := p.o.Now()
	for i, pd := range pend {
		var serr error
		if i < len(sendErrs) {
			serr = sendErrs[i]
		}
		if serr == nil {
			delivered[i] = true
			if err := p.store.Ack(ctx, pd); err != nil {
				errs = append(errs, fmt.Errorf("ack alert %s revision %d: %w", pd.GroupID, pd.Revision, err))
			}
			continue
		}
		pd.Attempts++
		if isPermanent(serr) {
			pd.PermanentFailures++
		}
		pd.LastError = truncate(serr.Error(), 512)
		if pd.PermanentFailures >= p.o.MaxPermanentFailures {
			errs = append(errs, &DroppedError{GroupID: pd.GroupID, Revision: pd.Revision, Err: serr})
			if err := p.store.Ack(ctx, pd); err != nil {
				errs = append(errs, fmt.Errorf("drop alert %s revision %d: %w", pd.GroupID, pd.Revision, err))
			}
			continue
		}
		pd.NextAttempt = now.Add(p.backoff(pd.Attempts))
		if pd.ETag == "" { // committed by this batch: its version is not known
			pd.ETag = store.ETagAny
		}
		errs = append(errs, fmt.Errorf("deliver alert %s revision %d (attempt %d): %w", pd.GroupID, pd.Revision, pd.Attempts, serr))
		if _, err := p.store.UpdatePending(ctx, pd); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("record attempt for alert %s revision %d: %w", pd.GroupID, pd.Revision, err))
		}
	}
	return delivered, errs
}

// DroppedError reports a revision given up after repeated permanent
// rejections.
type DroppedError struct {
	GroupID  string
	Revision int
	Err      error
}

func (e *DroppedError) Error() string {
	return fmt.Sprintf("dropped alert %s revision %d after repeated permanent failures: %v", e.GroupID, e.Revision, e.Err)
}

func (e *DroppedError) Unwrap() error { return e.Err }

func (p *Processor) backoff(attempts int) time.Duration {
	d := p.o.ResendAfter
	for i := 1; i < attempts && d < p.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.o.MaxBackoff)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// SweepResult counts what a sweep did.
type SweepResult struct {
	Expired   int
	Resent    int
	Delivered int
	Dropped   int
	Pending   int // revisions still pending after the sweep (of those seen)
	Errors    []error
}

// Sweep deletes expired state and resends pending alert revisions whose next
// attempt is due.
func (p *Processor) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := p.o.Now()
	n, err := p.store.Expire(ctx, now)
	res.Expired = n
	if err != nil {
		return res, fmt.Errorf("sweep: expire: %w", err)
	}
	due, err := p.store.ListPending(ctx, now, p.o.SweepLimit)
	if err != nil {
		return res, fmt.Errorf("sweep: list pending: %w", err)
	}
	res.Resent = len(due)
	if len(due) > 0 {
		delivered, errs := p.deliver(ctx, due)
		for _, d := range delivered {
			if d {
				res.Delivered++
			}
		}
		for _, e := range errs {
			var de *DroppedError
			if errors.As(e, &de) {
				res.Dropped++
			}
		}
		res.Errors = errs
	}
	all, err := p.store.ListPending(ctx, now.Add(100*365*24*time.Hour), p.o.SweepLimit)
	if err != nil {
		return res, fmt.Errorf("sweep: count pending: %w", err)
	}
	res.Pending = len(all)
	return res, nil
}
