// Package memstore is the embedded, in-memory store: one process, no
// persistence. It has the same semantics as tablestore (the contract suite in
// storetest checks both), which makes it the store for the demo, for replay
// and for unit tests of the pipeline.
//
// ETags are version counters drawn from one sequence per Store, so an ETag is
// never reused, even by a group that is deleted and created again.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/internal/rules"
)

type groupKey struct {
	id     string
	window int64
}

type pendingKey struct {
	groupKey
	revision int
}

// Store is an in-memory store, safe for concurrent use. The zero value is not
// usable; call New.
type Store struct {
	mu      sync.Mutex
	version uint64
	groups  map[groupKey]store.Group
	outbox  map[pendingKey]store.Pending
}

// New returns an empty store.
func New() *Store {
	return &Store{
		groups: make(map[groupKey]store.Group),
		outbox: make(map[pendingKey]store.Pending),
	}
}

func (s *Store) nextETag() string {
	s.version++
	return `"` + strconv.FormatUint(s.version, 10) + `"`
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

func normGroup(g store.Group) store.Group {
	g.Window = rules.Time(g.Window)
	g.ExpiresAt = rules.Time(g.ExpiresAt)
	g.UPN = rules.Label(g.UPN)
	g.SessionID = rules.Label(g.SessionID)
	g.State = cloneBytes(g.State)
	return g
}

func normPending(p store.Pending) store.Pending {
	p.Window = rules.Time(p.Window)
	p.CreatedAt = rules.Time(p.CreatedAt)
	p.NextAttempt = rules.Time(p.NextAttempt)
	p.LastError = rules.Label(p.LastError)
	p.Row = cloneBytes(p.Row)
	return p
}

func copyGroup(g store.Group) store.Group {
	g.State = cloneBytes(g.State)
	return g
}

func copyPending(p store.Pending) store.Pending {
	p.Row = cloneBytes(p.Row)
	return p
}

func pkey(p store.Pending) pendingKey {
	return pendingKey{groupKey{p.GroupID, p.Window.Unix()}, p.Revision}
}

// Load returns the group id in window, or store.ErrNotFound.
func (s *Store) Load(ctx context.Context, id string, window time.Time) (store.Group, error) {
	if err := ctx.Err(); err != nil {
		return store.Group{}, fmt.Errorf("memstore: load group %s: %w", id, err)
	}
	if err := rules.CheckID(id); err != nil {
		return store.Group{}, fmt.Errorf("memstore: load group: %w", err)
	}
	if err := rules.CheckWindow(window); err != nil {
		return store.Group{}, fmt.Errorf("memstore: load group %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[groupKey{id, window.Unix()}]
	if !ok {
		return store.Group{}, fmt.Errorf("memstore: load group %s: %w", id, store.ErrNotFound)
	}
	return copyGroup(g), nil
}

// Commit writes g and its outbox entries atomically. An empty g.ETag creates
// the group (store.ErrConflict if it exists); otherwise the write succeeds
// only if the stored group still has that ETag. An outbox entry that exists
// already is also a conflict.
func (s *Store) Commit(ctx context.Context, g store.Group, outbox []store.Pending) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: commit group %s: %w", g.ID, err)
	}
	if err := rules.CheckCommit(g, outbox); err != nil {
		return fmt.Errorf("memstore: commit group %s: %w", g.ID, err)
	}
	ng := normGroup(g)
	k := groupKey{ng.ID, ng.Window.Unix()}

	s.mu.Lock()
	defer s.mu.Unlock()
	cur, exists := s.groups[k]
	switch {
	case g.ETag == "" && exists:
		return fmt.Errorf("memstore: commit group %s: exists: %w", g.ID, store.ErrConflict)
	case g.ETag != "" && !exists:
		return fmt.Errorf("memstore: commit group %s: gone: %w", g.ID, store.ErrConflict)
	case g.ETag != "" && cur.ETag != g.ETag:
		return fmt.Errorf("memstore: commit group %s: etag changed: %w", g.ID, store.ErrConflict)
	}
	for _, p := range outbox {
		if _, ok := s.outbox[pkey(p)]; ok {
			return fmt.Errorf("memstore: commit group %s: outbox revision %d exists: %w", g.ID, p.Revision, store.ErrConflict)
		}
	}
	ng.ETag = s.nextETag()
	s.groups[k] = ng
	for _, p := range outbox {
		np := normPending(p)
		np.ETag = s.nextETag()
		s.outbox[pkey(np)] = np
	}
	return nil
}

func comparePending(a, b store.Pending) int {
	return cmp.Or(
		cmp.Compare(a.Window.Unix(), b.Window.Unix()),
		cmp.Compare(a.GroupID, b.GroupID),
		cmp.Compare(a.Revision, b.Revision),
	)
}

// ListPending returns up to limit outbox entries whose NextAttempt is not
// after due.
func (s *Store) ListPending(ctx context.Context, due time.Time, limit int) ([]store.Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list pending: %w", err)
	}
	if limit <= 0 {
		return nil, nil
	}
	due = rules.Time(due)
	s.mu.Lock()
	var out []store.Pending
	for _, p := range s.outbox {
		if !p.NextAttempt.After(due) {
			out = append(out, copyPending(p))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, comparePending)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// CountPending returns how many outbox entries there are, due or not.
func (s *Store) CountPending(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: count pending: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.outbox), nil
}

// UpdatePending replaces an outbox entry if its ETag still matches p.ETag
// (any version for store.ETagAny): store.ErrConflict if it does not,
// store.ErrNotFound if the entry is gone.
func (s *Store) UpdatePending(ctx context.Context, p store.Pending) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: update pending %s/%d: %w", p.GroupID, p.Revision, err)
	}
	if err := rules.CheckPending(p); err != nil {
		return fmt.Errorf("memstore: update pending %s/%d: %w", p.GroupID, p.Revision, err)
	}
	if p.ETag == "" {
		return fmt.Errorf("memstore: update pending %s/%d: missing etag", p.GroupID, p.Revision)
	}
	np := normPending(p)
	k := pkey(np)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.outbox[k]
	if !ok {
		return fmt.Errorf("memstore: update pending %s/%d: %w", p.GroupID, p.Revision, store.ErrNotFound)
	}
	if p.ETag != store.ETagAny && cur.ETag != p.ETag {
		return fmt.Errorf("memstore: update pending %s/%d: %w", p.GroupID, p.Revision, store.ErrConflict)
	}
	np.ETag = s.nextETag()
	s.outbox[k] = np
	return nil
}

// Ack deletes an outbox entry whatever its ETag. A missing entry is not an
// error.
func (s *Store) Ack(ctx context.Context, p store.Pending) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: ack %s/%d: %w", p.GroupID, p.Revision, err)
	}
	if err := rules.CheckID(p.GroupID); err != nil {
		return fmt.Errorf("memstore: ack: %w", err)
	}
	if err := rules.CheckWindow(p.Window); err != nil {
		return fmt.Errorf("memstore: ack %s/%d: %w", p.GroupID, p.Revision, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.outbox, pkey(p))
	return nil
}

// Expire deletes the groups whose ExpiresAt is before c.ExpiresBefore and
// whose window started before c.WindowsBefore (when set), and returns how
// many it deleted. Outbox entries are never expired.
func (s *Store) Expire(ctx context.Context, c store.Cutoff) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: expire: %w", err)
	}
	due, bound := rules.Time(c.ExpiresBefore), rules.WindowBound(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, g := range s.groups {
		if g.Window.Before(bound) && g.ExpiresAt.Before(due) {
			delete(s.groups, k)
			n++
		}
	}
	return n, nil
}
