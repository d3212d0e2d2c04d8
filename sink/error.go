package sink

import (
	"errors"
	"fmt"
	"time"
)

// Kind says why a row was not delivered.
type Kind int

// Kinds of delivery failure. Only KindInvalid, KindRejected and KindTooLarge
// are permanent.
const (
	// KindInvalid: the row is not a JSON object, or failed local validation.
	KindInvalid Kind = iota + 1
	// KindRejected: the service rejected the row itself (HTTP 400 on a call
	// that carried only this row).
	KindRejected
	// KindTooLarge: the row alone exceeds the per-call size limit.
	KindTooLarge
	// KindThrottled: the service answered 429 and retries ran out or the
	// requested wait exceeded the configured bound.
	KindThrottled
	// KindUnavailable: the service answered 408 or 5xx and retries ran out.
	KindUnavailable
	// KindUnauthorized: the credential failed, or the service answered 401 or
	// 403. A new role assignment can take up to 30 minutes to apply, so this
	// is not permanent.
	KindUnauthorized
	// KindConfig: the request, not the row, is wrong (unknown stream or rule,
	// 404, other unexpected statuses). Fixing the deployment lets the row
	// through unchanged.
	KindConfig
	// KindTimeout: the per-call timeout expired.
	KindTimeout
	// KindCanceled: the caller's context ended before the row was delivered.
	KindCanceled
	// KindTransport: a network or I/O error.
	KindTransport
	// KindNotAttempted: an earlier call in the same Send failed in a way that
	// would also affect this row (throttling, outage, auth), so no call was
	// made for it.
	KindNotAttempted
)

var kindNames = map[Kind]string{
	KindInvalid:      "invalid",
	KindRejected:     "rejected",
	KindTooLarge:     "too-large",
	KindThrottled:    "throttled",
	KindUnavailable:  "unavailable",
	KindUnauthorized: "unauthorized",
	KindConfig:       "config",
	KindTimeout:      "timeout",
	KindCanceled:     "canceled",
	KindTransport:    "transport",
	KindNotAttempted: "not-attempted",
}

// String returns a short lower-case name for the kind.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Permanent reports whether a row that failed with this kind cannot succeed
// if resent unchanged.
func (k Kind) Permanent() bool {
	return k == KindInvalid || k == KindRejected || k == KindTooLarge
}

// Error is the failure of one row. Several rows of one call may share the
// same *Error value.
type Error struct {
	// Kind classifies the failure.
	Kind Kind
	// StatusCode is the HTTP status of the last response, 0 if none.
	StatusCode int
	// Code is the service's error code (x-ms-error-code or error.code), if
	// any.
	Code string
	// Message is a human-readable reason: the service's error message or a
	// description of the local failure. It never contains tokens.
	Message string
	// RetryAfter is the wait the service asked for, when it asked.
	RetryAfter time.Duration
	// Err is the underlying error, if any. It is for errors.Is / errors.As
	// and is not included in Error().
	Err error
}

// Error formats the failure for logs: kind, status, code and message.
func (e *Error) Error() string {
	s := "sink: " + e.Kind.String()
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.StatusCode)
		if e.Code != "" {
			s += " " + e.Code
		}
		s += ")"
	} else if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether resending the row unchanged cannot succeed.
func (e *Error) Permanent() bool { return e.Kind.Permanent() }

// IsPermanent reports whether err, or an error it wraps, has a Permanent
// method that returns true. nil and errors without such a method are not
// permanent.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
