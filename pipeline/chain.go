package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/drswatch/drswatch/detect"
	"github.com/drswatch/drswatch/store"
)

// The attack chain (README, "The attack chain"). Besides the seed groups the
// Processor keeps four kinds of state, all as store.Group entities in the
// chain window (chainWindow, the Unix epoch, so that they share no
// partition with the seed groups and expire by their own ExpiresAt):
//
//   - a device entity per registration (detect.DeviceKey): the merged audit
//     records of its burst, whatever order they came in;
//   - a chain entity per user (detect.ChainKey): the user's registrations,
//     the PRT sign-ins of those devices, and references to the user's alerts;
//   - a session entity per UPN and session (detect.SessionKey) for the
//     sliding-window rule;
//   - one watch list: the deviceIds whose sign-ins are decoded.
//
// The chain entity orders the two sides of the link: an alert adds its
// reference to it with a write conditional on the version its chain columns
// were computed from, and a registration or PRT sign-in is written to it
// before the alerts it lists are revised, so that whichever comes second
// sees the other.

// chainWindow is the window of every chain entity.
var chainWindow = time.Unix(0, 0).UTC()

// watchID is the id of the watch-list entity.
var watchID = func() string {
	sum := sha256.Sum256([]byte("drswatch watch list"))
	return hex.EncodeToString(sum[:16])
}()

// maxWatched bounds the watch list (the newest kept).
const maxWatched = 4096

// AuditCounts counts audit records by why they were not used, indexed by
// detect.AuditSkip; the AuditUsed entry counts those used.
type AuditCounts [detect.NumAuditSkips]int

// LogValue logs the non-zero counts by the reasons' names.
func (c AuditCounts) LogValue() slog.Value {
	var attrs []slog.Attr
	for s := range detect.NumAuditSkips {
		if c[s] > 0 {
			attrs = append(attrs, slog.Int(detect.AuditSkip(s).String(), c[s]))
		}
	}
	return slog.GroupValue(attrs...)
}

// ChainPlan is the attack-chain part of a batch.
type ChainPlan struct {
	// Audits are the audit records of device operations, by device key.
	Devices []DeviceWork
	// SignIns are the PRT sign-ins of watched devices.
	SignIns []detect.DeviceSignIn
	// Sessions are the sliding-rule sessions the batch's selected records
	// touch.
	Sessions []SessionWork
	// Audit counts the audit records read, by outcome.
	Audit AuditCounts
	// Candidates counts the records the device filter passed.
	Candidates int
}

// DeviceWork is the audit records of one batch for one device.
type DeviceWork struct {
	ID     string // detect.DeviceKey
	Audits []detect.DeviceAudit
}

// SessionWork is the selected records of one batch for one sliding-rule
// session.
type SessionWork struct {
	Key     detect.SessionKey
	ID      string
	Records []detect.Record
	// Enqueued is the newest enqueue time of the events that contributed.
	Enqueued time.Time
}

// ChainCommitted is what CommitChain did.
type ChainCommitted struct {
	Registrations int // device entities written
	Users         int // chain entities written
	PrtSignIns    int // PRT sign-ins kept
	Sessions      int // session entities written
	Revisions     []Revision
}

// watchCache is the Processor's copy of the watch list.
type watchCache struct {
	mu     sync.Mutex
	filter detect.DeviceFilter
	ids    []string
	loaded time.Time
}

func (p *Processor) horizon() time.Duration {
	if p.o.ChainHorizon > 0 {
		return p.o.ChainHorizon
	}
	return detect.DefaultChainHorizon
}

func (p *Processor) watchFilter() detect.DeviceFilter {
	p.watch.mu.Lock()
	defer p.watch.mu.Unlock()
	return p.watch.filter
}

