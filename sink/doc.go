// Package sink delivers encoded alert rows and says, row by row, what
// happened to them.
//
// Every sink has the same delivery contract, which the pipeline declares as
// an interface on its side:
//
//	Send(ctx context.Context, rows [][]byte) []error
//
// rows are already-encoded JSON objects, one alert revision each. Send
// returns a slice with exactly len(rows) entries, in the same order; a nil
// entry means that row was accepted. A non-nil entry is a *Error (test with
// errors.As, or with IsPermanent): its Permanent method reports true when
// resending the row unchanged cannot succeed (the row is malformed, rejected
// by the schema, or too large) and false when a later attempt may succeed
// (throttling, service errors, network errors, timeouts, cancellation,
// missing permissions). Send never panics on bad rows and never retries
// beyond the bounds its implementation documents; the caller keeps failed
// non-permanent rows (for example in an outbox) and offers them again later.
//
// This package holds the shared error type and Writer, which appends rows as
// JSON lines to an io.Writer (stdout or a local file). The Log Analytics
// sink lives in sink/loganalytics.
package sink
