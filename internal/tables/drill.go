package tables

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/changelog"
)

// DrillResult is the outcome of a restore drill that passed.
type DrillResult struct {
	BackupID       string    `json:"backup_id"`
	JournalRecords int64     `json:"journal_records"` // writes replayed after the backup
	Records        int64     `json:"records"`
	Digest         string    `json:"digest"`
	Position       uint64    `json:"position"`              // the live table's, compared at
	RecoveredTo    time.Time `json:"recovered_to,omitzero"` // time of the last write replayed
}

// Drill proves that the table can be restored, without touching it: the
// newest backup in the table's history is copied into a scratch directory
// and verified against its manifest, the journal is replayed onto it up to
// the live table's position (taken with a snapshot while writes are held),
// and the result must equal the snapshot (records and digest). The scratch
// directory is removed whatever the outcome; writes go on meanwhile.
//
// A drill that fails returns an error naming why (and the result names the
// backup it tried, if any): no backup in the history
// (apierr.NotFound), a backup that does not verify (ErrBackupInvalid), a
// journal that does not reach the table's position, or a result that
// differs. A corruption met while reading the live table is reported as
// any other (OnCorruption, op "drill").
func (t *Table) Drill(ctx context.Context, progress Progress) (DrillResult, error) {
	t.opMu.Lock()
	defer t.opMu.Unlock()
	s := t.store
	bs, err := s.Backups(t.name)
	if err != nil {
		return DrillResult{}, opErrorf(t.name, "drill", "list backups: %w", err)
	}
	var m *Manifest
	for i := range bs {
		ok, err := t.InHistory(bs[i])
		if err != nil {
			return DrillResult{}, err
		}
		if ok {
			m = &bs[i]
			break
		}
	}
	if m == nil {
		return DrillResult{}, apierr.New(apierr.NotFound, "table %s: drill: no backup in the table's history (%d backups)", t.name, len(bs))
	}
	db, err := t.maintHandle(ctx)
	if err != nil {
		return DrillResult{}, err
	}
	t.mu.Lock()
	snap, err := db.GetSnapshot()
	pos, posErr := changelog.PositionOf(t.gen, t.pos.Load()), t.posErr
	var slack uint64
	if t.pos.Load() == t.openPos {
		slack = 1 // read from the MANIFEST at the open: maybe one past the last write
	}
	t.mu.Unlock()
	if err != nil {
		return DrillResult{}, t.fail("drill", err)
	}
	defer snap.Release()
	if posErr != nil {
		return DrillResult{}, opErrorf(t.name, "drill", "the table's journal position is not known: %w", posErr)
	}
	fail := func(err error) (DrillResult, error) {
		return DrillResult{BackupID: m.ID}, opErrorf(t.name, "drill", "backup %s: %w", m.ID, err)
	}
	src, err := s.BackupDir(t.name, m.ID)
	if err != nil {
		return DrillResult{}, err
	}
	scratch := s.scratchDir("drill", t.name)
	defer os.RemoveAll(scratch)
	n, err := copyDBFiles(src, scratch)
	if err != nil {
		return fail(fmt.Errorf("copy: %w", err))
	}
	if progress != nil {
		progress(n, n, "bytes")
	}
	s.failpoint(FPDrillAfterCopy)
	vr, err := openScanClose(ctx, scratch)
	if err == nil {
		err = matchManifest(vr, *m)
	} else if ctx.Err() == nil {
		err = fmt.Errorf("%w: %v", ErrBackupInvalid, err)
	}
	if err != nil {
		return fail(err)
	}
	rep, err := t.replayInto(ctx, scratch, s.scratchDir("journal", t.name), *m, changelog.Replay{To: pos, WantSlack: slack}, progress)
	if err != nil {
		return fail(err)
	}
	if rep.Lost != "" {
		return fail(fmt.Errorf("the journal does not reach the table's position %d: %s", pos, rep.Lost))
	}
	s.failpoint(FPDrillAfterReplay)
	got, err := openScanClose(ctx, scratch)
	if err != nil {
		return fail(fmt.Errorf("open the restored copy: %w", err))
	}
	live, err := scanDB(ctx, db, snap, nil)
	if err != nil {
		return DrillResult{}, t.fail("drill", err)
	}
	if got.Records != live.Records || got.Digest != live.Digest {
		return fail(fmt.Errorf("backup + journal to position %d holds %d records digest %s, the table %d records digest %s",
			pos, got.Records, got.Digest, live.Records, live.Digest))
	}
	return DrillResult{
		BackupID: m.ID, JournalRecords: rep.Records, Records: got.Records, Digest: got.Digest,
		Position: pos, RecoveredTo: rep.LastTime,
	}, nil
}