// chainHandler returns the function that adds the device records the
// filter passes to cp (ScanBodyWith's dev).
func chainHandler(cp *ChainPlan, f detect.DeviceFilter, seen map[string]bool) func(raw []byte, k detect.DeviceKind) {
	return func(raw []byte, k detect.DeviceKind) {
		cp.Candidates++
		if k&detect.DeviceAuditOp != 0 {
			a, skip := detect.DecodeDeviceAudit(raw)
			if skip == detect.AuditUsed && a.Op == detect.OpUpdateDevice && a.Initiator != "Device Registration Service" {
				// Intune and sync write Update device for every device all
				// the time; only the service's own enrich a registration.
				skip = detect.AuditUnregistered
			}
			switch {
			case skip == detect.AuditUsed:
				cp.Audit[detect.AuditUsed]++
				id := detect.DeviceKey(a.ObjectID, a.DeviceID)
				i := slices.IndexFunc(cp.Devices, func(d DeviceWork) bool { return d.ID == id })
				if i < 0 {
					cp.Devices = append(cp.Devices, DeviceWork{ID: id})
					i = len(cp.Devices) - 1
				}
				cp.Devices[i].Audits = append(cp.Devices[i].Audits, a)
				return
			case skip != detect.AuditNotAudit:
				cp.Audit[skip]++
				return
			}
		}
		if k&detect.DeviceSignInOp != 0 {
			s, skip := detect.DecodeDeviceSignIn(raw)
			if skip != detect.SkipNone || !s.IsPRTUse() || !f.Watches(s.DeviceID) || seen[s.ID] {
				return
			}
			seen[s.ID] = true
			cp.SignIns = append(cp.SignIns, s)
		}
	}
}

// planSessions groups the plan's selected records by sliding-rule session.
func planSessions(groups []GroupWork) []SessionWork {
	var out []SessionWork
	index := map[detect.SessionKey]int{}
	for _, g := range groups {
		k := detect.SessionKey{UPN: g.Key.UPN, SessionID: g.Key.SessionID}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, SessionWork{Key: k, ID: k.ID()})
		}
		out[i].Records = append(out[i].Records, g.Records...)
		if g.Enqueued.After(out[i].Enqueued) {
			out[i].Enqueued = g.Enqueued
		}
	}
	slices.SortFunc(out, func(a, b SessionWork) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// refreshWatch reloads the watch list when the copy is older than
// WatchRefresh: one read per interval per process, whatever the traffic.
func (p *Processor) refreshWatch(ctx context.Context, now time.Time) error {
	p.watch.mu.Lock()
	fresh := !p.watch.loaded.IsZero() && now.Sub(p.watch.loaded) < p.o.WatchRefresh
	p.watch.mu.Unlock()
	if fresh {
		return nil
	}
	wl, _, err := p.loadWatch(ctx)
	if err != nil {
		return fmt.Errorf("load watch list: %w", err)
	}
	p.setWatch(wl, now)
	return nil
}

type watched struct {
	DeviceID string    `json:"d"`
	Until    time.Time `json:"u"`
}

func (p *Processor) loadWatch(ctx context.Context) ([]watched, string, error) {
	g, err := p.load(ctx, watchID, chainWindow)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var wl []watched
	if err := json.Unmarshal(g.State, &wl); err != nil {
		return nil, "", fmt.Errorf("decode watch list: %w", err)
	}
	return wl, g.ETag, nil
}

func (p *Processor) setWatch(wl []watched, now time.Time) {
	var ids []string
	for _, w := range wl {
		if !w.Until.Before(now) {
			ids = append(ids, w.DeviceID)
		}
	}
	p.watch.mu.Lock()
	p.watch.filter, p.watch.ids, p.watch.loaded = detect.NewDeviceFilter(ids), ids, now
	p.watch.mu.Unlock()
}

// addWatched adds deviceIds to the watch list until the given time.
func (p *Processor) addWatched(ctx context.Context, ids []string, until, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		wl, etag, err := p.loadWatch(ctx)
		if err != nil {
			return err
		}
		changed := false
		for _, id := range ids {
			i := slices.IndexFunc(wl, func(w watched) bool { return w.DeviceID == id })
			switch {
			case i < 0:
				wl = append(wl, watched{DeviceID: id, Until: until})
				changed = true
			case wl[i].Until.Before(until):
				wl[i].Until, changed = until, true
			}
		}
		n := len(wl)
		wl = slices.DeleteFunc(wl, func(w watched) bool { return w.Until.Before(now) })
		changed = changed || len(wl) != n
		if !changed {
			p.setWatch(wl, now)
			return nil
		}
		slices.SortFunc(wl, func(a, b watched) int {
			if c := b.Until.Compare(a.Until); c != 0 {
				return c
			}
			return strings.Compare(a.DeviceID, b.DeviceID)
		})
		if len(wl) > maxWatched {
			wl = wl[:maxWatched]
		}
		state, err := json.Marshal(wl)
		if err != nil {
			return err
		}
		g := store.Group{ID: watchID, Window: chainWindow, ExpiresAt: until, SessionID: "watch list", State: state, ETag: etag}
		if err := p.retryable(ctx, attempt, p.commit(ctx, g, nil)); err != nil {
			if errors.Is(err, errRetry) {
				continue
			}
			return fmt.Errorf("write watch list: %w", err)
		}
		p.setWatch(wl, now)
		return nil
	}
}

