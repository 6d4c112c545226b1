package tables

import (
	"context"
	"fmt"
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
// A corruption is reported to OnCorruption with op "verify". Progress is
// reported in "bytes" (table files checked, of their total) and then in
// "records" (scanned, of the live estimate).
func (t *Table) Verify(ctx context.Context, progress Progress) (VerifyResult, error) {
	t.opMu.Lock()
	defer t.opMu.Unlock()
	db, err := t.maintHandle()
	if err != nil {
		return VerifyResult{}, err
	}
	if _, _, err := checkLiveFiles(ctx, db, t.dir, progress); err != nil {
		return VerifyResult{}, t.fail("verify", err)
	}
	snap, err := db.GetSnapshot()
	if err != nil {
		return VerifyResult{}, t.fail("verify", err)
	}
	defer snap.Release()
	total := t.deadSnapshot().Live
	it := snap.NewIterator(nil, strictRead())
	defer it.Release()
	res, err := scanAll(ctx, it, total, progress, nil)
	if err != nil {
		return VerifyResult{}, t.fail("verify", err)
	}
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
	db, err := openDB(dir, true)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify %s: open: %w", dir, err)
	}
	res, err := scanDB(ctx, db, nil, nil)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify %s: %w", dir, err)
	}
	return res, nil
}
