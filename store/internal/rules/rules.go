// Package rules holds the validation and normalisation that every store
// implementation applies, so memstore and tablestore accept, reject and
// transform the same inputs in the same way.
package rules

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drswatch/drswatch/store"
)

const (
	// MaxLabelRunes is how many runes of Group.UPN, Group.SessionID and
	// Pending.LastError are kept. Those strings are for people reading the
	// table; the real value lives in State. The bound keeps the worst case
	// (every rune JSON-escaped to 6 bytes) at 12 KiB per string, so a group
	// with State at store.MaxStateBytes still fits the 1 MiB entity limit as
	// Azurite measures it (UTF-8 JSON body, binary as base64).
	MaxLabelRunes = 2048
	// MaxOutbox is the most outbox entries one Commit may carry: an entity
	// group transaction holds at most 100 operations and one is the group.
	MaxOutbox = 99
	// MaxCommitCost bounds Cost for one Commit. A transaction's body must stay
	// under 4 MiB; this leaves 256 KiB for multipart and per-operation headers.
	MaxCommitCost = 4<<20 - 256<<10
	// MaxRevision is the largest Pending.Revision (it is zero-padded to ten
	// digits in keys).
	MaxRevision = 9_999_999_999
)

// minTime is the earliest Edm.DateTime the table service stores. The zero
// time.Time is stored as minTime and read back as the zero time.
var (
	minTime = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// MinTime returns the stored stand-in for the zero time.
func MinTime() time.Time { return minTime }

// Label makes s valid UTF-8 and cuts it to MaxLabelRunes runes.
func Label(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	n := 0
	for i := range s {
		if n == MaxLabelRunes {
			return s[:i]
		}
		n++
	}
	return s
}

// Time normalises t to UTC at the table service's 100 ns precision. The zero
// time stays zero.
func Time(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(100 * time.Nanosecond)
}

// CheckID reports whether id is a valid group id: 1 to 64 lower-case hex
// characters.
func CheckID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("invalid group id %q: want 1 to 64 lower-case hex characters", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("invalid group id %q: want 1 to 64 lower-case hex characters", id)
		}
	}
	return nil
}

// CheckWindow reports whether w can be a window start: whole seconds, from
// 1970 to 9999.
func CheckWindow(w time.Time) error {
	if w.IsZero() || w.Unix() < 0 || !w.Truncate(time.Second).Equal(w) || w.After(maxTime) {
		return fmt.Errorf("invalid window %s: want whole seconds between 1970 and 9999", w.Format(time.RFC3339Nano))
	}
	return nil
}

func checkTime(name string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("%s %s out of range: want zero or 1601 to 9999", name, t.Format(time.RFC3339Nano))
	}
	return nil
}

// WindowBound is the start of the first window Expire need not read for c:
// c.WindowsBefore when set and earlier than c.ExpiresBefore, else
// c.ExpiresBefore (a group's ExpiresAt is never before its window, see
// CheckGroup, so no later window holds a due group). Both are normalised
// with Time.
func WindowBound(c store.Cutoff) time.Time {
	b := Time(c.ExpiresBefore)
	if w := Time(c.WindowsBefore); !w.IsZero() && w.Before(b) {
		b = w
	}
	return b
}

// CheckGroup validates g on its own (not its ETag).
func CheckGroup(g store.Group) error {
	if err := CheckID(g.ID); err != nil {
		return err
	}
	if err := CheckWindow(g.Window); err != nil {
		return err
	}
	if err := checkTime("expiry", g.ExpiresAt); err != nil {
		return err
	}
	// Expiry scans only partitions whose window has started (tablestore).
	if g.ExpiresAt.Before(g.Window) {
		return fmt.Errorf("expiry %s before window %s", g.ExpiresAt.Format(time.RFC3339Nano), g.Window.Format(time.RFC3339))
	}
	if len(g.State) > store.MaxStateBytes {
		return fmt.Errorf("%w: state is %d bytes, limit %d", store.ErrTooLarge, len(g.State), store.MaxStateBytes)
	}
	return nil
}

// CheckPending validates p on its own (not its ETag).
func CheckPending(p store.Pending) error {
	if err := CheckID(p.GroupID); err != nil {
		return err
	}
	if err := CheckWindow(p.Window); err != nil {
		return err
	}
	if p.Revision < 0 || int64(p.Revision) > MaxRevision {
		return fmt.Errorf("invalid revision %d", p.Revision)
	}
	if err := checkTime("created", p.CreatedAt); err != nil {
		return err
	}
	if err := checkTime("next attempt", p.NextAttempt); err != nil {
		return err
	}
	if len(p.Row) > store.MaxRowBytes {
		return fmt.Errorf("%w: row is %d bytes, limit %d", store.ErrTooLarge, len(p.Row), store.MaxRowBytes)
	}
	return nil
}

// CheckCommit validates a Commit's arguments: the group, each outbox entry,
// that the entries belong to the group and have distinct revisions, and the
// size of the whole transaction.
func CheckCommit(g store.Group, outbox []store.Pending) error {
	if err := CheckGroup(g); err != nil {
		return err
	}
	if len(outbox) > MaxOutbox {
		return fmt.Errorf("%w: %d outbox entries, limit %d", store.ErrTooLarge, len(outbox), MaxOutbox)
	}
	seen := make(map[int]bool, len(outbox))
	for _, p := range outbox {
		if err := CheckPending(p); err != nil {
			return fmt.Errorf("outbox revision %d: %w", p.Revision, err)
		}
		if p.GroupID != g.ID || !p.Window.Equal(g.Window) {
			return fmt.Errorf("outbox revision %d belongs to group %s window %d, not this group", p.Revision, p.GroupID, p.Window.Unix())
		}
		if seen[p.Revision] {
			return fmt.Errorf("outbox revision %d appears twice", p.Revision)
		}
		seen[p.Revision] = true
	}
	if c := Cost(g, outbox); c > MaxCommitCost {
		return fmt.Errorf("%w: commit would send about %d bytes, limit %d", store.ErrTooLarge, c, MaxCommitCost)
	}
	return nil
}

// entityOverhead is a generous allowance for keys, property names,
// annotations and the other small properties of one entity.
const entityOverhead = 4 << 10

func b64(n int) int { return (n + 2) / 3 * 4 }

// labelCost is the worst-case JSON size of a label: 6 bytes per rune.
func labelCost(s string) int { return 6 * utf8.RuneCountInString(Label(s)) }

// GroupCost is an upper bound on the JSON size of g's entity.
func GroupCost(g store.Group) int {
	return entityOverhead + b64(len(g.State)) + labelCost(g.UPN) + labelCost(g.SessionID)
}

// PendingCost is an upper bound on the JSON size of p's entity.
func PendingCost(p store.Pending) int {
	return entityOverhead + b64(len(p.Row)) + labelCost(p.LastError)
}

// Cost is an upper bound on the body of the transaction that commits g and
// outbox.
func Cost(g store.Group, outbox []store.Pending) int {
	c := GroupCost(g)
	for _, p := range outbox {
		c += PendingCost(p)
	}
	return c
}