var errRetry = errors.New("retry")

// chainCalls counts the store calls of a batch's attack-chain part.
type chainCalls struct {
	mu                   sync.Mutex
	reads, writes, watch int
}

type chainCallsKey struct{}

func (p *Processor) load(ctx context.Context, id string, w time.Time) (store.Group, error) {
	if c, _ := ctx.Value(chainCallsKey{}).(*chainCalls); c != nil {
		c.mu.Lock()
		c.reads++
		if id == watchID {
			c.watch++
		}
		c.mu.Unlock()
	}
	return p.store.Load(ctx, id, w)
}

func (p *Processor) commit(ctx context.Context, g store.Group, out []store.Pending) error {
	if c, _ := ctx.Value(chainCallsKey{}).(*chainCalls); c != nil {
		c.mu.Lock()
		c.writes++
		c.mu.Unlock()
	}
	return p.store.Commit(ctx, g, out)
}

// retryable turns a lost race into errRetry after the backoff wait, until
// ConflictRetries is reached.
func (p *Processor) retryable(ctx context.Context, attempt int, err error) error {
	if !errors.Is(err, store.ErrConflict) {
		return err
	}
	if attempt >= p.o.ConflictRetries {
		return fmt.Errorf("gave up after %d lost races: %w", attempt+1, err)
	}
	if err := sleep(ctx, p.conflictWait(attempt)); err != nil {
		return err
	}
	return errRetry
}

