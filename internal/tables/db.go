package tables

import (
	"errors"
	"io/fs"
	"os"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// Strictness. Every database is opened with opt.StrictAll:
//
//   - StrictJournal and StrictJournalChecksum: a damaged journal (.log)
//     fails the open with a corruption error instead of being replayed with
//     silent loss (goleveldb's default drops the damaged chunk).
//   - StrictManifest: a damaged MANIFEST fails the open instead of dropping
//     records of the version history.
//   - StrictBlockChecksum and StrictReader: every read (get, scan, the
//     iterators of backup, rewrite and verify) checks the block checksum and
//     halts on a damaged table file instead of skipping the block
//     (opt.NoStrict would make an iterator silently skip it). A block
//     served from goleveldb's block cache was checked when it was read from
//     disk, not since: that is why Verify also reads the table files itself
//     (checkLiveFiles).
//   - StrictCompaction: a damaged table met by a compaction fails it (the
//     database goes read-only) instead of compacting garbage.
//
// A torn tail (an append cut short by a crash or a full disk: part of the
// last record at the end of a journal or of the MANIFEST) is not
// damage: openLive cuts it off before the strict open (see package
// logtail), and only damage before the tail fails the open. The verify scan
// (Verify, verifyDir) also asks for opt.StrictAll in its ReadOptions, so it
// is strict even against a database opened by someone else with weaker
// options.
//
// A missing CURRENT (or one that points nowhere) is reported by goleveldb as
// "does not exist" and would, with ErrorIfMissing unset, create an empty
// database over the old files: existing tables are therefore opened with
// ErrorIfMissing and that answer is turned into a corruption error.
func dbOptions(readOnly bool) *opt.Options {
	return &opt.Options{
		Strict:         opt.StrictAll,
		Filter:         filter.NewBloomFilter(10),
		ReadOnly:       readOnly,
		ErrorIfMissing: readOnly,
		// A batch larger than the write buffer would otherwise be written
		// into tables directly, past the journal: every write must reach
		// the change journal (see position.go).
		DisableLargeBatchTransaction: true,
	}
}

// strictRead is the ReadOptions of every verify scan.
func strictRead() *opt.ReadOptions { return &opt.ReadOptions{Strict: opt.StrictAll} }

// dataWrite is the WriteOptions of every data-plane write (Put, Delete,
// Batch): fsynced before the call returns (durable against power loss),
// unless noSync (Options.NoSync), when the write is in the operating
// system's page cache when the call returns (durable against a crash of the
// process only). Maintenance never uses it: its copies are synced by
// syncTree and catchUp.
func dataWrite(noSync bool) *opt.WriteOptions { return &opt.WriteOptions{Sync: !noSync} }

// openDB opens (or, when dir has no database files yet, creates) the
// database in dir with the options above.
func openDB(dir string, readOnly bool) (*leveldb.DB, error) {
	o := dbOptions(readOnly)
	nonEmpty, err := hasFiles(dir)
	if err != nil {
		return nil, err
	}
	if nonEmpty {
		o.ErrorIfMissing = true
	}
	db, err := leveldb.OpenFile(dir, o)
	if err != nil && nonEmpty && errors.Is(err, fs.ErrNotExist) {
		return nil, corrupted("%s: CURRENT is missing or names a missing MANIFEST: %v", dir, err)
	}
	return db, err
}

// hasFiles reports whether dir holds database files (anything but LOCK,
// LOG and our sidecar).
func hasFiles(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	for _, e := range ents {
		switch e.Name() {
		case "LOCK", "LOG", "LOG.old", deadFile, deadFile + ".tmp", manifestFile, changelog.GenerationFile, changelog.GenerationFile + ".tmp":
		default:
			return true, nil
		}
	}
	return false, nil
}
