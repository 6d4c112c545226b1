package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// restore heals a table from its backups: corruption.detected first when an
// incident started it (trigger auto), then the table stops serving
// ("restoring": requests answer table_unavailable, so no write is accepted
// and then lost in the swap) and restore.started; the backups are tried
// newest first (from body.backup_id when a manual restore names one). Each
// one that fails emits restore.failed (final, data.backup_id), with
// data.trying_next true when an older backup is tried next (the restore goes
// on); a restore.failed without trying_next ends the restore. The first good
// one is served by tables.RestoreFrom, which moves the damaged directory to
// quarantine at its commit point (crash-safe: the live directory is never
// gone before a verified copy is ready), and restore.completed follows
// (data.records, data.backup_id, data.backup_age_ms: the window of writes the
// restore could not bring back, data.quarantine). With no good backup the
// damaged directory is quarantined (salvage works from there) and the table
// is degraded: table.degraded, unavailable until an operator restores or
// salvages it; other tables are not touched. A manual restore of a table
// that was serving keeps serving its current data when no backup is good
// (the outcome is the last restore.failed, with data.serving true, recorded
// once the table serves again): nothing was wrong with it.
func (s *Supervisor) restore(ctx context.Context, ts *tableState, j *job) (events.Event, error) {
	start := time.Now()
	var errs []error
	reason := "manual restore"
	if j.det != nil {
		reason = fmt.Sprintf("corruption on %s", j.det.op)
		errs = append(errs, s.announced(j))
	}
	wasServing, _ := ts.t.Available()
	wasServing = wasServing && j.det == nil

	ts.t.SetUnavailable(tables.ReasonRestoring)
	started := s.jobEvent(events.RestoreStarted, j)
	started.Result = events.ResultOK
	started.Data = map[string]any{"reason": reason}
	if j.cmd.Body.BackupID != "" {
		started.Data["backup_id"] = j.cmd.Body.BackupID
	}
	at, _ := parseAt(j.cmd.Body.At) // checked when the command was accepted
	if !at.IsZero() {
		started.Data["at"] = at.Format(time.RFC3339Nano)
	}
	errs = append(errs, s.record(started))

	backups, lerr := s.store.Backups(ts.name)
	if lerr != nil {
		errs = append(errs, fmt.Errorf("table %s: restore: list backups: %w", ts.name, lerr))
	}
	backups = fromBackup(backups, j.cmd.Body.BackupID)
	backups, herr := inHistoryFirst(ts.t, backups, at)
	if herr != nil {
		errs = append(errs, fmt.Errorf("table %s: restore: %w", ts.name, herr))
	}

	var (
		tried []string
		// last is the latest restore.failed; for a table that was serving,
		// the final one is held back (see the wasServing branch below).
		last events.Event
	)
	// Shutdown: the table stays unavailable; the next start finds the
	// damage again (tables is crash-safe). No backup is blamed for it; the
	// outcome is recorded (the record context outlives the work's).
	cut := func(err error) (events.Event, error) {
		errs = append(errs, fmt.Errorf("table %s: restore: %w", ts.name, err))
		e := outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, start, err,
			map[string]any{"reason": "shutdown", "tried": tried, "final": true})
		errs = append(errs, s.record(e))
		return e, joinErr(errs...)
	}
	// With off-site copies, the local backups are followed by the
	// off-site ones they lack (fetched one at a time, newest first).
	offsite := map[string]bool{}
	fetch := func() bool {
		if s.cfg.Offsite == nil || !at.IsZero() || ctx.Err() != nil {
			return false
		}
		fetched := make([]string, 0, len(offsite))
		for id := range offsite {
			fetched = append(fetched, id)
		}
		m, ok, err := s.fetchOffsite(ctx, ts.name, fetched)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			backups = append(backups, m)
			offsite[m.ID] = true
		}
		return ok
	}
	if len(backups) == 0 {
		fetch()
	}
	for i := 0; i < len(backups); i++ {
		m := backups[i]
		if err := ctx.Err(); err != nil {
			return cut(err)
		}
		tried = append(tried, m.ID)
		one := time.Now()
		res, err := ts.t.Restore(ctx, m.ID, tables.RestoreOptions{At: at}, s.progressOf(ts))
		if err != nil && ctx.Err() != nil {
			// Cancelled, not a bad backup.
			return cut(err)
		}
		if err != nil {
			err = fmt.Errorf("table %s: restore from backup %s: %w", ts.name, m.ID, err)
			data := map[string]any{
				"backup_id": m.ID,
				"reason":    err.Error(),
				"final":     true,
			}
			if i == len(backups)-1 {
				fetch() // the off-site copies, when every local backup failed
			}
			if i < len(backups)-1 {
				// Not the end of the restore: an older backup is tried next.
				data["trying_next"] = true
			}
			last = outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, one, err, data)
			if wasServing && i == len(backups)-1 {
				// The end of a restore of a serving table: recorded once
				// the table serves again, saying so (data.serving).
				continue
			}
			errs = append(errs, s.record(last))
			continue
		}
		age := res.BackupAge
		if age <= 0 && !m.Created.IsZero() {
			age = time.Since(m.Created)
		}
		id := res.BackupID
		if id == "" {
			id = m.ID
		}
		data := map[string]any{
			"backup_id":       id,
			"records":         res.Records,
			"backup_age_ms":   age.Milliseconds(),
			"reason":          reason,
			"tried":           len(tried),
			"journal_records": res.JournalRecords,
			"position":        res.Position,
			"lost":            res.Lost,
		}
		if !res.RecoveredTo.IsZero() {
			data["recovered_to"] = res.RecoveredTo.Format(time.RFC3339Nano)
		}
		if res.Lost {
			data["lost_reason"] = res.LostReason
		}
		if !at.IsZero() {
			data["at"] = at.Format(time.RFC3339Nano)
		}
		if res.Quarantined != "" {
			data["quarantine"] = res.Quarantined
		}
		if offsite[m.ID] {
			data["source"] = "offsite" // fetched when every local backup failed
		}
		s.mu.Lock()
		if skipped, ok := s.rebuilt[ts.name]; ok && j.det != nil {
			data["source"] = "offsite" // the backup and journal came from the off-site copies
			if len(skipped) > 0 {
				data["offsite_skipped"] = skipped // newer off-site backups that were damaged
			}
			delete(s.rebuilt, ts.name)
		}
		s.mu.Unlock()
		e := outcome(s.jobEvent(events.RestoreCompleted, j), events.ResultOK, start, nil, data)
		errs = append(errs, s.record(e))
		if !at.IsZero() || res.Lost {
			errs = append(errs, s.backupNewHistory(ts, "a restore that starts a new history"))
		}
		return e, joinErr(errs...)
	}

	why := "no backup"
	switch {
	case lerr != nil:
		why = "could not list backups: " + lerr.Error()
	case len(tried) > 0:
		why = fmt.Sprintf("no good backup (%d tried)", len(tried))
	}
	if wasServing {
		err := fmt.Errorf("table %s: restore: %s; the table keeps its current data", ts.name, why)
		if aerr := ts.t.SetAvailable(); aerr != nil {
			if last.Type != "" { // held back above: every backup failed
				errs = append(errs, s.record(last))
			}
			return s.degrade(ctx, ts, j, start, why, tried, append(errs, aerr))
		}
		if last.Type == "" {
			last = outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, start, err,
				map[string]any{"reason": why, "final": true})
		}
		last.Data["serving"] = true
		errs = append(errs, s.record(last))
		return last, joinErr(append(errs, err)...)
	}
	return s.degrade(ctx, ts, j, start, why, tried, errs)
}

