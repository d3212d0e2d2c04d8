// Package store defines the records drswatch keeps between batches: one
// entity per detection group (its encoded window state) and one outbox entry
// per alert revision that has not been delivered yet.
//
// Implementations live in subpackages: memstore (embedded, in memory) and
// tablestore (Azure Table Storage). Both pass the contract suite in storetest.
// The interfaces that use them are declared by their consumers (package
// pipeline); this package holds only the shared data types and errors.
package store

import (
	"errors"
	"time"
)

// Errors every implementation returns, wrapped with context; test them with
// errors.Is.
var (
	// ErrNotFound means the group or outbox entry does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost a race: the group was created
	// or changed by someone else since it was read. Reload and retry.
	ErrConflict = errors.New("conflict")
	// ErrTooLarge means an entity would exceed the store's size limits. The
	// caller bounds what it stores, so this indicates a bug, not bad input.
	ErrTooLarge = errors.New("entity too large")
)

// Group is one detection group's persisted state.
type Group struct {
	// ID identifies the group: lower-case hex, at most 64 characters, safe in
	// any key. It is the alert's AlertId.
	ID string
	// Window is the start of the group's time window (UTC). Stores use it to
	// partition and to expire state.
	Window time.Time
	// ExpiresAt is when the state may be deleted (window end plus the allowed
	// lateness).
	ExpiresAt time.Time
	// UPN and SessionID are the group's key values, kept for people reading
	// the table. They may be truncated; State holds what the code needs.
	UPN       string
	SessionID string
	// State is the encoded window state; opaque to the store.
	State []byte
	// ETag is the version read or written. Empty means the group is new.
	ETag string
}

// Pending is an alert revision waiting in the outbox for delivery.
type Pending struct {
	// GroupID and Window locate the group the revision belongs to.
	GroupID string
	Window  time.Time
	// Revision is the alert revision number (1, 2, ...).
	Revision int
	// Row is the alert revision encoded as the JSON row the sink sends.
	Row []byte
	// CreatedAt is when the revision was written to the outbox.
	CreatedAt time.Time
	// Attempts counts failed delivery attempts; PermanentFailures counts those
	// the sink called permanent (4xx).
	Attempts          int
	PermanentFailures int
	// NextAttempt is the earliest time a resend should be tried.
	NextAttempt time.Time
	// LastError is the last delivery error, for logs; never a secret.
	LastError string
	// ETag is the entry's version, for conditional updates.
	ETag string
}

// Cutoff says which groups Expire deletes.
type Cutoff struct {
	// ExpiresBefore: groups whose ExpiresAt is before it are deleted.
	ExpiresBefore time.Time
	// WindowsBefore, when not zero, narrows what Expire reads (and so
	// deletes) to groups whose window started before it. The caller sets it
	// where it knows that no group with a later window is due: the pipeline
	// gives every group the same lifetime, so it passes ExpiresBefore minus
	// that lifetime and the store reads only what is due. A group kept by
	// this bound is deleted by a later Expire, once its window falls below.
	WindowsBefore time.Time
}

// ETagAny, as a Pending's ETag, makes UpdatePending update the entry
// whatever its version, but only if it still exists: the outbox row of a
// revision just committed, whose version the committer does not know.
const ETagAny = "*"

// Size bounds every implementation accepts. Callers keep what they store
// under them; a larger value is rejected with ErrTooLarge.
const (
	// MaxStateBytes is the largest Group.State.
	MaxStateBytes = 720 << 10
	// MaxRowBytes is the largest Pending.Row.
	MaxRowBytes = 256 << 10
)
