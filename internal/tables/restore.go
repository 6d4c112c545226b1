package tables

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/changelog"
)

// RestoreFrom is Restore without a time: the backup id plus every write
// the journal holds after its position.
func (t *Table) RestoreFrom(ctx context.Context, backupID string, progress Progress) (RestoreResult, error) {
	return t.Restore(ctx, backupID, RestoreOptions{}, progress)
}

// Restore copies the backup id into place, replays the change journal
// after its position, verifies the result and serves it:
//
//  1. the backup's database files are copied into tables/.tmp-restore-...
//     and fsynced;
//  2. the copy is opened (read-write: the open/close test, which also
//     flushes its journal), strictly scanned and compared with the
//     manifest (records and digest): the backup is good;
//  3. the journal's writes after the backup's position are applied to the
//     copy (every one, or those up to o.At), stopping at damage or a gap
//     in the journal (RestoreResult.Lost says what could not be brought
//     back); the copy is opened, strictly scanned and closed again, and
//     recorded as a new generation of the journal (journal.go);
//  4. it is renamed to tables/.ready-<t>: the commit point; a crash after it
//     is rolled forward by OpenStore;
//  5. under the write lock: the live database (if open) is closed, its
//     journals kept in the archive and its directory (if any) moved to
//     quarantine/<t>/<time>; .ready-<t> is renamed to tables/<t> and
//     opened; the table serves again.
//
// The table does not serve while the restore runs (unless the caller made
// it unavailable already, it is marked "restoring" and, when the restore
// fails before its commit point, serving again). A failure before step 4
// changes nothing else; nothing is left in tables/. A backup that does not
// verify fails with an error wrapping ErrBackupInvalid (never a corruption
// type: the table is not what is damaged), so that the caller can try the
// next older backup. A missing backup is apierr.NotFound; a backup taken
// after o.At is apierr.InvalidRequest.
func (t *Table) Restore(ctx context.Context, backupID string, o RestoreOptions, progress Progress) (RestoreResult, error) {
	s := t.store
	src, err := s.BackupDir(t.name, backupID)
	if err != nil {
		return RestoreResult{}, err
	}
	m, err := readManifest(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return RestoreResult{}, apierr.New(apierr.NotFound, "table %s: backup %s not found", t.name, backupID)
		}
		return RestoreResult{}, opErrorf(t.name, "restore", "backup %s: %w", backupID, err)
	}
	if m.ID != backupID || m.Table != t.name {
		return RestoreResult{}, opErrorf(t.name, "restore", "backup %s: %w: manifest names %s/%s",
			backupID, ErrBackupInvalid, m.Table, m.ID)
	}
	if !o.At.IsZero() && m.Created.After(o.At) {
		return RestoreResult{}, apierr.New(apierr.InvalidRequest, "table %s: backup %s was taken at %s, after %s",
			t.name, backupID, m.Created.Format(time.RFC3339Nano), o.At.Format(time.RFC3339Nano))
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return RestoreResult{}, apierr.New(apierr.TableUnavailable, "table %s is closed", t.name)
	}
	// No write may be acknowledged after the journal is read.
	stopped := t.reason == ""
	if stopped {
		t.reason = ReasonRestoring
	}
	t.mu.Unlock()
	fail := func(err error) (RestoreResult, error) {
		if stopped {
			t.mu.Lock()
			if t.reason == ReasonRestoring {
				t.reason = ""
			}
			t.mu.Unlock()
		}
		return RestoreResult{}, opErrorf(t.name, "restore", "backup %s: %w", backupID, err)
	}
	tmp := s.scratchDir("restore", t.name)
	s.failpoint(FPRestoreBeforeCopy)
	n, err := copyDBFiles(src, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return fail(fmt.Errorf("copy: %w", err))
	}
	if progress != nil {
		progress(n, n, "bytes")
	}
	s.failpoint(FPRestoreAfterCopy)
	vr, err := openScanClose(ctx, tmp)
	if err == nil {
		err = matchManifest(vr, m)
	} else if ctx.Err() == nil {
		err = fmt.Errorf("%w: %v", ErrBackupInvalid, err)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fail(err)
	}
	s.failpoint(FPRestoreBeforeReplay)
	rep, err := t.replayInto(ctx, tmp, s.scratchDir("journal", t.name), m, changelog.Replay{At: o.At}, progress)
	if err == nil {
		s.failpoint(FPRestoreAfterReplay)
		vr, err = openScanClose(ctx, tmp)
	}
	if err == nil {
		err = writeDead(tmp, deadState{Live: vr.Records, LiveBytes: vr.Bytes, Since: time.Now().UTC()}, false)
	}
	if err == nil {
		g := changelog.Generation{From: rep.Last, Root: rep.Root, Reason: "restore"}
		if rep.Root {
			g.From = 0
		}
		err = t.newGeneration(tmp, g)
	}
	if err == nil {
		err = syncTree(tmp)
	}
	if err == nil {
		// The replaced directory's journals into the archive before the
		// commit point (writes are stopped): a failure fails the restore
		// cleanly instead of after its commit.
		if ok, _ := exists(t.dir); ok {
			err = t.seal(t.dir)
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fail(err)
	}
	if progress != nil {
		progress(vr.Records, vr.Records, "records")
	}
	s.failpoint(FPRestoreAfterVerify)
	q, err := t.commitReady(tmp, FPRestoreReady, FPRestoreAfterQuarantine, FPRestoreAfterRename)
	if err != nil {
		return RestoreResult{}, opErrorf(t.name, "restore", "backup %s: %w", backupID, err)
	}
	return RestoreResult{
		BackupID: m.ID, Records: vr.Records, BackupAge: time.Since(m.Created), Quarantined: q,
		JournalRecords: rep.Records, Position: rep.Last, RecoveredTo: rep.LastTime,
		Lost: rep.Lost != "", LostReason: rep.Lost,
	}, nil
}