// loadChain returns a user's chain and its version ("" when new).
func (p *Processor) loadChain(ctx context.Context, upn string) (*detect.UserChain, string, error) {
	g, err := p.load(ctx, detect.ChainKey(upn), chainWindow)
	if errors.Is(err, store.ErrNotFound) {
		return &detect.UserChain{UPN: strings.ToLower(upn)}, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	c := &detect.UserChain{}
	if err := c.UnmarshalBinary(g.State); err != nil {
		return nil, "", fmt.Errorf("chain %s: %w", g.ID, err)
	}
	return c, g.ETag, nil
}

func (p *Processor) commitChainEntity(ctx context.Context, c *detect.UserChain, etag string, now time.Time) error {
	state, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	upn := c.UPN
	if len(upn) > detect.MaxKeyBytes {
		upn = upn[:detect.MaxKeyBytes]
	}
	g := store.Group{ID: detect.ChainKey(c.UPN), Window: chainWindow, ExpiresAt: now.Add(p.horizon() + detect.ChainSkew),
		UPN: upn, SessionID: "chain", State: state, ETag: etag}
	return p.commit(ctx, g, nil)
}

// chainView returns the chain columns of an alert of upn, and the version
// of the chain they were computed from.
func (p *Processor) chainView(ctx context.Context, upn string, window time.Time) (detect.ChainView, string, error) {
	c, etag, err := p.loadChain(ctx, upn)
	if err != nil {
		return detect.ChainView{}, "", fmt.Errorf("load chain: %w", err)
	}
	return c.View(window, p.horizon()), etag, nil
}

// linkAlert records an alert in its user's chain after the alert's revision
// was committed with the chain columns of version seen. If the chain moved
// on in the meantime, the alert is revised with the chain as it is now.
func (p *Processor) linkAlert(ctx context.Context, upn string, ref detect.AlertRef, seen string, now time.Time) ([]Revision, error) {
	for attempt := 0; ; attempt++ {
		c, etag, err := p.loadChain(ctx, upn)
		if err != nil {
			return nil, fmt.Errorf("load chain: %w", err)
		}
		if c.AddAlert(ref) {
			c.Expire(now, p.horizon())
			err := p.retryable(ctx, attempt, p.commitChainEntity(ctx, c, etag, now))
			if errors.Is(err, errRetry) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("write chain: %w", err)
			}
			if err := p.watchChain(ctx, c, now); err != nil {
				return nil, err
			}
		}
		if etag == seen {
			return nil, nil
		}
		rev, err := p.reviseAlert(ctx, ref, c.View(ref.Window, p.horizon()), now)
		if err != nil || rev == nil {
			return nil, err
		}
		return []Revision{*rev}, nil
	}
}

// watchChain puts the chain's watched devices on the watch list.
func (p *Processor) watchChain(ctx context.Context, c *detect.UserChain, now time.Time) error {
	ids := c.Watched(p.horizon())
	p.watch.mu.Lock()
	var missing []string
	for _, id := range ids {
		if !slices.Contains(p.watch.ids, id) {
			missing = append(missing, id)
		}
	}
	p.watch.mu.Unlock()
	if err := p.addWatched(ctx, missing, now.Add(p.horizon()), now); err != nil {
		return fmt.Errorf("watch devices: %w", err)
	}
	return nil
}

// reviseAlert re-evaluates a linked alert with new chain columns and
// commits the new revision, if any, with its group or session.
func (p *Processor) reviseAlert(ctx context.Context, ref detect.AlertRef, view detect.ChainView, now time.Time) (*Revision, error) {
	for attempt := 0; ; attempt++ {
		var sg store.Group
		var alert detect.Alert
		var ok bool
		if ref.Sliding {
			stored, s, err := p.loadSession(ctx, ref.ID)
			if err != nil || s == nil {
				return nil, err
			}
			union, err := p.slidingUnion(ctx, s)
			if err != nil {
				return nil, err
			}
			if alert, ok = p.o.Rule.EvaluateSliding(s, union, now, &view); !ok {
				return nil, nil
			}
			if sg, err = p.sessionEntity(s, stored.ETag, now); err != nil {
				return nil, err
			}
		} else {
			stored, err := p.load(ctx, ref.ID, ref.Window)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			g := detect.NewGroup(detect.Key{})
			if err := g.UnmarshalBinary(stored.State); err != nil {
				return nil, fmt.Errorf("group %s: %w", ref.ID, err)
			}
			if alert, ok = p.o.Rule.EvaluateChained(g, now, &view); !ok {
				return nil, nil
			}
			state, err := g.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("group %s: encode state: %w", ref.ID, err)
			}
			sg = stored
			sg.State = state
		}
		row, err := p.encode(alert)
		if err != nil {
			return nil, fmt.Errorf("alert %s: encode: %w", alert.AlertID, err)
		}
		pend := store.Pending{GroupID: sg.ID, Window: sg.Window, Revision: alert.Revision, Row: row, CreatedAt: now, NextAttempt: now.Add(p.o.ResendAfter)}
		err = p.retryable(ctx, attempt, p.commit(ctx, sg, []store.Pending{pend}))
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("revise alert %s: %w", alert.AlertID, err)
		}
		return &Revision{Pending: pend, TruncatedColumns: alert.TruncatedColumns}, nil
	}
}

