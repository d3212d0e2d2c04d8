// Package storetest is the contract suite every store implementation passes.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store { return memstore.New() })
//	}
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/drswatch/drswatch/store"
	"github.com/drswatch/drswatch/store/internal/rules"
)

// Store is what the suite exercises: the methods package pipeline uses.
type Store interface {
	Load(ctx context.Context, id string, window time.Time) (store.Group, error)
	Commit(ctx context.Context, g store.Group, outbox []store.Pending) error
	ListPending(ctx context.Context, due time.Time, limit int) ([]store.Pending, error)
	CountPending(ctx context.Context) (int, error)
	UpdatePending(ctx context.Context, p store.Pending) error
	Ack(ctx context.Context, p store.Pending) error
	Expire(ctx context.Context, c store.Cutoff) (int, error)
}

// Run runs every contract test as a named subtest. open must return a new,
// empty store each time it is called.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"LoadMissing", testLoadMissing},
		{"RoundTrip", testRoundTrip},
		{"EmptyState", testEmptyState},
		{"InvalidInput", testInvalidInput},
		{"CreateTwice", testCreateTwice},
		{"StaleETag", testStaleETag},
		{"UpdateAfterExpiry", testUpdateAfterExpiry},
		{"ConcurrentReadModifyWrite", testConcurrentRMW},
		{"OutboxAtomic", testOutboxAtomic},
		{"ListPendingDueAndLimit", testListPendingDue},
		{"ListPendingPaging", testListPendingPaging},
		{"UpdatePending", testUpdatePending},
		{"Ack", testAck},
		{"Expire", testExpire},
		{"ExpireWindowBound", testExpireWindowBound},
		{"EpochWindowEntities", testEpochWindowEntities},
		{"CountPending", testCountPending},
		{"SizeBounds", testSizeBounds},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

var (
	window0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ctx     = context.Background()
)

// ID returns a deterministic group id for name, shaped like the real ones.
func ID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func newGroup(name string) store.Group {
	return store.Group{
		ID:        ID(name),
		Window:    window0,
		ExpiresAt: window0.Add(20 * time.Minute),
		UPN:       name + "@contoso.example",
		SessionID: "session-" + name,
		State:     []byte("state of " + name),
	}
}

func newPending(g store.Group, rev int) store.Pending {
	return store.Pending{
		GroupID:     g.ID,
		Window:      g.Window,
		Revision:    rev,
		Row:         []byte(fmt.Sprintf(`{"AlertId":%q,"Revision":%d}`, g.ID, rev)),
		CreatedAt:   window0.Add(time.Minute).Add(123456700 * time.Nanosecond),
		NextAttempt: window0.Add(time.Minute),
	}
}

// committed commits g with outbox and returns the group's new ETag, read
// back: Commit returns none.
func committed(t *testing.T, s Store, g store.Group, outbox []store.Pending) string {
	t.Helper()
	require.NoError(t, s.Commit(ctx, g, outbox))
	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.NotEmpty(t, got.ETag)
	return got.ETag
}

