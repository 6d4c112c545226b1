package tables

import (
	"context"
	"fmt"
)

// Verify scans the whole table with strict checksums (opt.StrictAll in the
// iterator's ReadOptions, over a snapshot, while reads and writes go on) and
// reports records, logical bytes (keys + values) and the digest. A
// corruption is reported to OnCorruption with op "verify".
func (t *Table) Verify(ctx context.Context, progress Progress) (VerifyResult, error) {
	t.opMu.Lock()
	defer t.opMu.Unlock()
	db, err := t.maintHandle()
	if err != nil {
		return VerifyResult{}, err
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
// not write through a Table.
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