// loadSession returns a session entity and its decoded state (nil when
// there is none).
func (p *Processor) loadSession(ctx context.Context, id string) (store.Group, *detect.Session, error) {
	g, err := p.load(ctx, id, chainWindow)
	if errors.Is(err, store.ErrNotFound) {
		return store.Group{}, nil, nil
	}
	if err != nil {
		return store.Group{}, nil, err
	}
	s := &detect.Session{}
	if err := s.UnmarshalBinary(g.State); err != nil {
		return store.Group{}, nil, fmt.Errorf("session %s: %w", id, err)
	}
	return g, s, nil
}

func (p *Processor) sessionEntity(s *detect.Session, etag string, now time.Time) (store.Group, error) {
	state, err := s.MarshalBinary()
	if err != nil {
		return store.Group{}, fmt.Errorf("session %s: encode state: %w", s.Key.ID(), err)
	}
	upn := s.Key.UPN
	if len(upn) > detect.MaxKeyBytes {
		upn = upn[:detect.MaxKeyBytes]
	}
	sid := s.Key.SessionID
	if len(sid) > detect.MaxKeyBytes {
		sid = sid[:detect.MaxKeyBytes]
	}
	return store.Group{ID: s.Key.ID(), Window: chainWindow, ExpiresAt: now.Add(p.lifetime()), UPN: upn, SessionID: sid, State: state, ETag: etag}, nil
}

// slidingUnion loads the seed groups of the two buckets a session's
// sliding alert reports, marks the session superseded when either alerts
// (detect.Rule.Supersede), and returns their union.
func (p *Processor) slidingUnion(ctx context.Context, s *detect.Session) (*detect.Group, error) {
	var gs [2]*detect.Group
	for i := range gs {
		w := s.AlertWindow.Add(time.Duration(i) * p.o.Rule.Window)
		k := detect.Key{Window: w, UPN: s.Key.UPN, SessionID: s.Key.SessionID}
		gs[i] = detect.NewGroup(k)
		stored, err := p.load(ctx, k.ID(), w)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load group %s: %w", k.ID(), err)
		}
		if err := gs[i].UnmarshalBinary(stored.State); err != nil {
			return nil, fmt.Errorf("group %s: %w", k.ID(), err)
		}
	}
	p.o.Rule.Supersede(s, gs[0], gs[1])
	return detect.UnionGroups(gs[0], gs[1]), nil
}

