package supervisor

import (
	"context"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// drill proves the table restorable (tables.Drill: newest backup in its
// history plus the journal up to the live position, compared with a
// snapshot of the live table): drill.started, then drill.completed (data
// backup_id, journal_records, records, digest, position, recovered_to) or
// a final drill.failed (data reason, and backup_id when one was tried): a
// backup that cannot restore is an incident, and the notifier sends it.
func (s *Supervisor) drill(ctx context.Context, ts *tableState, j *job) (events.Event, error) {
	start := time.Now()
	started := s.jobEvent(events.DrillStarted, j)
	started.Result = events.ResultOK
	rerr := s.record(started)
	res, err := ts.t.Drill(ctx, s.progressOf(ts))
	if err != nil {
		s.noteCorruption(ts, "drill", err)
		err = opError(ts.name, "drill", err)
		data := map[string]any{"reason": err.Error(), "final": true}
		if res.BackupID != "" {
			data["backup_id"] = res.BackupID
		}
		e := outcome(s.jobEvent(events.DrillFailed, j), events.ResultFailed, start, err, data)
		return e, joinErr(rerr, err, s.record(e))
	}
	data := map[string]any{
		"backup_id":       res.BackupID,
		"journal_records": res.JournalRecords,
		"records":         res.Records,
		"digest":          res.Digest,
		"position":        res.Position,
	}
	if !res.RecoveredTo.IsZero() {
		data["recovered_to"] = res.RecoveredTo.Format(time.RFC3339Nano)
	}
	e := outcome(s.jobEvent(events.DrillCompleted, j), events.ResultOK, start, nil, data)
	return e, joinErr(rerr, s.record(e))
}
