package tables

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// liveLdbFiles lists the paths of the table files of tb's current version.
// Not a listing of the directory: goleveldb deletes the files a compaction
// replaced in the background, so one may still be there for a moment (and
// after a close that came first).
func liveLdbFiles(t *testing.T, tb *Table) []string {
	t.Helper()
	tb.mu.RLock()
	defer tb.mu.RUnlock()
	list, err := liveTables(tb.db.DB)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range list {
		paths = append(paths, filepath.Join(tb.dir, fmt.Sprintf("%06d.ldb", f.num)))
	}
	return paths
}

// TestVerifyReadsDisk is the operator's report: a running table whose
// blocks are all in goleveldb's block cache (written, compacted, backed up
// and read) gets a byte flipped in its only .ldb on disk; Verify must see
// it although every read is still served from memory.
func TestVerifyReadsDisk(t *testing.T) {
	ctx := context.Background()
	det := &detections{}
	s := openTestStore(t, t.TempDir(), det)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "k", 0, 300)
	if _, err := tb.Compact(ctx, ModeNative, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Backup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ { // warm the block cache with every block
		if _, err := tb.Get(ctx, fmt.Sprintf("k%06d", i)); err != nil {
			t.Fatal(err)
		}
	}
	vr, err := tb.Verify(ctx, nil)
	if err != nil || vr.Records != 300 {
		t.Fatalf("verify of the healthy table: %+v %v", vr, err)
	}
	files := liveLdbFiles(t, tb)
	if len(files) != 1 {
		t.Fatalf("want the table in one .ldb after a native compaction, have %v", files)
	}
	file := files[0]
	flipByte(t, file, -1)

	var units []string
	_, err = tb.Verify(ctx, func(done, total int64, unit string) { units = append(units, unit) })
	if err == nil {
		t.Fatal("verify after a byte flipped on disk reported the table healthy")
	}
	if !IsCorruption(err) {
		t.Fatalf("verify error is not a corruption: %v", err)
	}
	if !strings.Contains(err.Error(), filepath.Base(file)) {
		t.Fatalf("verify error does not name the damaged file %s: %v", file, err)
	}
	calls := det.list()
	if len(calls) != 1 || calls[0].table != "t" || calls[0].op != "verify" || !IsCorruption(calls[0].err) {
		t.Fatalf("OnCorruption calls %+v, want one for t/verify", calls)
	}
	t.Logf("verify: %v (progress units %v)", err, units)
}

// footerPadding is the part of a table file's footer after the two block
// handles and before the magic: the only bytes no check covers (no reader
// looks at them).
func footerPadding(t *testing.T, b []byte) (from, to int) {
	t.Helper()
	at := len(b) - tableFooterLen
	_, n := decodeHandle(b[at:])
	_, m := decodeHandle(b[at+n:])
	if n == 0 || m == 0 {
		t.Fatal("healthy file without footer handles")
	}
	return at + n + m, len(b) - len(tableMagic)
}

// TestCheckTableFileEveryByte flips every byte of real table files, one at
// a time, and wants each flip detected by checkTableFile, except in the
// footer's padding. The files come from a table with uncompressible
// values (snappy stores blocks raw) and one with compressible values.
func TestCheckTableFileEveryByte(t *testing.T) {
	for _, compressible := range []bool{false, true} {
		t.Run(fmt.Sprintf("compressible=%v", compressible), func(t *testing.T) {
			dir := t.TempDir()
			db, err := leveldb.OpenFile(dir, dbOptions(false))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 400; i++ {
				v := []byte(val(i))
				if compressible {
					v = []byte(strings.Repeat("abcd", 40))
				}
				if err := db.Put([]byte(fmt.Sprintf("k%06d", i)), v, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.CompactRange(util.Range{}); err != nil {
				t.Fatal(err)
			}
			list, err := liveTables(db)
			if err != nil || len(list) != 1 {
				t.Fatalf("live tables %+v %v", list, err)
			}
			db.Close()
			path := filepath.Join(dir, fmt.Sprintf("%06d.ldb", list[0].num))
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(orig)) != list[0].size {
				t.Fatalf("file is %d bytes, version says %d", len(orig), list[0].size)
			}
			check := func(b []byte) error {
				c := &tableCheck{path: path, num: list[0].num, buf: b}
				return c.run()
			}
			if err := check(orig); err != nil {
				t.Fatalf("healthy file: %v", err)
			}
			from, to := footerPadding(t, orig)
			handles := func(b []byte) string {
				at := len(b) - tableFooterLen
				h1, n := decodeHandle(b[at:])
				h2, _ := decodeHandle(b[at+n:])
				return fmt.Sprint(h1, h2)
			}
			want := handles(orig)
			b := append([]byte(nil), orig...)
			benign := 0
			for off := range b {
				if off >= from && off < to {
					continue
				}
				b[off] ^= 0x80
				err := check(b)
				same := off >= len(b)-tableFooterLen && off < from && handles(b) == want
				b[off] ^= 0x80
				if same {
					// The flip set the continuation bit of a handle's
					// last byte, and the padding's 0 that follows ends it:
					// the same handles, read the same by goleveldb.
					benign++
					continue
				}
				if !IsCorruption(err) {
					t.Fatalf("flip at %d of %d not detected: %v", off, len(b), err)
				}
			}
			if benign > 1 {
				t.Fatalf("%d flips in the footer left its handles as they were, want at most 1", benign)
			}
			t.Logf("%d bytes, every flip detected (footer padding %d..%d excepted; %d flip leaving the handles as they were)", len(b), from, to, benign)
		})
	}
}

// compactedTableFile makes table "t" of a store in root with 300 records
// in one table file (a native compaction), closes the store and returns
// that file's path.
func compactedTableFile(t *testing.T, root string) string {
	t.Helper()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 300)
	if _, err := tb.Compact(context.Background(), ModeNative, nil); err != nil {
		t.Fatal(err)
	}
	files := liveLdbFiles(t, tb)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	return files[0]
}

