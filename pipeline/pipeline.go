// Package pipeline runs the detection core over batches of Event Hub event
// bodies. A batch goes through three stages, each a method of Processor:
//
//   - Plan, pure (no store, no clock of its own): decode and select the
//     records, drop the late and the future ones, group the rest by
//     detection group, and count what was skipped and why.
//   - Commit: for each touched group, one read and at most one conditional
//     write of its state together with the new alert revision, if any, in
//     its outbox. Groups run side by side under one limit per Processor;
//     the first failure cancels the rest.
//   - Deliver: hand revisions to the sink and record each outcome in the
//     outbox: delivered (removed), retry (kept, with a later attempt) or
//     dropped (removed after repeated permanent rejections).
//
// Process runs the three for one batch; Sweep expires old state and
// delivers again what is still pending, so no revision is lost.
//
// The same Processor serves `drswatch replay` (memory store) and the Azure
// Functions handler (Table Storage). The store and the sink are the small
// interfaces declared here; implementations live in store/... and sink/...
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/store"
)

// GroupStore reads and conditionally writes group state.
type GroupStore interface {
	// Load returns the group, or an error wrapping store.ErrNotFound.
	Load(ctx context.Context, id string, window time.Time) (store.Group, error)
	// Commit creates (g.ETag == "") or conditionally updates the group and adds
	// the outbox entries in one atomic write. A lost race wraps store.ErrConflict.
	Commit(ctx context.Context, g store.Group, outbox []store.Pending) error
}

// Outbox holds alert revisions until the sink has accepted them.
type Outbox interface {
	// ListPending returns up to limit entries whose NextAttempt is not after
	// due, each with its ETag.
	ListPending(ctx context.Context, due time.Time, limit int) ([]store.Pending, error)
	// CountPending returns how many entries there are, due or not.
	CountPending(ctx context.Context) (int, error)
	// UpdatePending replaces an entry if its ETag matches p.ETag (any
	// version for store.ETagAny); store.ErrConflict or store.ErrNotFound if
	// not.
	UpdatePending(ctx context.Context, p store.Pending) error
	// Ack removes an entry, whatever its version; a missing one is no error.
	Ack(ctx context.Context, p store.Pending) error
}

// Store is everything the Processor needs from state storage.
type Store interface {
	GroupStore
	Outbox
	// Expire deletes the groups c says are due and returns how many.
	Expire(ctx context.Context, c store.Cutoff) (int, error)
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
	// ConflictBackoff is the longest wait before the first retry after a
	// lost race (default 10ms). It doubles with each retry up to one second,
	// and each wait is drawn at random below it, so writers racing for one
	// group spread out instead of colliding again.
	ConflictBackoff time.Duration
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
	// GroupConcurrency bounds the store work the Processor runs side by side
	// (a group's read-merge-write, the outbox record of a delivery) across
	// all the batches and sweeps it runs at once (default 8): one limit per
	// process, since a process has one Processor. Sweep's own scans (Expire,
	// ListPending, CountPending) run one after the other, outside it.
	GroupConcurrency int
	// SeedOnly turns off the sliding-window rule and the attack chain: the
	// Processor is then the ES|QL rule alone, and touches no state but the
	// seed groups and their outbox.
	SeedOnly bool
	// ChainHorizon is how long registrations, PRT sign-ins and alerts are
	// kept per user to be linked (default detect.DefaultChainHorizon).
	ChainHorizon time.Duration
	// WatchRefresh is how old the Processor's copy of the watch list (the
	// devices whose sign-ins are decoded) may get before it is read again
	// (default 10 seconds).
	WatchRefresh time.Duration
}

// maxConflictBackoff caps the wait between retries after lost races.
const maxConflictBackoff = time.Second