// degrade moves the damaged directory to quarantine (for a later salvage),
// leaves ts unavailable and emits table.degraded.
func (s *Supervisor) degrade(ctx context.Context, ts *tableState, j *job, start time.Time, why string, tried []string, errs []error) (events.Event, error) {
	q, qerr := ts.t.Quarantine(ctx)
	if qerr != nil {
		errs = append(errs, fmt.Errorf("table %s: degrade: %w", ts.name, qerr))
	}
	ts.t.SetUnavailable(tables.ReasonDegraded)
	err := fmt.Errorf("table %s: restore: %s: table degraded", ts.name, why)
	data := map[string]any{"reason": why}
	if q != "" {
		data["quarantine"] = q
	}
	if tried != nil {
		data["tried"] = tried
	}
	errs = append(errs, s.unrecoverable(ts, why, data)) // critical.go
	e := outcome(s.jobEvent(events.TableDegraded, j), events.ResultFailed, start, err, data)
	errs = append(errs, err, s.record(e))
	// The compactions, backups and verifies queued behind the restore
	// cannot run: they end now, refused, not failed.
	errs = append(errs, s.refuseQueued(ts, tables.ReasonDegraded))
	return e, joinErr(errs...)
}

// fromBackup drops the backups newer than id (newest first order kept); an
// empty id keeps them all.
func fromBackup(bs []tables.Manifest, id string) []tables.Manifest {
	if id == "" {
		return bs
	}
	for i, m := range bs {
		if m.ID == id {
			return bs[i:]
		}
	}
	return nil
}

// salvage runs leveldb.RecoverFile on the newest quarantined copy and serves
// what it brings back: table.recovered (data.records, data.source). The table
// does not serve meanwhile (a write to the data being replaced would be
// lost). A failure is restore.failed with data.method "salvage" (final); the
// table returns to the state it had.
func (s *Supervisor) salvage(ctx context.Context, ts *tableState, j *job) (events.Event, error) {
	start := time.Now()
	wasServing, prev := ts.t.Available()
	ts.t.SetUnavailable(tables.ReasonRestoring)
	res, err := ts.t.Salvage(ctx, s.progressOf(ts))
	if err != nil {
		if ok, _ := ts.t.Available(); !ok {
			if wasServing {
				err = joinErr(err, ts.t.SetAvailable())
			} else {
				ts.t.SetUnavailable(prev)
			}
		}
		err = fmt.Errorf("table %s: salvage: %w", ts.name, err)
		f := outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, start, err, map[string]any{
			"method": "salvage",
			"reason": err.Error(),
			"final":  true,
		})
		return f, joinErr(err, s.record(f))
	}
	e := outcome(s.jobEvent(events.TableRecovered, j), events.ResultOK, start, nil, map[string]any{
		"method":  "salvage",
		"records": res.Records,
		"source":  res.Source,
	})
	return e, joinErr(s.record(e), s.backupNewHistory(ts, "a salvage"))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
