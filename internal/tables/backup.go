package tables

import (
	"context"
	"fmt"
	"github.com/custodian-dev/custodian/internal/changelog"
	"os"
	"path/filepath"
	"time"
)

// Backup writes a consistent backup of the live table while writes go on
// and returns its manifest:
//
//  1. a snapshot of the live database is iterated (strict checksums) into a
//     new database in backups/<t>/.tmp-<id>, computing records and digest;
//  2. the copy is closed and its files and directory fsynced;
//  3. manifest.json is written (fsynced) into the temp dir;
//  4. the temp dir is renamed to backups/<t>/<id> and backups/<t> fsynced;
//  5. the backup is verified: opened read-only, strictly scanned, records
//     and digest compared with the manifest. A backup that fails its verify
//     is deleted and the error wraps ErrBackupInvalid.
//
// A corruption met while reading the live table is reported to
// OnCorruption with op "backup". Backup does not prune (see Store.Prune).
func (t *Table) Backup(ctx context.Context, progress Progress) (Manifest, error) {
	t.opMu.Lock()
	defer t.opMu.Unlock()
	db, err := t.maintHandle()
	if err != nil {
		return Manifest{}, err
	}
	s := t.store
	// The snapshot and the journal position are taken while writes are
	// held, so that the backup plus the journal after its position is the
	// table (position.go).
	t.mu.Lock()
	snap, err := db.GetSnapshot()
	pos, posErr := changelog.PositionOf(t.gen, t.pos.Load()), t.posErr
	t.mu.Unlock()
	if err != nil {
		return Manifest{}, t.fail("backup", err)
	}
	created := time.Now().UTC()
	total := t.deadSnapshot().Live
	id := newBackupID(created)
	bdir := s.backupDir(t.name)
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		snap.Release()
		return Manifest{}, t.fail("backup", err)
	}
	if err := syncDir(filepath.Dir(bdir)); err != nil {
		snap.Release()
		return Manifest{}, t.fail("backup", err)
	}
	tmp := filepath.Join(bdir, tmpPrefix+id)
	final := filepath.Join(bdir, id)
	s.failpoint(FPBackupBeforeCopy)
	if s.snapshotHook != nil {
		s.snapshotHook(snap)
	}

	m, err := func() (Manifest, error) {
		defer snap.Release()
		dst, err := openDB(tmp, false)
		if err != nil {
			return Manifest{}, &dstError{err}
		}
		res, err := copyInto(ctx, snap.NewIterator(nil, strictRead()), dst, total, progress)
		if cerr := dst.Close(); err == nil && cerr != nil {
			err = &dstError{cerr}
		}
		if err == nil {
			err = flushJournals(tmp)
		}
		if err != nil {
			return Manifest{}, err
		}
		if err := syncTree(tmp); err != nil {
			return Manifest{}, err
		}
		s.failpoint(FPBackupAfterCopy)
		size, err := dirSize(tmp)
		if err != nil {
			return Manifest{}, err
		}
		m := Manifest{ID: id, Table: t.name, Created: created, Records: res.Records, Bytes: size, Digest: res.Digest}
		if posErr == nil {
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
