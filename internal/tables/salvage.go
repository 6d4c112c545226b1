package tables

import (
	"context"
	"fmt"
	"github.com/custodian-dev/custodian/internal/changelog"
	"os"
	"path/filepath"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Salvage, on operator command: it copies the newest quarantined copy (the
// quarantined copy itself is never modified) into a temp dir, runs
// leveldb.RecoverFile on it (ignoring the manifest, rebuilding from the
// table files, replaying what is readable of the journal), copies every record it can read
// into a fresh database, verifies that one opens and scans strictly, and
// serves it through the same commit as a restore (tables/.ready-<t>, the
// live directory if any moves to quarantine). Records lost to the damage
// are lost; SalvageResult.Records says what came back.
func (t *Table) Salvage(ctx context.Context, progress Progress) (SalvageResult, error) {
	s := t.store
	qs, err := s.Quarantined(t.name)
	if err != nil {
		return SalvageResult{}, err
	}
	if len(qs) == 0 {
		return SalvageResult{}, apierr.New(apierr.NotFound, "table %s: no quarantined copy to salvage", t.name)
	}
	src := qs[0]
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if t.isClosed() {
		return SalvageResult{}, apierr.New(apierr.TableUnavailable, "table %s is closed", t.name)
	}
	work := filepath.Join(s.root, tablesDir, tmpPrefix+"salvage-"+t.name+"-"+randHex(4))
	defer os.RemoveAll(work)
	raw := filepath.Join(work, "raw")
	out := filepath.Join(work, "db")
	wrap := func(err error) error { return opErrorf(t.name, "salvage", "%s: %w", src, err) }
	if err := copyTree(src, raw); err != nil {
		return SalvageResult{}, wrap(err)
	}
	s.failpoint(FPSalvageAfterCopy)
	rdb, err := leveldb.RecoverFile(raw, salvageOptions())
	if err != nil {
		return SalvageResult{}, wrap(fmt.Errorf("recover: %v", err))
	}
	dst, err := openDB(out, false)
	if err != nil {
		rdb.Close()
		return SalvageResult{}, wrap(err)
	}
	it := rdb.NewIterator(nil, nil)
	res, err := copyInto(ctx, it, dst, 0, progress)
	rdb.Close()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return SalvageResult{}, wrap(fmt.Errorf("copy: %v", err))
	}
	s.failpoint(FPSalvageAfterRecover)
	vr, err := openScanClose(ctx, out)
	if err == nil && vr.Records != res.Records {
		err = fmt.Errorf("salvaged copy has %d records, %d were written", vr.Records, res.Records)
	}
	if err == nil {
		err = writeDead(out, deadState{Live: vr.Records, LiveBytes: vr.Bytes, Since: time.Now().UTC()}, false)
	}
	if err == nil {
		// What RecoverFile brought back is no known position of the
		// journal: a new history starts.
		err = t.newGeneration(out, changelog.Generation{Root: true, Reason: "salvage"})
	}
	if err == nil {
		err = syncTree(out)
	}
	if err != nil {
		return SalvageResult{}, wrap(fmt.Errorf("verify: %v", err))
	}
	if _, err := t.commitReady(out, FPSalvageReady, FPSalvageAfterQuarantine, FPSalvageAfterRename); err != nil {
		return SalvageResult{}, wrap(err)
	}
	return SalvageResult{Source: src, Records: vr.Records}, nil
}

// salvageOptions check block and journal checksums (so that a damaged block
// or journal chunk is never taken for data) but are not strict about them:
// without StrictReader an iterator skips a block whose checksum fails, and
// without StrictJournal a damaged journal chunk is dropped, so that salvage
// keeps every record it can read intact.
func salvageOptions() *opt.Options {
	return &opt.Options{Strict: opt.StrictBlockChecksum | opt.StrictJournalChecksum}
}
