package tables

import (
	"context"
	"errors"
	"fmt"
	"github.com/custodian-dev/custodian/internal/changelog"
	"os"
	"path/filepath"
	"time"
)

// Backup writes a consistent, incremental backup of the live table while
// writes go on and returns its manifest (see backupfiles.go for the
// layout):
//
//  1. the removal of table files is held, and the current MANIFEST is read
//     up to its last whole record: the version it describes is the set of
//     table files to copy;
//  2. into backups/<t>/.tmp-<id>: the table files (new ones copied into
//     backups/<t>/.shared first, all hard-linked from there), the MANIFEST
//     copy, CURRENT, and copies of the journals not yet flushed (cut at
//     their last whole record); the hold ends;
//  3. the copy is opened read-write and closed (its journals fold into one
//     table file), fsynced; its position is the last write of the copied
//     journals (or the MANIFEST's sequence number): the backup plus the
//     journal after that position is the table;
//  4. manifest.json (records and digest from a strict scan, every file
//     with its size and SHA-256, copied and reused bytes) is written;
//  5. the temp dir is renamed to backups/<t>/<id> and backups/<t> fsynced;
//  6. the backup is verified: opened read-only, strictly scanned, records
//     and digest compared with the manifest. A backup that fails its verify
//     is deleted and the error wraps ErrBackupInvalid.
//
// A corruption met while reading the live table is reported to
// OnCorruption with op "backup". Backup does not prune (see Store.Prune).
func (t *Table) Backup(ctx context.Context, progress Progress) (Manifest, error) {
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if _, err := t.maintHandle(ctx); err != nil {
		return Manifest{}, err
	}
	s := t.store
	t.mu.RLock()
	gen, posErr := t.gen, t.posErr
	t.mu.RUnlock()
	created := time.Now().UTC()
	id := newBackupID(created)
	bdir := s.backupDir(t.name)
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return Manifest{}, t.fail("backup", err)
	}
	if err := syncDir(filepath.Dir(bdir)); err != nil {
		return Manifest{}, t.fail("backup", err)
	}
	tmp := filepath.Join(bdir, tmpPrefix+id)
	final := filepath.Join(bdir, id)
	shared := filepath.Join(bdir, sharedDir)

	t.tableHold.hold()
	set, err := readFileSet(t.dir)
	if err != nil {
		herr := t.tableHold.release()
		return Manifest{}, t.fail("backup", errors.Join(err, herr))
	}
	s.failpoint(FPBackupBeforeCopy)
	copied, reused, err := t.copyFileSet(ctx, set, tmp, shared, progress)
	if herr := t.tableHold.release(); err == nil && herr != nil {
		err = herr
	}
	if err != nil {
		os.RemoveAll(tmp)
		if ctx.Err() != nil {
			return Manifest{}, opErrorf(t.name, "backup", "%w", ctx.Err())
		}
		return Manifest{}, t.failCopy("backup", &dstError{err})
	}
	m, err := func() (Manifest, error) {
		if err := cutJournals(tmp); err != nil {
			return Manifest{}, &dstError{err}
		}
		// The last write the copy holds: its MANIFEST's sequence, or the
		// last record of its journals.
		seq, err := changelog.EndSequence(tmp)
		if err != nil {
			return Manifest{}, &dstError{err}
		}
		if err := flushJournals(tmp); err != nil {
			return Manifest{}, err
		}
		if err := syncTree(tmp); err != nil {
			return Manifest{}, err
		}
		var scanned Progress
		if progress != nil {
			total := t.deadSnapshot().Live // the records the table holds, an estimate
			scanned = func(done, _ int64, unit string) { progress(done, max(total, done), unit) }
		}
		vr, err := verifyDirProgress(ctx, tmp, scanned)
		if err != nil {
			if ctx.Err() != nil {
				return Manifest{}, ctx.Err()
			}
			return Manifest{}, t.copyDamaged(ctx, set, shared, err)
		}
		if progress != nil {
			progress(vr.Records, vr.Records, "records")
		}
		s.failpoint(FPBackupAfterCopy)
		files, err := listBackupFiles(tmp)
		if err != nil {
			return Manifest{}, &dstError{err}
		}
		size, err := dirSize(tmp)
		if err != nil {
			return Manifest{}, err
		}
		m := Manifest{ID: id, Table: t.name, Created: created, Records: vr.Records, Bytes: size, Digest: vr.Digest,
			Files: files, CopiedBytes: copied, ReusedBytes: reused}
		if posErr == nil {
			pos := changelog.PositionOf(gen, seq)
			m.Position = &pos
		} else {
			m.PositionError = posErr.Error()
		}
		if err := writeManifest(tmp, m); err != nil {
			return Manifest{}, err
		}
		s.failpoint(FPBackupAfterManifest)
		return m, nil
	}()
	if err != nil {
		os.RemoveAll(tmp)
		return Manifest{}, t.failCopy("backup", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return Manifest{}, t.fail("backup", err)
	}
	if err := syncDir(bdir); err != nil {
		return Manifest{}, t.fail("backup", err)
	}
	s.failpoint(FPBackupAfterRename)
	if err := checkBackup(ctx, final, m); err != nil {
		os.RemoveAll(final)
		return Manifest{}, opErrorf(t.name, "backup", "%s: %w", id, err)
	}
	s.failpoint(FPBackupAfterVerify)
	if progress != nil {
		progress(m.Bytes, m.Bytes, "bytes")
	}
	return m, nil
}