func testLoadMissing(t *testing.T, s Store) {
	_, err := s.Load(ctx, ID("missing"), window0)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testRoundTrip(t *testing.T, s Store) {
	nasty := "üñí©ødé \u00e9\U0001F600 \x00\x01\x1f\x7f\u0085 / \\ # ? ' \" <>& \u2028 "
	huge := strings.Repeat("x"+nasty, (1<<20)/len(nasty)+1)[:1<<20] // 1 MiB, may split a rune
	cases := []struct {
		name      string
		upn, sess string
		state     []byte
	}{
		{"plain", "alice@contoso.example", "0f9c1b2e-8d7a-4c3b-9a1e-2b3c4d5e6f70", []byte{0, 1, 2, 255}},
		{"special characters", nasty, "/\\#?" + nasty, randomBytes(t, 100<<10)},
		{"one megabyte labels", huge, huge, randomBytes(t, 3)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroup(tc.name)
			g.Window = window0.Add(time.Duration(i) * time.Hour)
			g.ExpiresAt = g.Window.Add(25*time.Minute + 1234567*time.Nanosecond)
			g.UPN, g.SessionID, g.State = tc.upn, tc.sess, tc.state
			etag := committed(t, s, g, nil)
			require.NotEmpty(t, etag)

			got, err := s.Load(ctx, g.ID, g.Window)
			require.NoError(t, err)
			require.Equal(t, g.ID, got.ID)
			require.True(t, got.Window.Equal(g.Window), "Window = %v, want %v", got.Window, g.Window)
			wantExp := g.ExpiresAt.Truncate(100 * time.Nanosecond) // the table service keeps 100 ns
			require.True(t, got.ExpiresAt.Equal(wantExp), "ExpiresAt = %v, want %v", got.ExpiresAt, wantExp)
			require.Equal(t, rules.Label(tc.upn), got.UPN)
			require.Equal(t, rules.Label(tc.sess), got.SessionID)
			require.True(t, strings.HasPrefix(tc.upn, strings.TrimSuffix(got.UPN, "\uFFFD")) || !isValid(tc.upn))
			if len(tc.upn) < 100 {
				require.Equal(t, tc.upn, got.UPN, "short valid labels are kept whole")
			}
			require.Equal(t, tc.state, got.State)
			require.Equal(t, etag, got.ETag)

			// The store keeps its own copies.
			got.State[0]++
			again, err := s.Load(ctx, g.ID, g.Window)
			require.NoError(t, err)
			require.Equal(t, tc.state, again.State)
		})
	}
}

func isValid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func testEmptyState(t *testing.T, s Store) {
	g := newGroup("empty")
	g.State = nil
	etag := committed(t, s, g, nil)
	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Empty(t, got.State)

	// Replacing a big state with an empty one leaves nothing behind.
	g.ETag = etag
	g.State = randomBytes(t, 200<<10)
	etag = committed(t, s, g, nil)
	g.ETag = etag
	g.State = []byte{}
	err = s.Commit(ctx, g, nil)
	require.NoError(t, err)
	got, err = s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Empty(t, got.State)
}

