package tables

import (
	"context"
	"fmt"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Verify is the scrub of a live table. It does two things, while reads and
// writes go on:
//
//  1. It reads every table file (.ldb, or legacy .sst) of the database's
//     current version from disk and checks the CRC of every block in it
//     (data, filter, metaindex, index), that the blocks and the footer
//     cover the whole file, and that the file has the size the version
//     records (checkLiveFiles). This bypasses goleveldb's block cache: the
//     scan below may be served blocks read into memory before the disk
//     went bad, so without this a scrub of a running table would not see
//     bit rot on disk.
//  2. It scans the whole table over a snapshot with strict checksums
//     (opt.StrictAll in the iterator's ReadOptions) and reports records,
//     logical bytes (keys + values) and the digest.
//
// What it does not cover: the journal (.log) and the MANIFEST are not read
// (goleveldb reads them only when it opens the database, strictly: a
// damaged journal or MANIFEST fails the next open, see dbOptions); records
// still in the memtable are checked only as the scan returns them; a table
// file that a background compaction replaces while Verify runs is skipped
// (the compaction read it with strict checksums; its records are in the
// newer files, which the next Verify checks).
//
// A successful Verify corrects the live-record estimate (Stats.Records and
// the live bytes) from what its scan counted: the difference between the
// count and the estimate at the snapshot is added to the current estimate.
//
// A corruption is reported to OnCorruption with op "verify". Progress is
// reported in "bytes" (table files checked, of their total) and then in
// "records" (scanned, of the live estimate).
func (t *Table) Verify(ctx context.Context, progress Progress) (VerifyResult, error) {
	t.opMu.Lock()
	defer t.opMu.Unlock()
	db, err := t.maintHandle(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	if _, _, err := checkLiveFiles(ctx, db, t.dir, progress); err != nil {
		return VerifyResult{}, t.fail("verify", err)
	}
	// The snapshot and the estimate it is compared with are taken with no
	// write in flight (writes hold t.mu.RLock from their goleveldb call
	// until the estimate has counted them): a pause of one GetSnapshot.
	t.mu.Lock()
	if !t.isHandle(db) {
		t.mu.Unlock()
		return VerifyResult{}, apierr.New(apierr.TableUnavailable, "table %s: verify: the database was closed or replaced", t.name)
	}
	snap, err := db.GetSnapshot()
	captured := t.deadSnapshot()
	t.mu.Unlock()
	if err != nil {
		return VerifyResult{}, t.fail("verify", err)
	}
	defer snap.Release()
	it := snap.NewIterator(nil, strictRead())
	defer it.Release()
	res, err := scanAll(ctx, it, captured.Live, progress, nil)
	if err != nil {
		return VerifyResult{}, t.fail("verify", err)
	}
	// Correct the live figures from the count (writes made since the
	// snapshot stay counted) and save them, so that an unclean stop does
	// not bring back the old ones. opMu keeps a rewrite, restore or
	// salvage from replacing the estimate meanwhile.
	t.mu.RLock()
	if t.isHandle(db) {
		t.correctLive(captured.Live, captured.LiveBytes, res.Records, res.Bytes)
		// Not durable: an estimate; a failure leaves the older sidecar.
		_ = t.saveDead(false)
	}
	t.mu.RUnlock()
	return res, nil
}

// VerifyDir opens the database in dir read-only and scans it with strict
// checksums: records, logical bytes and digest. It is how backups are
// verified, and tests and benchmarks use it to digest a database they did
// not write through a Table. The database is opened afresh, so every data
// block the scan reads comes from disk; unlike Verify it does not check
// the table files block by block (a damaged filter block, which goleveldb
// ignores, goes unnoticed).
func VerifyDir(ctx context.Context, dir string) (VerifyResult, error) {
	return verifyDirProgress(ctx, dir, nil)
}

// verifyDirProgress is VerifyDir reporting its progress (records).
func verifyDirProgress(ctx context.Context, dir string, progress Progress) (VerifyResult, error) {
	db, err := openDB(dir, true)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify %s: open: %w", dir, err)
	}
	res, err := scanDB(ctx, db, nil, progress)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify %s: %w", dir, err)
	}
	return res, nil
}