// openScanClose opens the database in dir read-write (an open/close test
// that also flushes its journal), scans it strictly and closes it.
func openScanClose(ctx context.Context, dir string) (VerifyResult, error) {
	db, err := openDB(dir, false)
	if err != nil {
		return VerifyResult{}, err
	}
	vr, err := scanDB(ctx, db, nil, nil)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return vr, err
}

// commitReady renames a verified directory to tables/.ready-<t> (the commit
// point), then, under the write lock, moves the live directory to
// quarantine, renames .ready-<t> into tables/<t>, opens it and serves it.
// fpReady, fpQuarantined and fpRenamed are the failpoints of those steps.
func (t *Table) commitReady(verified, fpReady, fpQuarantined, fpRenamed string) (string, error) {
	s := t.store
	tablesPath := filepath.Join(s.root, tablesDir)
	ready := filepath.Join(tablesPath, readyPrefix+t.name)
	if err := os.RemoveAll(ready); err != nil {
		os.RemoveAll(verified)
		return "", err
	}
	if err := os.Rename(verified, ready); err != nil {
		os.RemoveAll(verified)
		return "", err
	}
	if err := syncDir(tablesPath); err != nil {
		return "", err
	}
	s.failpoint(fpReady)

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.db != nil {
		_ = t.saveDead(true)
		// A damaged database may fail to close; it moves to quarantine anyway.
		_ = t.db.Close()
		t.db = nil
	}
	// The live directory goes: a sleeping table has nothing left to wake
	// until the restored one is opened.
	t.asleep = false
	q, err := t.moveToQuarantine()
	if err != nil {
		t.reason = "restore failed"
		return "", fmt.Errorf("quarantine the live directory: %w", err)
	}
	s.failpoint(fpQuarantined)
	if err := os.Rename(ready, t.dir); err != nil {
		t.reason = "restore failed"
		return q, err
	}
	if err := syncDir(tablesPath); err != nil {
		t.reason = "restore failed"
		return q, err
	}
	s.failpoint(fpRenamed)
	if t.closed {
		// Closed meanwhile: the restore is committed on disk; the next
		// Store.Open serves it.
		return q, apierr.New(apierr.TableUnavailable, "table %s was closed during the restore", t.name)
	}
	db, g, _, err := t.openLive(t.dir) // a fresh database: no torn tail to cut
	if err != nil {
		t.reason = "restore failed"
		// Leave nothing half-done in tables/<t>.
		if _, qerr := t.moveToQuarantine(); qerr != nil {
			err = errors.Join(err, qerr)
		}
		return q, fmt.Errorf("open the restored database: %w", err)
	}
	d, _, err := readDead(t.dir)
	if err != nil {
		d = deadState{}
	}
	_ = t.install(db, g) // an error is kept: Position and the next backup's manifest report it
	t.setDead(d)
	t.reason = ""
	return q, nil
}
