// Package tablestore keeps drswatch's window state and alert outbox in Azure
// Table Storage (github.com/Azure/azure-sdk-for-go/sdk/data/aztables).
//
// # Keys
//
// Group ids are lower-case hex (at most 64 characters), so every key below is
// made of digits, hex letters, "g", "o" and "-": nothing the service forbids
// (`/ \ # ?`, control characters), no quote to escape, far below the 512
// characters Azurite allows (1 KiB on Azure).
//
//	PartitionKey  %012d-%x   window start in unix seconds, "-", first hex character of the id
//	RowKey        g<id>                    the group
//	RowKey        o<id>-%010d              an outbox entry (alert revision)
//
// The outbox rows share their group's partition, so Commit writes the group
// and its new revisions in one entity group transaction: all or nothing.
//
// Why this partitioning: Table Storage targets 2,000 entities/s per partition
// and 20,000 transactions/s per account. Each batch of sign-ins writes the
// groups of the current window(s); with one partition per window every write
// would hit a single partition and cap the detector at 2,000 groups/s. The
// shard (16 values from the id, which is a hash) spreads a window over 16
// partitions, 32,000 entities/s in total, more than the account allows, so
// the account target stays the limit. More shards would buy nothing and would
// split expiry's per-partition delete batches into smaller ones. Because the
// key starts with the zero-padded window, keys sort by time: Expire is given
// a window bound by its caller (store.Cutoff; the pipeline passes the oldest
// window that can still be live) and scans only the partitions below it, so
// it reads the groups that are due and not the live ones. ListPending and
// CountPending have no such prefix and scan the table with a server-side
// filter on RowKey (and NextAttempt); they run from the Sweep timer, not per
// batch, CountPending asks for keys only, and the table holds only live
// windows and undelivered revisions.
//
// # Table
//
// New and NewFromConnectionString send nothing. CreateTable makes the table
// where drswatch owns it (replay, tests, Azurite); in Azure the deployment
// makes it.
//
// # Entities
//
// Group: ID, UPN, SessionID (strings), Window, ExpiresAt (Edm.DateTime),
// StateLen (Edm.Int64) and the State bytes in Edm.Binary chunks S00, S01, ...
// of at most 64 KiB each. Outbox entry: GroupID, LastError (strings), Window,
// CreatedAt, NextAttempt (Edm.DateTime), Revision, Attempts,
// PermanentFailures, RowLen (Edm.Int64) and the Row bytes in chunks R00, ...
// The zero time is stored as 1601-01-01, the smallest Edm.DateTime, and read
// back as the zero time. UPN, SessionID and LastError are cut to 2,048 runes
// of valid UTF-8 (see store/internal/rules): they are for people, and the
// bound keeps a group with State at store.MaxStateBytes under 1 MiB even as
// Azurite measures it (the UTF-8 JSON body, with binary as base64).
//
// # Errors
//
// Service errors (*azcore.ResponseError, including the status hidden inside a
// transaction's 202 response) become store.ErrNotFound, store.ErrConflict or
// store.ErrTooLarge at this boundary, wrapped with the operation and the
// original error. Sizes are checked before any call. Nothing is logged.
package tablestore
