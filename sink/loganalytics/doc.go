// Package loganalytics sends alert rows to a Log Analytics workspace through
// the Azure Monitor Logs Ingestion API (azlogs v1.1.0), following the
// delivery contract of package sink:
//
//	Send(ctx context.Context, rows [][]byte) []error
//
// returns len(rows) entries, nil for an accepted row and a *sink.Error
// otherwise, whose Permanent method says whether resending the row unchanged
// can ever succeed.
//
// # Calls
//
// Rows are checked locally first: a row that is not a JSON object, fails
// Options.Validate, or is too large for a call on its own (more than
// Options.MaxCallBytes once wrapped in "[" and "]") fails permanently
// without a call. The remaining rows are packed, in order, into JSON arrays
// of at most Options.MaxCallBytes uncompressed bytes (default 1,000,000,
// under the service's 1 MiB limit whether it counts compressed or
// uncompressed bytes); a row is never split. Each array is gzipped and sent
// with Content-Encoding: gzip in one Upload call. Calls are sequential.
//
// # Failures
//
//   - 408, 429 and 5xx are retried inside the call by azcore's retry policy,
//     at most Options.MaxRetries times, with exponential backoff capped at
//     Options.MaxRetryDelay and honouring Retry-After (retry-after-ms,
//     x-ms-retry-after-ms, Retry-After). A Retry-After longer than
//     MaxRetryDelay ends the call at once; the wait is reported in
//     sink.Error.RetryAfter. When retries run out the rows fail with
//     KindThrottled or KindUnavailable (not permanent).
//   - 413 splits the call's rows in halves and sends each half; a single row
//     answered 413 fails permanently (KindTooLarge).
//   - 400 bisects the call's rows so that good rows in the same call are
//     still delivered and only the rows the service rejects on their own
//     fail, permanently (KindRejected), with the service's error code and
//     message. 400 InvalidStream (wrong stream name) is a deployment error:
//     no bisection, and not permanent (KindConfig).
//   - 401 and 403 fail the rows with KindUnauthorized, not permanent: a new
//     "Monitoring Metrics Publisher" role assignment on the DCR can take up
//     to 30 minutes to apply. A failing credential is reported the same way.
//   - Other statuses (404 for an unknown rule, ...) fail with KindConfig.
//   - Each call, retries included, runs under Options.CallTimeout; expiry
//     gives KindTimeout. When the caller's context ends, the rows not yet
//     delivered fail with KindCanceled.
//
// After a call fails in a way that is not specific to its rows (all the
// non-permanent kinds above), Send makes no further calls: the rows it has
// not sent fail with KindNotAttempted (not permanent), so one Send costs at
// most one call's retry budget once the service is unhealthy. A Send makes
// at most Options.MaxCalls calls (splits included); rows left over fail with
// KindNotAttempted.
//
// A 5xx or timeout can hide a call the service did ingest; resending then
// duplicates rows. Rows carry AlertId and Revision so that queries can
// de-duplicate.
//
// Error texts carry the HTTP status, the service's error code and message,
// never the request URL, headers or tokens.
package loganalytics