// CommitChain commits the attack-chain part of a batch, after Commit has
// committed its seed groups: the sliding-rule sessions, the device
// registrations, the users' chains, and the revisions of the alerts they
// link to.
func (p *Processor) CommitChain(ctx context.Context, plan Plan, now time.Time) (ChainCommitted, error) {
	var cc ChainCommitted
	var mu sync.Mutex
	add := func(f func()) { mu.Lock(); f(); mu.Unlock() }

	// Sessions.
	err := p.each(ctx, len(plan.Chain.Sessions), func(ctx context.Context, i int) error {
		revs, wrote, err := p.commitSession(ctx, &plan.Chain.Sessions[i], now)
		add(func() {
			cc.Revisions = append(cc.Revisions, revs...)
			if wrote {
				cc.Sessions++
			}
		})
		return err
	})
	if err != nil {
		return cc, err
	}

	// Devices, then the users they name.
	users := map[string]*userWork{}
	err = p.each(ctx, len(plan.Chain.Devices), func(ctx context.Context, i int) error {
		reg, wrote, err := p.commitDevice(ctx, &plan.Chain.Devices[i], now)
		if err != nil {
			return err
		}
		add(func() {
			if wrote {
				cc.Registrations++
			}
			if reg != nil && reg.Established() && reg.Field(detect.RegUPN) != "" {
				u := userOf(users, reg.Field(detect.RegUPN))
				u.regs = append(u.regs, *reg)
			}
		})
		return nil
	})
	if err != nil {
		return cc, err
	}
	for _, s := range plan.Chain.SignIns {
		if s.UPN != "" {
			u := userOf(users, s.UPN)
			u.signIns = append(u.signIns, s)
		}
	}
	keys := make([]string, 0, len(users))
	for k := range users {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	err = p.each(ctx, len(keys), func(ctx context.Context, i int) error {
		revs, wrote, kept, err := p.commitUser(ctx, users[keys[i]], now)
		add(func() {
			cc.Revisions = append(cc.Revisions, revs...)
			cc.PrtSignIns += kept
			if wrote {
				cc.Users++
			}
		})
		return err
	})
	slices.SortFunc(cc.Revisions, func(a, b Revision) int {
		if c := strings.Compare(a.GroupID, b.GroupID); c != 0 {
			return c
		}
		return a.Revision - b.Revision
	})
	return cc, err
}

type userWork struct {
	upn     string
	regs    []detect.Registration
	signIns []detect.DeviceSignIn
}

func userOf(m map[string]*userWork, upn string) *userWork {
	k := strings.ToLower(upn)
	if m[k] == nil {
		m[k] = &userWork{upn: k}
	}
	return m[k]
}

// each runs f for 0..n-1 side by side, each holding one store-call slot of
// the Processor; the first failure cancels the rest.
func (p *Processor) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var g errgroup.Group
	for i := range n {
		if err := p.calls.Acquire(gctx, 1); err != nil {
			break
		}
		g.Go(func() error {
			defer p.calls.Release(1)
			if err := f(gctx, i); err != nil {
				cancel(err)
				return err
			}
			return nil
		})
	}
	err := g.Wait()
	if cause := context.Cause(gctx); cause != nil {
		err = cause
	}
	return err
}

// commitSession merges a session's records and, once it has a sliding
// span, evaluates its alert.
func (p *Processor) commitSession(ctx context.Context, w *SessionWork, now time.Time) ([]Revision, bool, error) {
	for attempt := 0; ; attempt++ {
		stored, s, err := p.loadSession(ctx, w.ID)
		if err != nil {
			return nil, false, err
		}
		if s == nil {
			s = &detect.Session{Key: w.Key}
		}
		added := 0
		for _, rec := range w.Records {
			if s.Add(rec) {
				added++
			}
		}
		if added == 0 {
			if s.AlertWindow.IsZero() {
				return nil, false, nil
			}
			// A retried batch records the alert in its user's chain, if the
			// try before failed between the two.
			_, seen, err := p.chainView(ctx, s.Key.UPN, s.AlertWindow)
			if err != nil {
				return nil, false, err
			}
			revs, err := p.linkAlert(ctx, s.Key.UPN, detect.AlertRef{ID: w.ID, Window: s.AlertWindow, Sliding: true}, seen, now)
			return revs, false, err
		}
		if p.o.Lateness > 0 {
			s.Trim(now.Add(-p.lifetime()))
		}
		var outbox []store.Pending
		var alert detect.Alert
		var seen string
		alerted := false
		if p.o.Rule.ArmSliding(s) {
			union, err := p.slidingUnion(ctx, s)
			if err != nil {
				return nil, false, err
			}
			var view detect.ChainView
			view, seen, err = p.chainView(ctx, s.Key.UPN, s.AlertWindow)
			if err != nil {
				return nil, false, err
			}
			if alert, alerted = p.o.Rule.EvaluateSliding(s, union, now, &view); alerted {
				row, err := p.encode(alert)
				if err != nil {
					return nil, false, fmt.Errorf("alert %s: encode: %w", alert.AlertID, err)
				}
				outbox = []store.Pending{{GroupID: w.ID, Window: chainWindow, Revision: alert.Revision, Row: row, CreatedAt: now, NextAttempt: now.Add(p.o.ResendAfter)}}
			}
		}
		sg, err := p.sessionEntity(s, stored.ETag, now)
		if err != nil {
			return nil, false, err
		}
		err = p.retryable(ctx, attempt, p.commit(ctx, sg, outbox))
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("commit session %s: %w", w.ID, err)
		}
		var revs []Revision
		if alerted {
			revs = append(revs, Revision{Pending: outbox[0], Enqueued: w.Enqueued, TruncatedColumns: alert.TruncatedColumns})
		}
		if !s.AlertWindow.IsZero() {
			more, err := p.linkAlert(ctx, s.Key.UPN, detect.AlertRef{ID: w.ID, Window: s.AlertWindow, Sliding: true}, seen, now)
			revs = append(revs, more...)
			if err != nil {
				return revs, true, err
			}
		}
		return revs, true, nil
	}
}

