package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Offsite is what the supervisor asks of the off-site copies.
type Offsite interface {
	// UploadBackup stores the backup id of table (in dir) off-site and
	// says how many bytes it stored and how many the copies already held.
	UploadBackup(ctx context.Context, table, id, dir string) (stored, reused int64, err error)
	// JournalLag is the age of the table's oldest journal record not yet
	// acknowledged off-site (0: caught up) and the last shipping error.
	JournalLag(table string) (time.Duration, error)
	// FetchBackup downloads the table's newest off-site backup whose id
	// is not in skip into the table's backups directory (a local copy of
	// it, which failed, is kept aside) and returns its id ("" when there
	// is none).
	FetchBackup(ctx context.Context, table string, skip []string) (string, error)
}

// Attempts of an off-site upload before offsite.failed, each bounded: the
// backup job (and the table's queue behind it) never waits long on NATS;
// a copy that failed is made later by the off-site layer's sync.
const (
	offsiteTries   = 3
	offsiteRetry   = time.Second
	offsiteTryTime = 10 * time.Second
)

// uploadBackup copies the backup off-site (retried), adding
// offsite_bytes and offsite_reused_bytes to the data of its
// backup.completed; the error of a copy that failed every try is
// returned for offsiteFailed. The local backup stands either way.
func (s *Supervisor) uploadBackup(ctx context.Context, ts *tableState, id string, data map[string]any) error {
	if s.cfg.Offsite == nil {
		return nil
	}
	dir, err := s.store.BackupDir(ts.name, id)
	for try := 1; err == nil && try <= offsiteTries; try++ {
		var stored, reused int64
		tctx, cancel := context.WithTimeout(ctx, offsiteTryTime)
		stored, reused, err = s.cfg.Offsite.UploadBackup(tctx, ts.name, id, dir)
		cancel()
		if err == nil {
			data["offsite_bytes"] = stored
			data["offsite_reused_bytes"] = reused
			return nil
		}
		if try < offsiteTries {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(time.Duration(try) * offsiteRetry):
			}
		}
	}
	return fmt.Errorf("table %s: off-site copy of backup %s: %w", ts.name, id, err)
}

// offsiteFailed records the final offsite.failed of a backup's copy.
func (s *Supervisor) offsiteFailed(ts *tableState, j *job, id string, start time.Time, err error) error {
	e := outcome(s.jobEvent(events.OffsiteFailed, j), events.ResultFailed, start, err, map[string]any{
		"backup_id": id,
		"reason":    err.Error(),
		"tries":     offsiteTries,
		"final":     true,
	})
	return joinErr(err, s.record(e))
}

// putOffsite sets the journal's shipping lag in the data of a table.stats
// event (journal_lag_ms, and offsite_error while shipping fails).
func (s *Supervisor) putOffsite(data map[string]any, table string) {
	if s.cfg.Offsite == nil {
		return
	}
	lag, err := s.cfg.Offsite.JournalLag(table)
	data["journal_lag_ms"] = lag.Milliseconds()
	if err != nil {
		data["offsite_error"] = err.Error()
	}
}

// fetchOffsite downloads table's newest off-site backup not yet fetched
// (skip), for a restore whose local backups all failed.
func (s *Supervisor) fetchOffsite(ctx context.Context, table string, skip []string) (tables.Manifest, bool, error) {
	id, err := s.cfg.Offsite.FetchBackup(ctx, table, skip)
	if err != nil {
		return tables.Manifest{}, false, fmt.Errorf("table %s: restore: fetch an off-site backup: %w", table, err)
	}
	if id == "" {
		return tables.Manifest{}, false, nil
	}
	bs, err := s.store.Backups(table)
	if err != nil {
		return tables.Manifest{}, false, fmt.Errorf("table %s: restore: %w", table, err)
	}
	for _, m := range bs {
		if m.ID == id {
			return m, true, nil
		}
	}
	return tables.Manifest{}, false, fmt.Errorf("table %s: restore: the off-site backup %s fetched has no readable manifest", table, id)
}
