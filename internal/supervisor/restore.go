package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// restore heals a table from its backups: corruption.detected first when an
// incident started it (trigger auto), then the table stops serving, its
// directory moves to quarantine, and the backups are tried newest first
// (from body.backup_id when a manual restore names one): each one that fails
// emits restore.failed (final, data.backup_id); the first good one serves and
// emits restore.completed (data.records, data.backup_id, data.backup_age_ms:
// the window of writes the restore could not bring back). With no good
// backup the table is degraded: table.degraded, unavailable until an
// operator restores or salvages it; other tables are not touched.
func (s *Supervisor) restore(ctx context.Context, ts *tableState, j *job) (events.Event, error) {
	start := time.Now()
	var errs []error
	reason := "manual restore"
	if j.det != nil {
		reason = fmt.Sprintf("corruption on %s", j.det.op)
		d := s.jobEvent(events.CorruptionDetected, j)
		d.Result = events.ResultFailed
		d.Error = errText(j.det.err)
		d.Data = map[string]any{"op": j.det.op, "error": errText(j.det.err)}
		errs = append(errs, s.emit(ctx, d))
	}

	ts.t.SetUnavailable("restoring")
	started := s.jobEvent(events.RestoreStarted, j)
	started.Data = map[string]any{"reason": reason}
	if j.cmd.Body.BackupID != "" {
		started.Data["backup_id"] = j.cmd.Body.BackupID
	}
	errs = append(errs, s.emit(ctx, started))

	quarantined, qerr := ts.t.Quarantine(ctx)
	if qerr != nil && !errors.Is(qerr, fs.ErrNotExist) {
		err := fmt.Errorf("table %s: restore: quarantine: %w", ts.name, qerr)
		f := outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, start, err,
			map[string]any{"reason": "quarantine: " + qerr.Error()})
		errs = append(errs, err, s.emit(ctx, f))
		return s.degrade(ctx, ts, j, start, "quarantine failed: "+qerr.Error(), nil, errs)
	}

	backups, lerr := s.store.Backups(ts.name)
	if lerr != nil {
		errs = append(errs, fmt.Errorf("table %s: restore: list backups: %w", ts.name, lerr))
	}
	backups = fromBackup(backups, j.cmd.Body.BackupID)

	var tried []string
	for _, m := range backups {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("table %s: restore: %w", ts.name, ctx.Err()))
			e := outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, start, ctx.Err(),
				map[string]any{"reason": "shutdown", "tried": tried})
			return e, joinErr(errs...)
		}
		tried = append(tried, m.ID)
		one := time.Now()
		res, err := ts.t.RestoreFrom(ctx, m.ID, s.progressOf(ts))
		if err != nil {
			err = fmt.Errorf("table %s: restore from backup %s: %w", ts.name, m.ID, err)
			f := outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, one, err, map[string]any{
				"backup_id": m.ID,
				"reason":    err.Error(),
				"final":     true,
			})
			errs = append(errs, s.emit(ctx, f))
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
			"backup_id":     id,
			"records":       res.Records,
			"backup_age_ms": age.Milliseconds(),
			"reason":        reason,
			"tried":         len(tried),
		}
		if quarantined != "" {
			data["quarantine"] = quarantined
		}
		e := outcome(s.jobEvent(events.RestoreCompleted, j), events.ResultOK, start, nil, data)
		errs = append(errs, s.emit(ctx, e))
		return e, joinErr(errs...)
	}

	why := "no backup"
	if len(tried) > 0 {
		why = fmt.Sprintf("no good backup (%d tried)", len(tried))
	}
	return s.degrade(ctx, ts, j, start, why, tried, errs)
}

// degrade leaves ts unavailable and emits table.degraded.
func (s *Supervisor) degrade(ctx context.Context, ts *tableState, j *job, start time.Time, why string, tried []string, errs []error) (events.Event, error) {
	ts.t.SetUnavailable("degraded")
	err := fmt.Errorf("table %s: restore: %s: table degraded", ts.name, why)
	data := map[string]any{"reason": why}
	if tried != nil {
		data["tried"] = tried
	}
	e := outcome(s.jobEvent(events.TableDegraded, j), events.ResultFailed, start, err, data)
	errs = append(errs, err, s.emit(ctx, e))
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
// what it brings back: table.recovered (data.records, data.source). A failure
// is restore.failed with data.method "salvage" (final); the table keeps the
// state it had.
func (s *Supervisor) salvage(ctx context.Context, ts *tableState, j *job) (events.Event, error) {
	start := time.Now()
	res, err := ts.t.Salvage(ctx, s.progressOf(ts))
	if err != nil {
		err = fmt.Errorf("table %s: salvage: %w", ts.name, err)
		f := outcome(s.jobEvent(events.RestoreFailed, j), events.ResultFailed, start, err, map[string]any{
			"method": "salvage",
			"reason": err.Error(),
		})
		return f, joinErr(err, s.emit(ctx, f))
	}
	e := outcome(s.jobEvent(events.TableRecovered, j), events.ResultOK, start, nil, map[string]any{
		"method":  "salvage",
		"records": res.Records,
		"source":  res.Source,
	})
	return e, s.emit(ctx, e)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
