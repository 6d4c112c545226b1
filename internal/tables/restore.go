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
)

// RestoreFrom copies the backup id into place, verifies it (records and
// digest equal to its manifest, then an open/close test) and serves it:
//
//  1. the backup's database files are copied into tables/.tmp-restore-...
//     and fsynced;
//  2. the copy is opened (read-write: this is the open/close test, and it
//     flushes the journal), strictly scanned, compared with the manifest,
//     closed; its dead estimate is written;
//  3. it is renamed to tables/.ready-<t>: the commit point; a crash after it
//     is rolled forward by OpenStore;
//  4. under the write lock: the live database (if open) is closed and its
//     directory (if any) moved to quarantine/<t>/<time>; .ready-<t> is
//     renamed to tables/<t> and opened; the table serves again.
//
// A failure before step 3 changes nothing: the table keeps serving if it
// did (a manual restore of a healthy table), or stays unavailable; nothing
// is left in tables/. A backup that does not verify fails with an error
// wrapping ErrBackupInvalid (never a corruption type: the table is not
// what is damaged), so that the caller can try the next older backup. A
// missing backup is apierr.NotFound.
func (t *Table) RestoreFrom(ctx context.Context, backupID string, progress Progress) (RestoreResult, error) {
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
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if t.isClosed() {
		return RestoreResult{}, apierr.New(apierr.TableUnavailable, "table %s is closed", t.name)
	}
	tablesPath := filepath.Join(s.root, tablesDir)
	tmp := filepath.Join(tablesPath, tmpPrefix+"restore-"+t.name+"-"+randHex(4))
	s.failpoint(FPRestoreBeforeCopy)
	n, err := copyDBFiles(src, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return RestoreResult{}, opErrorf(t.name, "restore", "copy backup %s: %w", backupID, err)
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
	if err == nil {
		err = writeDead(tmp, deadState{Live: vr.Records, LiveBytes: vr.Bytes, Since: time.Now().UTC()}, false)
	}
	if err == nil {
		err = syncTree(tmp)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return RestoreResult{}, opErrorf(t.name, "restore", "backup %s: %w", backupID, err)
	}
	if progress != nil {
		progress(vr.Records, m.Records, "records")
	}
	s.failpoint(FPRestoreAfterVerify)
	q, err := t.commitReady(tmp, FPRestoreReady, FPRestoreAfterQuarantine, FPRestoreAfterRename)
	if err != nil {
		return RestoreResult{}, opErrorf(t.name, "restore", "backup %s: %w", backupID, err)
	}
	return RestoreResult{BackupID: m.ID, Records: vr.Records, BackupAge: time.Since(m.Created), Quarantined: q}, nil
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
	db, err := openDB(t.dir, false)
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
	t.db = db
	t.fault = nil         // a new handle takes writes
	_ = t.startPosition() // an error is kept: Position and the next backup's manifest report it
	t.setDead(d)
	t.reason = ""
	return q, nil
}
