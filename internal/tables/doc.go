// Package tables is the storage core of Custodian: goleveldb tables whose
// handle can be swapped under a lock, consistent backups with manifests,
// compaction (native and rewrite), verify, quarantine, restore and salvage,
// and the classification of goleveldb's corruption errors. It imports no
// NATS and decides no policy (schedules, thresholds, retries and events are
// internal/supervisor's); it reports corruption through
// Options.OnCorruption and progress through Progress callbacks.
//
// # Layout under the data directory
//
//	tables/<t>/                  the live database (+ custodian-dead.json)
//	tables/.tmp-*                scratch of create, rewrite, restore, salvage
//	tables/.old-<t>              the live dir moved aside during a rewrite swap
//	tables/.ready-<t>            a verified restore/salvage past its commit point
//	backups/<t>/<id>/            a backup: database + manifest.json
//	backups/<t>/.tmp-*           a backup being written, or being pruned
//	quarantine/<t>/<time>/       a damaged table moved aside, never deleted
//
// Table names are checked against the contract (events.ValidTable) before
// any path is built; work directories start with '.', which no table name
// or backup id can. OpenStore finishes or removes every work directory (see
// Store.cleanup): an interrupted rewrite is rolled back (or its old dir
// removed when the swap had finished), a restore past its commit point is
// rolled forward, scratch is deleted.
//
// # Choices
//
//   - Strictness: opt.StrictAll on every open and in the ReadOptions of every
//     verify scan; see dbOptions for why. A torn tail of a journal
//     or of the MANIFEST (an append cut short by a crash or a full disk) is
//     cut off before a live table opens (package logtail; reported through
//     Options.OnTornTail), so that only damage fails the open.
//   - Verify of a live table reads every table file of the current version
//     from disk and checks every block's CRC before its logical scan:
//     goleveldb's block cache would otherwise serve the scan blocks read
//     before the disk went bad (see Verify for what it does not cover).
//   - Digest: SHA-256 over 8-byte big-endian length-prefixed keys and values
//     in key order; see Digester.
//   - Backup ids: UTC time "20060102T150405.000000000Z" plus "-" and 6 hex
//     digits, so that ids sort by creation time.
//   - ModeAuto: rewrite when the dead estimate is >= 30%, or >= 10% with the
//     deepest level holding >= 80% of the bytes; native otherwise (see
//     ChooseMode).
//   - Dead estimate: counted from the writes the table sees, persisted in a
//     sidecar inside the table directory that says whether the table was
//     closed cleanly; after an unclean stop the live records are recounted
//     when the table opens, and every Verify corrects them; see dead.go.
//   - A corruption met by a data-plane request (get, put, delete, batch,
//     scan) answers apierr.TableUnavailable (wrapping the corruption), as
//     the requests after it do while the table is restored; maintenance
//     keeps its error (see Table.fail).
//   - Writes are durable when they return (Sync; with Options.NoSync only
//     written to the OS: they survive a crash of the process, not a power
//     loss), also during a rewrite: a rewrite records the keys written while
//     it copies and catches up from snapshots, then pauses writes only for
//     the last delta and the swap (CompactResult.PauseMS).
//   - Restores and salvages commit by renaming a verified copy to
//     tables/.ready-<t>; a damaged backup fails with ErrBackupInvalid (never
//     a corruption type: the table is not what is damaged).
//   - Failpoints: Options.Failpoint is called at every step of rewrite,
//     backup, restore and salvage (FailpointNames); the crash test SIGKILLs
//     a child process at each.
package tables