// TestVerifyFilterBlock damages the filter block of a live table: goleveldb
// ignores a damaged filter (it reads without it), so no scan can see it;
// Verify's file check must.
func TestVerifyFilterBlock(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	file := compactedTableFile(t, root)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := &tableCheck{buf: b}
	metaBH, _ := decodeHandle(b[len(b)-tableFooterLen:])
	meta, err := c.block(metaBH, "metaindex")
	if err != nil {
		t.Fatal(err)
	}
	var filterBH blockHandle
	c.entries(meta, "metaindex", func(k, v []byte) error {
		filterBH, _ = decodeHandle(v)
		return nil
	})
	if filterBH.length == 0 {
		t.Fatal("no filter block")
	}
	b[filterBH.offset+filterBH.length/2] ^= 0x80
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The scan of a freshly opened database does not see it.
	vr, err := VerifyDir(ctx, filepath.Join(root, tablesDir, "t"))
	t.Logf("VerifyDir (a strict scan): %+v %v", vr, err)
	s2 := openTestStore(t, root, nil)
	tb, err := s2.Open(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Verify(ctx, nil); !IsCorruption(err) || !strings.Contains(err.Error(), "filter block") {
		t.Fatalf("verify with a damaged filter block: %v", err)
	}
}

// TestVerifyLegacySST: a table file named <num>.sst (older goleveldb) is
// found and checked.
func TestVerifyLegacySST(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	file := compactedTableFile(t, root)
	sst := strings.TrimSuffix(file, ".ldb") + ".sst"
	if err := os.Rename(file, sst); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, root, nil)
	tb, err := s2.Open(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	if vr, err := tb.Verify(ctx, nil); err != nil || vr.Records != 300 {
		t.Fatalf("verify with a .sst file: %+v %v", vr, err)
	}
	flipByte(t, sst, -1)
	if _, err := tb.Verify(ctx, nil); !IsCorruption(err) || !strings.Contains(err.Error(), filepath.Base(sst)) {
		t.Fatalf("verify of a damaged .sst: %v", err)
	}
}

// TestVerifyStaleListing: a file listed and then compacted away before it
// is opened is skipped; a file the current version has but the disk has
// not is a corruption.
func TestVerifyStaleListing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := leveldb.OpenFile(dir, dbOptions(false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for round := 0; round < 3; round++ {
		for i := 0; i < 300; i++ {
			if err := db.Put([]byte(fmt.Sprintf("k%06d", i)), val(i+round), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.CompactRange(util.Range{}); err != nil {
			t.Fatal(err)
		}
	}
	stale, err := liveTables(db)
	if err != nil || len(stale) == 0 {
		t.Fatalf("listing %+v %v", stale, err)
	}
	for i := 0; i < 300; i++ {
		if err := db.Put([]byte(fmt.Sprintf("k%06d", i)), val(i+7), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CompactRange(util.Range{}); err != nil {
		t.Fatal(err)
	}
	now, _ := liveTables(db)
	gone := 0
	for _, lf := range stale {
		if !hasFile(now, lf.num) {
			gone++
			// goleveldb deletes obsolete files in the background: do it
			// now, as it would between a listing and an open.
			f, p, err := openTableFile(dir, lf.num)
			if err == nil {
				f.Close()
				err = os.Remove(p)
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	if gone == 0 {
		t.Fatalf("the compaction kept every file: %+v -> %+v", stale, now)
	}
	files, _, err := checkListed(ctx, db, dir, stale, nil)
	if err != nil {
		t.Fatalf("a stale listing: %v", err)
	}
	if files != int64(len(stale)-gone) {
		t.Fatalf("checked %d files, want %d (%d of %d gone)", files, len(stale)-gone, gone, len(stale))
	}
	// A file of the current version that is missing is a corruption.
	_, path, err := openTableFile(dir, now[0].num)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	_, _, err = checkLiveFiles(ctx, db, dir, nil)
	if !IsCorruption(err) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a table file of the version missing: %v", err)
	}
	if err := os.Rename(path+".away", path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkLiveFiles(ctx, db, dir, nil); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDuringCompactions runs Verify again and again while writers
// write and goleveldb compacts (files listed by one Verify may be deleted
// before it opens them): it must never report a healthy table as corrupt.
func TestVerifyDuringCompactions(t *testing.T) {
	ctx := context.Background()
	det := &detections{}
	s := openTestStore(t, t.TempDir(), det)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 3000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() { // a writer
		defer wg.Done()
		for round := 0; ; round++ {
			select {
			case <-stop:
				return
			default:
			}
			var ops []Op
			for i := 0; i < 100; i++ {
				ops = append(ops, Op{Op: "put", Key: fmt.Sprintf("k%06d", (round*100+i)%3000), Value: val(round + i)})
			}
			if err := tb.Batch(ctx, ops); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // goleveldb compacting, as it does in the background
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tb.mu.RLock()
			err := tb.db.CompactRange(util.Range{})
			tb.mu.RUnlock()
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	var runs int
	var verr error
	for runs = 0; runs < 40 && verr == nil; runs++ {
		var vr VerifyResult
		vr, verr = tb.Verify(ctx, nil)
		if verr == nil && vr.Records != 3000 {
			verr = fmt.Errorf("records %d", vr.Records)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if verr != nil {
		t.Fatalf("verify %d during compactions: %v", runs, verr)
	}
	if len(det.list()) != 0 {
		t.Fatalf("corruption reported on a healthy table: %+v", det.list())
	}
}