// checkBackup verifies the database in dir against m (records and digest).
// Every failure wraps ErrBackupInvalid and never a goleveldb corruption type:
// a damaged backup is not a damaged table.
func checkBackup(ctx context.Context, dir string, m Manifest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	vr, err := VerifyDir(ctx, dir)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrBackupInvalid, err)
	}
	return matchManifest(vr, m)
}

func matchManifest(vr VerifyResult, m Manifest) error {
	if vr.Records != m.Records || vr.Digest != m.Digest {
		return fmt.Errorf("%w: verify found %d records digest %s, manifest says %d records digest %s",
			ErrBackupInvalid, vr.Records, vr.Digest, m.Records, m.Digest)
	}
	return nil
}

// flushJournals opens the closed database in dir read-write and closes it
// again: the open replays its journals into a table file and leaves one
// empty journal. goleveldb's read-only open fails with a bare EOF on a
// database that has more than one journal (recoverJournalRO returns the
// io.EOF of the first journal from journal.Reader.Reset), which a bulk copy
// that ends while a memtable flush is pending leaves behind; after this a
// backup opens read-only, and a restore's first open has nothing to replay.
func flushJournals(dir string) error {
	db, err := openDB(dir, false)
	if err != nil {
		return &dstError{err}
	}
	if err := db.Close(); err != nil {
		return &dstError{err}
	}
	return nil
}

// copyDamaged decides whose damage a failed scan of a backup's copy is: the
// live table's (its table files are checked from disk: a corruption there
// is returned as the table's, and restores it), or the copy's (a shared
// copy damaged on disk since an earlier backup made it: the shared copies
// this backup used are dropped, so that the next backup copies them anew
// from the live table, and the error is the copy's).
func (t *Table) copyDamaged(ctx context.Context, set fileSet, shared string, scanErr error) error {
	db, err := t.maintHandle(ctx)
	if err == nil {
		_, _, err = checkLiveFiles(ctx, db, t.dir, nil)
	}
	if err != nil && IsCorruption(err) {
		return err
	}
	var errs []error
	for num := range set.version.Tables {
		p := filepath.Join(shared, fmt.Sprintf("%08d-%06d.ldb", t.gen, num))
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			errs = append(errs, rerr)
		}
	}
	return &dstError{errors.Join(append([]error{fmt.Errorf("scan the copy: %w", scanErr)}, errs...)...)}
}