// Processor processes batches. It is safe for concurrent use.
type Processor struct {
	store Store
	sink  Sink
	o     Options
	pf    detect.Prefilter    // built once: it holds the ids' lookup table
	calls *semaphore.Weighted // store calls in flight, for the whole Processor
	watch watchCache          // the devices whose sign-ins are decoded
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
	if o.ConflictBackoff <= 0 {
		o.ConflictBackoff = 10 * time.Millisecond
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
	if o.WatchRefresh <= 0 {
		o.WatchRefresh = 10 * time.Second
	}
	return &Processor{
		store: st, sink: sink, o: o, pf: o.Rule.Prefilter(),
		calls: semaphore.NewWeighted(int64(o.GroupConcurrency)),
	}
}

// Event is one Event Hub event: its body and, when known, when Event Hubs
// enqueued it.
type Event struct {
	Body       []byte
	EnqueuedAt time.Time
}

// Batch is the events of one invocation and when drswatch received them.
type Batch struct {
	Events []Event
	// Received is when the batch reached drswatch, on the Processor's clock
	// (Options.Now); alert latency counts from it. Zero means when Process
	// starts.
	Received time.Time
}

// SkipCounts counts records by why they were not used, indexed by
// detect.Skip; the SkipNone entry stays zero.
type SkipCounts [detect.NumSkips]int

// Total returns the number of skipped records.
func (c SkipCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// LogValue logs the non-zero counts as a group keyed by the reasons' names;
// no skips log nothing.
func (c SkipCounts) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, s := range detect.Skips() {
		if c[s] > 0 {
			attrs = append(attrs, slog.Int(s.String(), c[s]))
		}
	}
	return slog.GroupValue(attrs...)
}

// Plan is what a batch holds for the store: its records grouped by
// detection group, with counts of the rest.
type Plan struct {
	// Records counts the records read, skipped or not.
	Records int
	// Skipped counts the records not used, by reason. Duplicates are known
	// only once a group's state is read: Commit counts them.
	Skipped SkipCounts
	// Groups are the touched groups, sorted by ID.
	Groups []GroupWork
	// Chain is the attack-chain part: device audit records, PRT sign-ins of
	// watched devices, and the sliding-rule sessions of Groups.
	Chain ChainPlan
}

// GroupWork is the records of one batch for one detection group.
type GroupWork struct {
	Key     detect.Key
	ID      string // Key.ID(): the group's AlertId
	Records []detect.Record
	// Enqueued is the newest enqueue time of the events that contributed;
	// zero when unknown.
	Enqueued time.Time
}

// Plan decodes and selects the records of events, rejects those outside the
// accepted time range as of now, and groups the rest. It reads no clock and
// no store.
func (p *Processor) Plan(events []Event, now time.Time) Plan {
	var pl Plan
	index := map[string]int{}
	devices := p.watchFilter()
	seenPRT := map[string]bool{}
	chain := chainHandler(&pl.Chain, devices, seenPRT)
	for _, ev := range events {
		handle := func(raw []byte) {
			rec, skip := detect.DecodeRecord(raw)
			if skip != detect.SkipNone {
				pl.Skipped[skip]++
				return
			}
			key, skip := p.o.Rule.Select(rec)
			if skip == detect.SkipNone {
				skip = p.timely(rec, key, now)
			}
			if skip != detect.SkipNone {
				pl.Skipped[skip]++
				return
			}
			id := key.ID()
			i, ok := index[id]
			if !ok {
				i = len(pl.Groups)
				index[id] = i
				pl.Groups = append(pl.Groups, GroupWork{Key: key, ID: id})
			}
			w := &pl.Groups[i]
			w.Records = append(w.Records, rec)
			if ev.EnqueuedAt.After(w.Enqueued) {
				w.Enqueued = ev.EnqueuedAt
			}
		}
		var n, rejected int
		if p.o.SeedOnly {
			n, rejected = detect.ScanBody(ev.Body, p.pf, handle)
		} else {
			// One pass over the body for the rule's records and the chain's.
			n, rejected, _ = devices.ScanBodyWith(ev.Body, p.pf, handle, chain)
		}
		pl.Records += n
		pl.Skipped[detect.SkipPrefiltered] += rejected
	}
	slices.SortFunc(pl.Groups, func(a, b GroupWork) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(pl.Chain.Devices, func(a, b DeviceWork) int { return strings.Compare(a.ID, b.ID) })
	if !p.o.SeedOnly {
		pl.Chain.Sessions = planSessions(pl.Groups)
	}
	return pl
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

// lifetime is how long after its window starts a group's state is kept:
// every group gets the same, which lets Sweep tell the store which windows
// can hold due state.
func (p *Processor) lifetime() time.Duration {
	keep := p.o.Lateness
	if keep <= 0 {
		keep = 24 * time.Hour
	}
	return p.o.Rule.Window + keep
}

// Committed is what Commit did.
type Committed struct {
	Matched    int // records new to their group
	Duplicates int // records their group had counted already
	Writes     int // groups written
	// Revisions are the alert revisions written to the outbox, in group
	// order.
	Revisions []Revision
}

// Revision is an alert revision a batch wrote to the outbox.
type Revision struct {
	store.Pending
	// Enqueued is its group's GroupWork.Enqueued.
	Enqueued time.Time
	// TruncatedColumns names the value lists the revision had to cut (its
	// TruncatedColumns column).
	TruncatedColumns []string
}

// groupResult is what one group's commit did.
type groupResult struct {
	matched, dups int
	wrote         bool
	pending       *store.Pending // the new revision, if any
	truncated     []string       // the new revision's TruncatedColumns
	more          []Revision     // revisions from linking the alert to its chain
	started       bool           // commitGroup ran for it
}

// Commit merges each group of plan with its stored state and writes what
// changed, evaluating the rule as of now. Groups are independent and run
// side by side, each holding one of the Processor's store-call slots; no
// group starts once ctx is done, and the first failure cancels the groups
// still running. The error is that first failure; the batch should then be
// retried whole, which is safe: records already merged change nothing. Even
// then, Committed counts the groups that were written, and their revisions
// are in the outbox.
func (p *Processor) Commit(ctx context.Context, plan Plan, now time.Time) (Committed, error) {
	results := make([]groupResult, len(plan.Groups))
	err := p.each(ctx, len(plan.Groups), func(ctx context.Context, i int) error {
		r, err := p.commitGroup(ctx, &plan.Groups[i], now)
		r.started = true
		results[i] = r // a group written before a later step failed still counts
		return err
	})
	if err != nil {
		// each starts the groups in order: from the first it did not start
		// on, none was tried.
		if i := slices.IndexFunc(results, func(r groupResult) bool { return !r.started }); i >= 0 {
			err = fmt.Errorf("group %s and those after it not committed: %w", plan.Groups[i].ID, err)
		}
	}
	var c Committed
	for i, r := range results {
		c.Matched += r.matched
		c.Duplicates += r.dups
		if r.wrote {
			c.Writes++
		}
		if r.pending != nil {
			c.Revisions = append(c.Revisions, Revision{Pending: *r.pending, Enqueued: plan.Groups[i].Enqueued, TruncatedColumns: r.truncated})
		}
		c.Revisions = append(c.Revisions, r.more...)
	}
	return c, err
}

// commitGroup merges a group's records with its stored state: one read and,
// when anything changed, one conditional write, both repeated after a lost
// race (with a jittered, growing wait). Store errors come back as the store
// wrapped them.
func (p *Processor) commitGroup(ctx context.Context, w *GroupWork, now time.Time) (groupResult, error) {
	for attempt := 0; ; attempt++ {
		stored, err := p.store.Load(ctx, w.ID, w.Key.Window)
		g := detect.NewGroup(w.Key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			stored = store.Group{}
		case err != nil:
			return groupResult{}, err
		default:
			if err := g.UnmarshalBinary(stored.State); err != nil {
				return groupResult{}, fmt.Errorf("group %s: %w", w.ID, err)
			}
		}
		var r groupResult
		for _, rec := range w.Records {
			if g.Merge(rec, p.o.Geo) {
				r.matched++
			} else {
				r.dups++
			}
		}
		if r.matched == 0 {
			// Nothing new; but a retried batch must still record an
			// alerting group in its user's chain, if the try before failed
			// between the two.
			if !p.o.SeedOnly && p.o.Rule.Alerting(g) {
				_, seen, err := p.chainView(ctx, w.Key.UPN, w.Key.Window)
				if err != nil {
					return r, fmt.Errorf("group %s: %w", w.ID, err)
				}
				more, err := p.linkAlert(ctx, w.Key.UPN, detect.AlertRef{ID: w.ID, Window: w.Key.Window}, seen, now)
				r.more = more
				if err != nil {
					return r, fmt.Errorf("group %s: link alert: %w", w.ID, err)
				}
			}
			return r, nil
		}
		var outbox []store.Pending
		// An alerting group carries its user's chain columns, computed from
		// the chain's current version; linkAlert then records the alert in
		// the chain (and revises it if the chain moved on meanwhile).
		var view *detect.ChainView
		seen := ""
		if !p.o.SeedOnly && p.o.Rule.Alerting(g) {
			v, etag, err := p.chainView(ctx, w.Key.UPN, w.Key.Window)
			if err != nil {
				return groupResult{}, fmt.Errorf("group %s: %w", w.ID, err)
			}
			view, seen = &v, etag
		}
		if alert, ok := p.o.Rule.EvaluateChained(g, now, view); ok {
			r.truncated = alert.TruncatedColumns
			row, err := p.encode(alert)
			if err != nil {
				return groupResult{}, fmt.Errorf("group %s: encode alert: %w", w.ID, err)
			}
			outbox = []store.Pending{{
				GroupID: w.ID, Window: w.Key.Window, Revision: alert.Revision, Row: row,
				CreatedAt: now, NextAttempt: now.Add(p.o.ResendAfter),
			}}
		}
		state, err := g.MarshalBinary()
		if err != nil {
			return groupResult{}, fmt.Errorf("group %s: encode state: %w", w.ID, err)
		}
		sg := store.Group{
			ID: w.ID, Window: w.Key.Window, ExpiresAt: w.Key.Window.Add(p.lifetime()),
			UPN: w.Key.UPN, SessionID: w.Key.SessionID, State: state, ETag: stored.ETag,
		}
		if len(sg.UPN) > detect.MaxKeyBytes {
			sg.UPN = sg.UPN[:detect.MaxKeyBytes]
		}
		err = p.store.Commit(ctx, sg, outbox)
		if errors.Is(err, store.ErrConflict) {
			if attempt == p.o.ConflictRetries {
				return groupResult{}, fmt.Errorf("gave up after %d lost races: %w", attempt+1, err)
			}
			if err := sleep(ctx, p.conflictWait(attempt)); err != nil {
				return groupResult{}, fmt.Errorf("group %s: waiting to retry: %w", w.ID, err)
			}
			continue
		}
		if err != nil {
			return groupResult{}, err
		}
		r.wrote = true
		if len(outbox) > 0 {
			r.pending = &outbox[0]
		}
		if view != nil {
			more, err := p.linkAlert(ctx, w.Key.UPN, detect.AlertRef{ID: w.ID, Window: w.Key.Window}, seen, now)
			r.more = more
			if err != nil {
				return r, fmt.Errorf("group %s: link alert: %w", w.ID, err)
			}
		}
		return r, nil
	}
}

// conflictWait is the wait before retry attempt+1 after a lost race: drawn
// at random below ConflictBackoff * 2^attempt, capped at one second ("full
// jitter").
func (p *Processor) conflictWait(attempt int) time.Duration {
	d := p.o.ConflictBackoff
	for i := 0; i < attempt && d < maxConflictBackoff; i++ {
		d *= 2
	}
	return rand.N(min(d, maxConflictBackoff))
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
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

// Outcome is what delivery did with one revision.
type Outcome uint8

// Outcomes of a delivery.
const (
	// Delivered: the sink accepted the revision and it left the outbox.
	Delivered Outcome = iota + 1
	// Retry: the sink did not accept it; it stays pending with a later
	// attempt, and Sweep sends it again.
	Retry
	// Dropped: the sink rejected it permanently MaxPermanentFailures times;
	// it left the outbox undelivered.
	Dropped
)

var outcomeNames = [...]string{Delivered: "delivered", Retry: "retry", Dropped: "dropped"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && outcomeNames[o] != "" {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Delivery is the outcome of delivering one revision.
type Delivery struct {
	AlertID  string
	Revision int
	Outcome  Outcome
	// Err is nil when all went well. For Retry and Dropped it is the sink's
	// error, with any failure to record the outcome in the outbox; for
	// Delivered, a failure to remove the entry, which may then be sent again.
	Err error
}

// Deliver sends revisions to the sink in one call and records each outcome
// in the outbox: accepted ones are removed, failed ones get a later attempt
// (backing off from ResendAfter to MaxBackoff), and those rejected
// permanently too often are removed undelivered. It returns one Delivery per
// revision, in order. A revision without an ETag (committed by this batch)
// is updated whatever its stored version.
func (p *Processor) Deliver(ctx context.Context, pend []store.Pending) []Delivery {
	out := make([]Delivery, len(pend))
	if len(pend) == 0 {
		return out
	}
	rows := make([][]byte, len(pend))
	for i := range pend {
		rows[i] = pend[i].Row
	}
	sendErrs := p.sink.Send(ctx, rows)
	now := p.o.Now()
	var g errgroup.Group // outbox records are independent: no cancellation
	for i, pd := range pend {
		d := &out[i]
		*d = Delivery{AlertID: pd.GroupID, Revision: pd.Revision}
		var serr error
		if i < len(sendErrs) {
			serr = sendErrs[i]
		}
		verb := "ack"
		record := func() error {
			if err := p.store.Ack(ctx, pd); err != nil {
				return fmt.Errorf("%s alert %s revision %d: %w", verb, pd.GroupID, pd.Revision, err)
			}
			return nil
		}
		switch {
		case serr == nil:
			d.Outcome = Delivered
		default:
			pd.Attempts++
			if isPermanent(serr) {
				pd.PermanentFailures++
			}
			pd.LastError = truncate(serr.Error(), 512)
			if pd.PermanentFailures >= p.o.MaxPermanentFailures {
				d.Outcome, verb = Dropped, "drop"
				d.Err = fmt.Errorf("dropped alert %s revision %d after repeated permanent failures: %w", pd.GroupID, pd.Revision, serr)
				break
			}
			d.Outcome = Retry
			d.Err = fmt.Errorf("deliver alert %s revision %d (attempt %d): %w", pd.GroupID, pd.Revision, pd.Attempts, serr)
			pd.NextAttempt = now.Add(p.backoff(pd.Attempts))
			if pd.ETag == "" { // committed by this batch: its version is not known
				pd.ETag = store.ETagAny
			}
			record = func() error {
				// A conflict or a missing entry means another sweep handled it.
				err := p.store.UpdatePending(ctx, pd)
				if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("record attempt for alert %s revision %d: %w", pd.GroupID, pd.Revision, err)
				}
				return nil
			}
		}
		if err := p.calls.Acquire(ctx, 1); err != nil {
			d.Err = errors.Join(d.Err, fmt.Errorf("outcome of alert %s revision %d not recorded: %w", pd.GroupID, pd.Revision, err))
			continue
		}
		g.Go(func() error {
			defer p.calls.Release(1)
			if err := record(); err != nil {
				d.Err = errors.Join(d.Err, err)
			}
			return nil
		})
	}
	_ = g.Wait() // every record reports into its own Delivery
	return out
}

func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

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

// AlertInfo describes one alert revision produced by a batch.
type AlertInfo struct {
	Delivery
	// Latency is from the batch's Received time to the end of its delivery.
	Latency time.Duration
	// SinceEnqueued is from the newest contributing event's enqueue time to
	// the end of its delivery; zero when unknown.
	SinceEnqueued time.Duration
	// TruncatedColumns names the value lists the revision had to cut (its
	// TruncatedColumns column); callers log and count them.
	TruncatedColumns []string
}

// Result counts what a batch did.
type Result struct {
	Events  int
	Records int
	Skipped SkipCounts
	Matched int // records selected and new to their group
	Groups  int // distinct groups touched
	// GroupIDs are the touched groups' ids (the AlertId they would have).
	GroupIDs []string
	Writes   int // group commits
	// Alerts has one entry per new revision, delivered or not: those not
	// delivered stay pending and Sweep resends them.
	Alerts []AlertInfo
	// Chain counts the attack-chain part: audit records by outcome, device
	// records the filter passed, PRT sign-ins kept, entities written.
	Chain ChainResult
}

// ChainResult counts what the attack-chain part of a batch did.
type ChainResult struct {
	Audit         AuditCounts // audit records of device operations, by outcome
	Candidates    int         // records the device filter passed
	PrtSignIns    int         // PRT sign-ins kept in a user's chain
	Registrations int         // device entities written
	Users         int         // chain entities written
	Sessions      int         // sliding-rule session entities written
	// Reads and Writes are the store calls of the chain: the sliding-rule
	// sessions, the chains of alerting groups' users, the devices, the
	// revisions of linked alerts, and WatchReads reads of the watch list
	// (one per WatchRefresh per process, whatever the traffic).
	Reads, Writes, WatchReads int
}

// LogValue logs the non-zero counts: audit records by outcome under
// "audit", and the others by name.
func (c ChainResult) LogValue() slog.Value {
	var attrs []slog.Attr
	if a := c.Audit.LogValue(); len(a.Group()) > 0 {
		attrs = append(attrs, slog.Attr{Key: "audit", Value: a})
	}
	for _, kv := range []struct {
		k string
		v int
	}{{"candidates", c.Candidates}, {"prt_sign_ins", c.PrtSignIns}, {"registrations", c.Registrations}, {"users", c.Users}, {"sessions", c.Sessions},
		{"reads", c.Reads}, {"writes", c.Writes}} {
		if kv.v > 0 {
			attrs = append(attrs, slog.Int(kv.k, kv.v))
		}
	}
	return slog.GroupValue(attrs...)
}

// Process handles one batch: Plan, Commit, then Deliver of the revisions
// committed. It returns an error only when state could not be read or
// written (Commit's error); the batch should then be retried whole. The
// revisions committed before the failure are delivered all the same.
// Delivery failures do not fail the batch: they are in Result.Alerts.
func (p *Processor) Process(ctx context.Context, b Batch) (Result, error) {
	now := p.o.Now()
	if b.Received.IsZero() {
		b.Received = now
	}
	calls := &chainCalls{}
	ctx = context.WithValue(ctx, chainCallsKey{}, calls)
	if !p.o.SeedOnly {
		if err := p.refreshWatch(ctx, now); err != nil {
			return Result{Events: len(b.Events)}, err
		}
	}
	plan := p.Plan(b.Events, now)
	res := Result{Events: len(b.Events), Records: plan.Records, Skipped: plan.Skipped, Groups: len(plan.Groups)}
	res.GroupIDs = make([]string, len(plan.Groups))
	for i, g := range plan.Groups {
		res.GroupIDs[i] = g.ID
	}
	c, err := p.Commit(ctx, plan, now)
	if err == nil && !p.o.SeedOnly {
		var cc ChainCommitted
		cc, err = p.CommitChain(ctx, plan, now)
		c.Revisions = append(c.Revisions, cc.Revisions...)
		res.Chain = ChainResult{Audit: plan.Chain.Audit, Candidates: plan.Chain.Candidates, PrtSignIns: cc.PrtSignIns,
			Registrations: cc.Registrations, Users: cc.Users, Sessions: cc.Sessions}
	}
	calls.mu.Lock()
	res.Chain.Reads, res.Chain.Writes, res.Chain.WatchReads = calls.reads, calls.writes, calls.watch
	calls.mu.Unlock()
	res.Matched, res.Writes = c.Matched, c.Writes
	res.Skipped[detect.SkipDuplicate] += c.Duplicates
	if len(c.Revisions) > 0 {
		pend := make([]store.Pending, len(c.Revisions))
		for i, r := range c.Revisions {
			pend[i] = r.Pending
		}
		ds := p.Deliver(ctx, pend)
		end := p.o.Now()
		res.Alerts = make([]AlertInfo, len(ds))
		for i, d := range ds {
			res.Alerts[i] = AlertInfo{Delivery: d, Latency: end.Sub(b.Received), TruncatedColumns: c.Revisions[i].TruncatedColumns}
			if t := c.Revisions[i].Enqueued; !t.IsZero() {
				res.Alerts[i].SinceEnqueued = end.Sub(t)
			}
		}
	}
	return res, err
}

// SweepResult counts what a sweep did.
type SweepResult struct {
	Expired   int
	Resent    int
	Delivered int
	Dropped   int
	Pending   int // revisions pending after the sweep, due or not
	// Deliveries has one entry per revision resent.
	Deliveries []Delivery
}

// Sweep deletes expired state and resends pending alert revisions whose next
// attempt is due. Every group lives lifetime() from its window's start, so
// only windows that started more than that ago can hold due state, and the
// store is told to read those only. (State written with a shorter lifetime,
// before a configuration change, is deleted once its window passes that
// bound.)
func (p *Processor) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := p.o.Now()
	n, err := p.store.Expire(ctx, store.Cutoff{ExpiresBefore: now, WindowsBefore: now.Add(-p.lifetime())})
	res.Expired = n
	if err != nil {
		return res, err
	}
	due, err := p.store.ListPending(ctx, now, p.o.SweepLimit)
	if err != nil {
		return res, err
	}
	res.Resent = len(due)
	res.Deliveries = p.Deliver(ctx, due)
	for _, d := range res.Deliveries {
		switch d.Outcome {
		case Delivered:
			res.Delivered++
		case Dropped:
			res.Dropped++
		}
	}
	if res.Pending, err = p.store.CountPending(ctx); err != nil {
		return res, err
	}
	return res, nil
}
