// Package supervisor applies Custodian's maintenance policy to the tables of
// one node: per-table schedules for compaction, backup and verify, the
// dead-ratio threshold, a bounded per-table work queue with coalescing, one
// retry of a failed compaction, automatic restore when corruption is
// detected, and degraded mode when no backup is good. It drives
// internal/tables and reports every step through an events.Emitter; it knows
// nothing of NATS or HTTP.
//
// # Wiring
//
// Open(root, tables.Options{...}, emitter, Config{...}) opens the Store with
// its OnCorruption pointed at the Supervisor (New takes a Store opened
// elsewhere; see CorruptionHandler). Then OpenTable for each table, Run(ctx)
// in a goroutine, Submit for commands, Close after Run returned.
//
// # Work and its events
//
// Every operator command (Submit) emits command.accepted, or command.rejected
// with data.code (the apierr code) and error. Scheduled work (trigger
// schedule) carries a command id but emits no command.accepted. Every event
// carries trigger, attempt (1 unless it is a compaction's retry) and result
// (ok for *.started, command.accepted, table.created and table.stats), and
// data.reason wherever something failed, was skipped or refused. Every
// outcome event carries command_id, duration_ms and data:
//
//	verb     events
//	compact  compaction.skipped (unforced, dead_ratio < threshold: data.dead_ratio,
//	         threshold, reason) | compaction.started, then .completed (bytes_before,
//	         bytes_after, records, dead_ratio, mode, pause_ms) or .failed (reason); a
//	         first failure (attempt 1) is retried once after RetryDelay, a
//	         second (attempt 2) is final and the table waits for its schedule
//	backup   backup.started, then backup.completed (backup_id, records, bytes,
//	         digest) and one backup.pruned (backup_id) per backup beyond
//	         retention, or backup.failed (final)
//	verify   verify.completed (records, bytes, digest) or verify.failed (final)
//	restore  restore.started, restore.failed per backup that does not verify
//	         (backup_id; final; trying_next true when an older backup is
//	         tried next), then restore.completed (records, backup_id,
//	         backup_age_ms) or table.degraded (reason); a restore.failed
//	         without trying_next ends the restore, with serving true when
//	         the table (a manual restore of a serving table) keeps serving
//	         its current data
//	salvage  table.recovered (records, source) or restore.failed (method
//	         salvage; final); Submit refuses a salvage (not_found) when the
//	         table has no quarantined copy
//	status   answered at once (Ticket.Status), no outcome event
//
// table.stats (bytes, records, dead_records, dead_ratio, dead_bytes, queue,
// next_compaction, next_backup, next_verify) every StatsEvery; while an
// operation runs it also carries running, running_command_id and the
// progress tables last reported (progress_done, progress_total,
// progress_unit), which TableStatus.Progress shows at any time.
//
// Progress: the contract's event types are fixed, so a long operation
// reports its figures as table.stats events that carry its command_id and
// trigger, data.running (verb), running_command_id, progress_done,
// progress_total, progress_unit and queue (plus the size figures while the
// table serves): one as soon as tables reports figures, then at most one a
// second, whatever StatsEvery is. tables reports after each 64K records
// copied or scanned and at the end of each step (a native compaction
// reports nothing: CompactRange gives no figures).
//
// table.created when OpenTable creates a table.
//
// # Detection and restore
//
// tables reports a corruption met by any operation (open, read, write,
// iterator, compaction, verify) to the handler. The first report of an
// incident marks the table unavailable ("restoring": its requests answer
// table_unavailable), emits corruption.detected (data.op, error) at once, and
// puts an automatic restore (trigger auto) at the front of the table's
// queue; further reports while that restore is pending or running are the
// same incident. The restore tries the backups newest first; tables'
// RestoreFrom quarantines the damaged directory at its commit point. With no
// good backup the directory is quarantined and the table degraded: it stays
// unavailable, every other table keeps serving, and an operator can restore
// (manual) or salvage it. Unless the table is critical (Policy.Critical):
// then the node is failing (Health, NodeStatus) until the table is repaired,
// and with Policy.OnUnrecoverable stop every table stops serving data, across
// restarts, until then (critical.go).
//
// A compact, backup or verify that cannot run because its table does not
// serve is refused, not failed: the ones queued when the table degrades end
// at once, and one that reaches the head of its queue while the table does
// not serve ends there, each with command.rejected (data.code
// table_unavailable, data.reason "table degraded" or "table restoring",
// data.queued true; emitted when the command was announced with
// command.accepted) and its tickets get that outcome and an
// apierr.TableUnavailable error. A *.failed would page operators once per
// queued command for what table.degraded already says. Queued restores and
// salvages are kept.
//
// At shutdown, commands still queued end the same way, with data.code
// internal and reason "shutdown" (see Run).
//
// # Queue
//
// One operation at a time per table. Behind it, a queue of at most
// Config.QueueSize commands (a full queue answers apierr.Busy); a command
// identical to one still queued (same verb and body, the compaction mode
// resolved against the policy) joins it: its ticket follows the queued one's
// outcome. Different tables work concurrently, at most Config.MaxConcurrent
// at once; restores and salvages do not wait for a slot. Automatic restores
// and compaction retries bypass the queue bound.
package supervisor