// commitDevice merges a device's audit records with its stored
// registration. A device that only Update device records name, and that no
// registration within the horizon created, is not stored.
func (p *Processor) commitDevice(ctx context.Context, w *DeviceWork, now time.Time) (*detect.Registration, bool, error) {
	for attempt := 0; ; attempt++ {
		var reg detect.Registration
		stored, err := p.load(ctx, w.ID, chainWindow)
		switch {
		case errors.Is(err, store.ErrNotFound):
			stored = store.Group{}
		case err != nil:
			return nil, false, fmt.Errorf("load device %s: %w", w.ID, err)
		default:
			if err := reg.UnmarshalBinary(stored.State); err != nil {
				return nil, false, fmt.Errorf("device %s: %w", w.ID, err)
			}
		}
		added := 0
		for _, a := range w.Audits {
			if reg.Merge(a) {
				added++
			}
		}
		if added == 0 || stored.ETag == "" && !reg.Established() {
			return nil, false, nil
		}
		state, err := reg.MarshalBinary()
		if err != nil {
			return nil, false, err
		}
		upn := reg.Field(detect.RegUPN)
		if len(upn) > detect.MaxKeyBytes {
			upn = upn[:detect.MaxKeyBytes]
		}
		sg := store.Group{ID: w.ID, Window: chainWindow, ExpiresAt: now.Add(p.horizon() + detect.ChainSkew), UPN: upn,
			SessionID: "device " + reg.ObjectID, State: state, ETag: stored.ETag}
		err = p.retryable(ctx, attempt, p.commit(ctx, sg, nil))
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("commit device %s: %w", w.ID, err)
		}
		return &reg, true, nil
	}
}

// commitUser merges registrations and PRT sign-ins into a user's chain and
// revises the alerts it lists.
func (p *Processor) commitUser(ctx context.Context, w *userWork, now time.Time) ([]Revision, bool, int, error) {
	for attempt := 0; ; attempt++ {
		c, etag, err := p.loadChain(ctx, w.upn)
		if err != nil {
			return nil, false, 0, fmt.Errorf("load chain: %w", err)
		}
		changed := false
		for _, r := range w.regs {
			changed = c.AddRegistration(r) || changed
		}
		kept := 0
		for _, s := range w.signIns {
			if c.AddSignIn(s, p.horizon()) {
				kept++
			}
		}
		if !changed && kept == 0 {
			return nil, false, 0, nil
		}
		c.Expire(now, p.horizon())
		err = p.retryable(ctx, attempt, p.commitChainEntity(ctx, c, etag, now))
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, false, 0, fmt.Errorf("write chain: %w", err)
		}
		if err := p.watchChain(ctx, c, now); err != nil {
			return nil, true, kept, err
		}
		var revs []Revision
		for _, ref := range c.Alerts {
			rev, err := p.reviseAlert(ctx, ref, c.View(ref.Window, p.horizon()), now)
			if err != nil {
				return revs, true, kept, err
			}
			if rev != nil {
				revs = append(revs, *rev)
			}
		}
		return revs, true, kept, nil
	}
}