func testInvalidInput(t *testing.T, s Store) {
	good := newGroup("valid")
	cases := []struct {
		name string
		edit func(g *store.Group)
	}{
		{"upper-case id", func(g *store.Group) { g.ID = strings.ToUpper(g.ID) }},
		{"empty id", func(g *store.Group) { g.ID = "" }},
		{"long id", func(g *store.Group) { g.ID += "0" }},
		{"id with slash", func(g *store.Group) { g.ID = "ab/cd" }},
		{"zero window", func(g *store.Group) { g.Window = time.Time{} }},
		{"window with nanoseconds", func(g *store.Group) { g.Window = g.Window.Add(1) }},
		{"expiry before window", func(g *store.Group) { g.ExpiresAt = g.Window.Add(-time.Second) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := good
			tc.edit(&g)
			err := s.Commit(ctx, g, nil)
			require.Error(t, err)
			require.NotErrorIs(t, err, store.ErrConflict)
		})
	}
	t.Run("outbox of another group", func(t *testing.T) {
		other := newGroup("other")
		err := s.Commit(ctx, good, []store.Pending{newPending(other, 1)})
		require.Error(t, err)
		_, err = s.Load(ctx, good.ID, good.Window)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("duplicate revision", func(t *testing.T) {
		err := s.Commit(ctx, good, []store.Pending{newPending(good, 1), newPending(good, 1)})
		require.Error(t, err)
		_, err = s.Load(ctx, good.ID, good.Window)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func testCreateTwice(t *testing.T, s Store) {
	g := newGroup("twice")
	err := s.Commit(ctx, g, nil)
	require.NoError(t, err)
	g.State = []byte("second")
	err = s.Commit(ctx, g, nil)
	require.ErrorIs(t, err, store.ErrConflict)
	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Equal(t, []byte("state of twice"), got.State)

	// The same id in another window is another group.
	g.Window = g.Window.Add(time.Hour)
	g.ExpiresAt = g.ExpiresAt.Add(time.Hour)
	err = s.Commit(ctx, g, nil)
	require.NoError(t, err)
}

func testStaleETag(t *testing.T, s Store) {
	g := newGroup("stale")
	etag1 := committed(t, s, g, nil)
	g.ETag = etag1
	g.State = []byte("v2")
	etag2 := committed(t, s, g, nil)
	require.NotEqual(t, etag1, etag2)

	g.ETag = etag1
	g.State = []byte("lost")
	err := s.Commit(ctx, g, nil)
	require.ErrorIs(t, err, store.ErrConflict)

	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), got.State)
	require.Equal(t, etag2, got.ETag)
}

func testUpdateAfterExpiry(t *testing.T, s Store) {
	g := newGroup("expired-then-updated")
	etag := committed(t, s, g, nil)
	n, err := s.Expire(ctx, store.Cutoff{ExpiresBefore: g.ExpiresAt.Add(time.Second)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	g.ETag = etag
	err = s.Commit(ctx, g, []store.Pending{newPending(g, 1)})
	require.ErrorIs(t, err, store.ErrConflict)
	ps, err := s.ListPending(ctx, g.ExpiresAt.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, ps)
}

func testConcurrentRMW(t *testing.T, s Store) {
	const workers, increments = 8, 5
	g0 := newGroup("counter")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
				if err := increment(s, g0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.Load(ctx, g0.ID, g0.Window)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(workers*increments), string(got.State))
}

func increment(s Store, g0 store.Group) error {
	for attempt := 0; attempt < 1000; attempt++ {
		g, err := s.Load(ctx, g0.ID, g0.Window)
		switch {
		case errors.Is(err, store.ErrNotFound):
			g = g0
			g.State = []byte("0")
		case err != nil:
			return err
		}
		n, err := strconv.Atoi(string(g.State))
		if err != nil {
			return err
		}
		g.State = []byte(strconv.Itoa(n + 1))
		err = s.Commit(ctx, g, nil)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return err
	}
	return errors.New("no progress after 1000 attempts")
}

func testOutboxAtomic(t *testing.T, s Store) {
	g := newGroup("atomic")
	etag1 := committed(t, s, g, []store.Pending{newPending(g, 1)})

	// Create again, with a new outbox row: conflict, and no row.
	err := s.Commit(ctx, g, []store.Pending{newPending(g, 9)})
	require.ErrorIs(t, err, store.ErrConflict)

	g.ETag = etag1
	g.State = []byte("v2")
	etag2 := committed(t, s, g, []store.Pending{newPending(g, 2), newPending(g, 3)})

	// Stale ETag with a new outbox row: conflict, and no row.
	g.ETag = etag1
	g.State = []byte("lost")
	err = s.Commit(ctx, g, []store.Pending{newPending(g, 4)})
	require.ErrorIs(t, err, store.ErrConflict)

	// Current ETag but an outbox row that exists: conflict, group unchanged.
	g.ETag = etag2
	err = s.Commit(ctx, g, []store.Pending{newPending(g, 5), newPending(g, 2)})
	require.ErrorIs(t, err, store.ErrConflict)

	got, err := s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
	require.Equal(t, etag2, got.ETag)
	require.Equal(t, []byte("v2"), got.State)

	ps, err := s.ListPending(ctx, window0.Add(time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3}, revisions(ps))
}

func revisions(ps []store.Pending) []int {
	out := make([]int, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Revision)
	}
	return out
}

func testListPendingDue(t *testing.T, s Store) {
	g := newGroup("due")
	var outbox []store.Pending
	for i := range 5 {
		p := newPending(g, i+1)
		p.NextAttempt = window0.Add(time.Duration(i) * time.Minute)
		p.Attempts = i
		p.PermanentFailures = i / 2
		p.LastError = fmt.Sprintf("attempt %d: 503 / \\ # ? \x01 é", i)
		p.Row = randomBytes(t, 1000*(i+1))
		outbox = append(outbox, p)
	}
	// A zero NextAttempt is due at once.
	zero := newPending(g, 6)
	zero.NextAttempt = time.Time{}
	zero.CreatedAt = time.Time{}
	outbox = append(outbox, zero)
	err := s.Commit(ctx, g, outbox)
	require.NoError(t, err)

	ps, err := s.ListPending(ctx, window0.Add(2*time.Minute), 100)
	require.NoError(t, err)
	require.ElementsMatch(t, []int{1, 2, 3, 6}, revisions(ps))
	for _, p := range ps {
		require.NotEmpty(t, p.ETag)
		want := outbox[p.Revision-1]
		require.Equal(t, want.GroupID, p.GroupID)
		require.True(t, want.Window.Equal(p.Window))
		require.Equal(t, want.Row, p.Row)
		require.True(t, want.CreatedAt.Equal(p.CreatedAt), "CreatedAt = %v, want %v", p.CreatedAt, want.CreatedAt)
		require.True(t, want.NextAttempt.Equal(p.NextAttempt), "NextAttempt = %v, want %v", p.NextAttempt, want.NextAttempt)
		require.Equal(t, want.Attempts, p.Attempts)
		require.Equal(t, want.PermanentFailures, p.PermanentFailures)
		require.Equal(t, want.LastError, p.LastError)
	}

	ps, err = s.ListPending(ctx, window0.Add(2*time.Minute), 2)
	require.NoError(t, err)
	require.Len(t, ps, 2)

	ps, err = s.ListPending(ctx, window0.Add(-time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, []int{6}, revisions(ps))
}

func testListPendingPaging(t *testing.T, s Store) {
	const groups, perGroup = 11, rules.MaxOutbox // 1,089 entries
	for i := range groups {
		g := newGroup(fmt.Sprintf("paging-%d", i))
		g.Window = window0.Add(time.Duration(i%3) * time.Hour)
		g.ExpiresAt = g.Window.Add(20 * time.Minute)
		outbox := make([]store.Pending, perGroup)
		for r := range outbox {
			outbox[r] = newPending(g, r+1)
		}
		err := s.Commit(ctx, g, outbox)
		require.NoError(t, err)
	}
	due := window0.Add(time.Hour)
	ps, err := s.ListPending(ctx, due, 5000)
	require.NoError(t, err)
	require.Len(t, ps, groups*perGroup)
	seen := make(map[string]bool)
	for _, p := range ps {
		k := fmt.Sprintf("%s/%d/%d", p.GroupID, p.Window.Unix(), p.Revision)
		require.False(t, seen[k], "duplicate %s", k)
		seen[k] = true
	}

	ps, err = s.ListPending(ctx, due, 1020)
	require.NoError(t, err)
	require.Len(t, ps, 1020)

	n, err := s.CountPending(ctx)
	require.NoError(t, err)
	require.Equal(t, groups*perGroup, n, "counted over more than one page")
}

func testCountPending(t *testing.T, s Store) {
	n, err := s.CountPending(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	a, b := newGroup("count-a"), newGroup("count-b")
	b.Window = window0.Add(time.Hour)
	b.ExpiresAt = b.Window.Add(20 * time.Minute)
	require.NoError(t, s.Commit(ctx, a, []store.Pending{newPending(a, 1), newPending(a, 2)}))
	later := newPending(b, 1)
	later.NextAttempt = window0.Add(100 * time.Hour)
	require.NoError(t, s.Commit(ctx, b, []store.Pending{later}))
	require.NoError(t, s.Commit(ctx, newGroup("count-none"), nil))

	n, err = s.CountPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n, "every entry, due or not; groups are not entries")

	require.NoError(t, s.Ack(ctx, newPending(a, 1)))
	n, err = s.CountPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// Expiring the groups leaves their entries.
	_, err = s.Expire(ctx, store.Cutoff{ExpiresBefore: window0.Add(100 * time.Hour)})
	require.NoError(t, err)
	n, err = s.CountPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func testUpdatePending(t *testing.T, s Store) {
	g := newGroup("update-pending")
	err := s.Commit(ctx, g, []store.Pending{newPending(g, 1)})
	require.NoError(t, err)
	ps, err := s.ListPending(ctx, window0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	p := ps[0]

	upd := p
	upd.Attempts++
	upd.PermanentFailures++
	upd.NextAttempt = window0.Add(2 * time.Hour)
	upd.LastError = "sink: 429 Too Many Requests"
	require.NoError(t, s.UpdatePending(ctx, upd))

	stale := p
	stale.LastError = "lost"
	err = s.UpdatePending(ctx, stale)
	require.ErrorIs(t, err, store.ErrConflict)

	ps, err = s.ListPending(ctx, window0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, ps, "not due before its new NextAttempt")
	ps, err = s.ListPending(ctx, window0.Add(3*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.NotEqual(t, p.ETag, ps[0].ETag, "an update makes a new version")
	etag := ps[0].ETag
	require.Equal(t, 1, ps[0].Attempts)
	require.Equal(t, 1, ps[0].PermanentFailures)
	require.Equal(t, upd.LastError, ps[0].LastError)
	require.Equal(t, p.Row, ps[0].Row)

	missing := newPending(g, 2)
	missing.ETag = etag
	err = s.UpdatePending(ctx, missing)
	require.ErrorIs(t, err, store.ErrNotFound)

	// ETagAny updates whatever version is there, but never creates.
	anyVersion := newPending(g, 1)
	anyVersion.ETag = store.ETagAny
	anyVersion.Attempts = 7
	err = s.UpdatePending(ctx, anyVersion)
	require.NoError(t, err)
	ps, err = s.ListPending(ctx, window0.Add(100*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, 7, ps[0].Attempts)
	missing.ETag = store.ETagAny
	err = s.UpdatePending(ctx, missing)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testAck(t *testing.T, s Store) {
	g := newGroup("ack")
	err := s.Commit(ctx, g, []store.Pending{newPending(g, 1), newPending(g, 2)})
	require.NoError(t, err)
	ps, err := s.ListPending(ctx, window0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, ps, 2)

	require.NoError(t, s.Ack(ctx, ps[0]))
	require.NoError(t, s.Ack(ctx, ps[0]), "a second ack is not an error")
	left, err := s.ListPending(ctx, window0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []int{ps[1].Revision}, revisions(left))

	// Ack ignores the ETag: delivery happened, whatever changed since.
	upd := ps[1]
	upd.Attempts = 3
	err = s.UpdatePending(ctx, upd)
	require.NoError(t, err)
	require.NoError(t, s.Ack(ctx, ps[1]))
	left, err = s.ListPending(ctx, window0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, left)

	// The group is untouched.
	_, err = s.Load(ctx, g.ID, g.Window)
	require.NoError(t, err)
}

func testExpire(t *testing.T, s Store) {
	now := window0.Add(time.Hour)
	old := newGroup("old")
	old.ExpiresAt = now.Add(-time.Second)
	older := newGroup("older")
	older.Window = window0.Add(-24 * time.Hour)
	older.ExpiresAt = older.Window.Add(20 * time.Minute)
	boundary := newGroup("boundary")
	boundary.ExpiresAt = now
	live := newGroup("live")
	live.ExpiresAt = now.Add(time.Minute)
	for _, g := range []store.Group{old, older, boundary, live} {
		err := s.Commit(ctx, g, []store.Pending{newPending(g, 1)})
		require.NoError(t, err)
	}

	n, err := s.Expire(ctx, store.Cutoff{ExpiresBefore: now})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, g := range []store.Group{old, older} {
		_, err = s.Load(ctx, g.ID, g.Window)
		require.ErrorIs(t, err, store.ErrNotFound, g.UPN)
	}
	for _, g := range []store.Group{boundary, live} {
		_, err = s.Load(ctx, g.ID, g.Window)
		require.NoError(t, err, g.UPN)
	}
	ps, err := s.ListPending(ctx, now, 100)
	require.NoError(t, err)
	require.Len(t, ps, 4, "expiry never deletes outbox entries")

	n, err = s.Expire(ctx, store.Cutoff{ExpiresBefore: now})
	require.NoError(t, err)
	require.Equal(t, 0, n)
	n, err = s.Expire(ctx, store.Cutoff{ExpiresBefore: now.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func testExpireWindowBound(t *testing.T, s Store) {
	now := window0.Add(time.Hour)
	bound := window0.Add(-30 * time.Minute) // the oldest window that may still be live
	type tc struct {
		name   string
		window time.Time
		expiry time.Time
		gone   bool
	}
	cases := []tc{
		{"due, window below the bound", window0.Add(-time.Hour), now.Add(-time.Second), true},
		{"due, window one second below the bound", bound.Add(-time.Second), bound.Add(-time.Second), true},
		{"window below the bound, not yet due", window0.Add(-time.Hour), now.Add(time.Minute), false},
		{"due, window at the bound: not read", bound, now.Add(-time.Second), false},
		{"due, window above the bound: not read", window0, now.Add(-time.Second), false},
	}
	groups := make([]store.Group, len(cases))
	for i, c := range cases {
		g := newGroup("bound-" + c.name)
		g.Window, g.ExpiresAt = c.window, c.expiry
		require.NoError(t, s.Commit(ctx, g, []store.Pending{newPending(g, 1)}))
		groups[i] = g
	}
	n, err := s.Expire(ctx, store.Cutoff{ExpiresBefore: now, WindowsBefore: bound})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for i, c := range cases {
		_, err := s.Load(ctx, groups[i].ID, groups[i].Window)
		if c.gone {
			require.ErrorIs(t, err, store.ErrNotFound, c.name)
		} else {
			require.NoError(t, err, c.name)
		}
	}

	// A bound between whole seconds still covers the window just below it.
	n, err = s.Expire(ctx, store.Cutoff{ExpiresBefore: now, WindowsBefore: bound.Add(500 * time.Millisecond)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Load(ctx, groups[3].ID, groups[3].Window)
	require.ErrorIs(t, err, store.ErrNotFound)

	// A bound after ExpiresBefore narrows nothing.
	n, err = s.Expire(ctx, store.Cutoff{ExpiresBefore: now, WindowsBefore: now.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Load(ctx, groups[4].ID, groups[4].Window)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Load(ctx, groups[2].ID, groups[2].Window)
	require.NoError(t, err, "not due")
}

// testEpochWindowEntities: the attack chain keeps its entities (devices,
// users' chains, sliding-rule sessions with their outbox rows, the watch
// list) in window 0, the Unix epoch, each with its own ExpiresAt long after
// the window: they load, update conditionally and carry outbox rows like any
// group; Sweep's window bound always reads them, and they go only once
// their ExpiresAt passes.
func testEpochWindowEntities(t *testing.T, s Store) {
	epoch := time.Unix(0, 0).UTC()
	now := window0.Add(time.Hour)
	keep := newGroup("chain-user")
	keep.Window, keep.ExpiresAt, keep.SessionID = epoch, now.Add(24*time.Hour), "chain"
	session := newGroup("chain-session")
	session.Window, session.ExpiresAt = epoch, now.Add(-time.Minute)
	etag := committed(t, s, keep, nil)
	committed(t, s, session, []store.Pending{newPending(session, 1)})
	due, err := s.ListPending(ctx, now.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, epoch, due[0].Window.UTC())

	// A conditional update, and a stale one.
	upd := keep
	upd.State, upd.ETag = []byte("two registrations"), etag
	require.NoError(t, s.Commit(ctx, upd, nil))
	upd.State = []byte("stale")
	require.ErrorIs(t, s.Commit(ctx, upd, nil), store.ErrConflict)

	// Sweep's cut-off (WindowsBefore = now less the groups' lifetime) reads
	// window 0 and deletes by ExpiresAt alone.
	n, err := s.Expire(ctx, store.Cutoff{ExpiresBefore: now, WindowsBefore: now.Add(-24 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, n, "the expired session")
	got, err := s.Load(ctx, keep.ID, epoch)
	require.NoError(t, err, "the chain lives until its ExpiresAt")
	require.Equal(t, "two registrations", string(got.State))
	_, err = s.Load(ctx, session.ID, epoch)
	require.ErrorIs(t, err, store.ErrNotFound)
	n, err = s.Expire(ctx, store.Cutoff{ExpiresBefore: now.Add(25 * time.Hour), WindowsBefore: now})
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// worstLabel is a label at the length limit whose every rune JSON-escapes to
// six bytes.
var worstLabel = strings.Repeat("<\x01", rules.MaxLabelRunes/2)

func testSizeBounds(t *testing.T, s Store) {
	t.Run("state at bound saves", func(t *testing.T) {
		g := newGroup("bound")
		g.UPN, g.SessionID = worstLabel, worstLabel
		g.State = randomBytes(t, store.MaxStateBytes)
		row := newPending(g, 1)
		row.Row = randomBytes(t, store.MaxRowBytes)
		row.LastError = worstLabel
		etag := committed(t, s, g, []store.Pending{row})

		got, err := s.Load(ctx, g.ID, g.Window)
		require.NoError(t, err)
		require.True(t, bytes.Equal(g.State, got.State))
		require.Equal(t, worstLabel, got.UPN)

		// The update path too, with the largest outbox that fits.
		g.ETag = etag
		g.State = randomBytes(t, store.MaxStateBytes)
		var outbox []store.Pending
		for r := 2; ; r++ {
			p := newPending(g, r)
			p.Row = randomBytes(t, store.MaxRowBytes)
			if rules.Cost(g, append(outbox, p)) > rules.MaxCommitCost {
				break
			}
			outbox = append(outbox, p)
		}
		require.NotEmpty(t, outbox)
		err = s.Commit(ctx, g, outbox)
		require.NoError(t, err)
		got, err = s.Load(ctx, g.ID, g.Window)
		require.NoError(t, err)
		require.True(t, bytes.Equal(g.State, got.State))

		ps, err := s.ListPending(ctx, window0.Add(time.Hour), 100)
		require.NoError(t, err)
		require.Len(t, ps, 1+len(outbox))
		for _, p := range ps {
			require.Len(t, p.Row, store.MaxRowBytes)
		}
	})
	cases := []struct {
		name   string
		g      func() store.Group
		outbox func(g store.Group) []store.Pending
	}{
		{"state above bound", func() store.Group {
			g := newGroup("too-large-state")
			g.State = make([]byte, store.MaxStateBytes+1)
			return g
		}, func(store.Group) []store.Pending { return nil }},
		{"row above bound", func() store.Group { return newGroup("too-large-row") }, func(g store.Group) []store.Pending {
			p := newPending(g, 1)
			p.Row = make([]byte, store.MaxRowBytes+1)
			return []store.Pending{p}
		}},
		{"too many outbox entries", func() store.Group { return newGroup("too-many-rows") }, func(g store.Group) []store.Pending {
			out := make([]store.Pending, rules.MaxOutbox+1)
			for i := range out {
				out[i] = newPending(g, i+1)
			}
			return out
		}},
		{"transaction too large", func() store.Group {
			g := newGroup("too-large-transaction")
			g.State = make([]byte, store.MaxStateBytes)
			return g
		}, func(g store.Group) []store.Pending {
			out := make([]store.Pending, 12)
			for i := range out {
				out[i] = newPending(g, i+1)
				out[i].Row = make([]byte, store.MaxRowBytes)
			}
			return out
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g()
			err := s.Commit(ctx, g, tc.outbox(g))
			require.ErrorIs(t, err, store.ErrTooLarge)
			_, err = s.Load(ctx, g.ID, g.Window)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
	t.Run("update pending above bound", func(t *testing.T) {
		g := newGroup("too-large-update")
		p := newPending(g, 1)
		err := s.Commit(ctx, g, []store.Pending{p})
		require.NoError(t, err)
		p.ETag = `W/"x"`
		p.Row = make([]byte, store.MaxRowBytes+1)
		err = s.UpdatePending(ctx, p)
		require.ErrorIs(t, err, store.ErrTooLarge)
	})
}
