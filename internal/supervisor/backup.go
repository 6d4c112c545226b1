package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// backup writes a verified backup of the live table, then prunes the table's
// backups to the policy's retention (one backup.pruned per backup deleted).
// A failed backup is final at once. A pruning failure does not undo the
// backup: it is returned with the backup.completed outcome and kept as the
// table's last error.
func (s *Supervisor) backup(ctx context.Context, ts *tableState, j *job) (events.Event, error) {
	start := time.Now()
	if e, refused, err := s.backupRoom(ctx, ts, j, start); refused {
		return e, err
	}
	started := s.jobEvent(events.BackupStarted, j)
	started.Result = events.ResultOK
	started.Data = map[string]any{"retention": ts.pol.Retention}
	if err := s.record(started); err != nil {
		err = fmt.Errorf("table %s: backup: %w", ts.name, err)
		e := outcome(s.jobEvent(events.BackupFailed, j), events.ResultFailed, start, err, map[string]any{"reason": "emit"})
		return e, joinErr(err, s.record(e))
	}

	m, err := ts.t.Backup(ctx, s.progressOf(ts))
	if err != nil {
		s.noteCorruption(ts, "backup", err)
		err = opError(ts.name, "backup", err)
		e := outcome(s.jobEvent(events.BackupFailed, j), events.ResultFailed, start, err, map[string]any{"reason": err.Error()})
		return e, joinErr(err, s.record(e))
	}
	e := outcome(s.jobEvent(events.BackupCompleted, j), events.ResultOK, start, nil, map[string]any{
		"backup_id": m.ID,
		"records":   m.Records,
		"bytes":     m.Bytes,
		"digest":    m.Digest,
		"created":   m.Created.UTC().Format(time.RFC3339Nano),
	})
	if m.Position != nil {
		e.Data["position"] = *m.Position
	} else if m.PositionError != "" {
		e.Data["position_error"] = m.PositionError
	}
	upStart := time.Now()
	upErr := s.uploadBackup(ctx, ts, m.ID, e.Data)
	errs := []error{s.record(e)}
	if upErr != nil {
		errs = append(errs, upErr, s.offsiteFailed(ts, j, m.ID, upStart, upErr))
	}

	pruned, perr := s.store.Prune(ts.name, ts.pol.Retention)
	// The journal is kept from the oldest retained backup on: what that
	// removed is said by the last backup.pruned.
	jp, jerr := ts.t.PruneJournal()
	if jerr != nil {
		errs = append(errs, fmt.Errorf("table %s: backup: %w", ts.name, jerr))
	}
	for i, p := range pruned {
		pe := s.jobEvent(events.BackupPruned, j)
		pe.Result = events.ResultOK
		pe.Data = map[string]any{
			"backup_id": p.ID,
			"created":   p.Created.UTC().Format(time.RFC3339Nano),
			"records":   p.Records,
			"bytes":     p.Bytes,
			"retention": ts.pol.Retention,
		}
		if i == len(pruned)-1 && jp.Files > 0 {
			pe.Data["journal_pruned_files"] = jp.Files
			pe.Data["journal_pruned_bytes"] = jp.Bytes
		}
		errs = append(errs, s.record(pe))
	}
	if perr != nil {
		errs = append(errs, fmt.Errorf("table %s: backup: prune to %d: %w", ts.name, ts.pol.Retention, perr))
	}
	return e, joinErr(errs...)
}

// backupRoom refuses a backup that has no room for its copy (see noRoom)
// before it starts: a final backup.failed (data.reason "no_space", or the
// write fault's code; the notifier pages: the table is not being backed
// up) instead of a backup that fills the disk and fails half way.
func (s *Supervisor) backupRoom(ctx context.Context, ts *tableState, j *job, start time.Time) (e events.Event, refused bool, err error) {
	st, err := ts.t.Stats(ctx)
	if err != nil {
		err = fmt.Errorf("table %s: backup: stats: %w", ts.name, err)
		e = outcome(s.jobEvent(events.BackupFailed, j), events.ResultFailed, start, err, map[string]any{"reason": err.Error()})
		return e, true, joinErr(err, s.record(e))
	}
	reason, figures, err := s.noRoom(ts.t, st.Bytes)
	if err != nil {
		err = fmt.Errorf("table %s: backup: free space: %w", ts.name, err)
		e = outcome(s.jobEvent(events.BackupFailed, j), events.ResultFailed, start, err, map[string]any{"reason": err.Error()})
		return e, true, joinErr(err, s.record(e))
	}
	if reason == "" {
		return events.Event{}, false, nil
	}
	err = fmt.Errorf("table %s: backup: not started: %s", ts.name, reason)
	data := with(figures, map[string]any{"reason": reason, "final": true, "bytes": st.Bytes})
	e = outcome(s.jobEvent(events.BackupFailed, j), events.ResultFailed, start, err, data)
	return e, true, joinErr(err, s.record(e))
}
