package tables

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/syndtr/goleveldb/leveldb"
)

// liveFile is a table file of a database's current version.
type liveFile struct {
	num, size int64
}

// liveTables lists the table files of db's current version (every level),
// from goleveldb's "leveldb.sstables" property: a "--- level N ---" line
// per level, then one "num:size[min .. max]" line per file. A file listed
// there is complete (goleveldb records a file in the version only after
// writing and syncing it) and is not deleted while that version is
// current.
func liveTables(db *leveldb.DB) ([]liveFile, error) {
	prop, err := db.GetProperty("leveldb.sstables")
	if err != nil {
		return nil, fmt.Errorf("list table files: %w", err)
	}
	var out []liveFile
	for _, line := range strings.Split(prop, "\n") {
		if line == "" || strings.HasPrefix(line, "---") {
			continue
		}
		num, rest, ok1 := strings.Cut(line, ":")
		size, _, ok2 := strings.Cut(rest, "[")
		n, err1 := strconv.ParseInt(num, 10, 64)
		sz, err2 := strconv.ParseInt(size, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("list table files: unexpected line %q in leveldb.sstables", line)
		}
		out = append(out, liveFile{num: n, size: sz})
	}
	return out, nil
}

// openTableFile opens table file num in dir: <num>.ldb, or the legacy
// <num>.sst (goleveldb's storage tries both).
func openTableFile(dir string, num int64) (*os.File, string, error) {
	p := filepath.Join(dir, fmt.Sprintf("%06d.ldb", num))
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		old := filepath.Join(dir, fmt.Sprintf("%06d.sst", num))
		if f2, err2 := os.Open(old); err2 == nil || !errors.Is(err2, fs.ErrNotExist) {
			return f2, old, err2
		}
	}
	return f, p, err
}

// checkLiveFiles reads every table file of db's current version from disk
// in dir and checks it (checkTableFile), bypassing goleveldb's block cache,
// which would otherwise serve blocks read before the disk went bad. It
// returns the number of files and bytes checked.
//
// goleveldb compacts in the background meanwhile: a file of the listing
// that is gone when it is opened is looked up again in the current
// version; if the version no longer has it, a compaction replaced it and it
// is skipped (its records are in the newer files), otherwise it is missing
// and reported as a corruption. A file once opened is read to the end even
// if it is deleted meanwhile. Files a compaction is still writing are not
// in the version and are not looked at.
func checkLiveFiles(ctx context.Context, db *leveldb.DB, dir string, progress Progress) (files, bytes int64, err error) {
	list, err := liveTables(db)
	if err != nil {
		return 0, 0, err
	}
	return checkListed(ctx, db, dir, list, progress)
}

// checkListed is checkLiveFiles over a listing taken earlier.
func checkListed(ctx context.Context, db *leveldb.DB, dir string, list []liveFile, progress Progress) (files, bytes int64, err error) {
	var total int64
	for _, lf := range list {
		total += lf.size
	}
	var buf []byte
	for _, lf := range list {
		if err := ctx.Err(); err != nil {
			return files, bytes, err
		}
		f, path, err := openTableFile(dir, lf.num)
		if errors.Is(err, fs.ErrNotExist) {
			now, lerr := liveTables(db)
			if lerr != nil {
				return files, bytes, lerr
			}
			if !hasFile(now, lf.num) {
				continue // compacted away since the listing
			}
			return files, bytes, corrupted("%s: table file %06d of the current version is missing", dir, lf.num)
		}
		if err != nil {
			return files, bytes, err
		}
		buf, err = checkTableFile(f, path, lf.num, lf.size, buf)
		f.Close()
		if err != nil {
			return files, bytes, err
		}
		files++
		bytes += lf.size
		if progress != nil {
			progress(bytes, total, "bytes")
		}
	}
	return files, bytes, nil
}

func hasFile(list []liveFile, num int64) bool {
	for _, lf := range list {
		if lf.num == num {
			return true
		}
	}
	return false
}
