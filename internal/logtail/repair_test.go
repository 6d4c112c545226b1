package logtail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// strictOpts is how Custodian opens a table: a damaged journal or MANIFEST
// fails the open.
func strictOpts() *opt.Options {
	return &opt.Options{Strict: opt.StrictAll, ErrorIfMissing: true}
}

// journalDB is a closed goleveldb database whose newest journal holds small
// records k000..k0NN and, last, one record of lastLen bytes of value under
// key "last" (a record of more than 32 KiB crosses a block). start and end
// are the offsets of that last record in the journal.
type journalDB struct {
	dir        string
	log        string // base name of the newest journal
	small      int
	start, end int64
}

func makeJournalDB(t *testing.T, small, lastLen int) journalDB {
	t.Helper()
	dir := t.TempDir()
	db, err := leveldb.OpenFile(dir, &opt.Options{Strict: opt.StrictAll})
	if err != nil {
		t.Fatal(err)
	}
	sync := &opt.WriteOptions{Sync: true}
	for i := 0; i < small; i++ {
		if err := db.Put([]byte(fmt.Sprintf("k%03d", i)), []byte(strings.Repeat("v", 10+i*37)), sync); err != nil {
			t.Fatal(err)
		}
	}
	log, err := NewestJournal(dir)
	if err != nil || log == "" {
		t.Fatalf("newest journal: %q %v", log, err)
	}
	start := size(t, filepath.Join(dir, log))
	if err := db.Put([]byte("last"), []byte(strings.Repeat("x", lastLen)), sync); err != nil {
		t.Fatal(err)
	}
	end := size(t, filepath.Join(dir, log))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := NewestJournal(dir); got != log {
		t.Fatalf("the journal changed from %s to %s", log, got)
	}
	return journalDB{dir: dir, log: log, small: small, start: start, end: end}
}

func size(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// copyDir copies the database files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// openAndCount opens dir strictly and reports which of the small keys and
// whether "last" are present.
func openAndCheck(t *testing.T, dir string, small int) (last bool, err error) {
	t.Helper()
	db, err := leveldb.OpenFile(dir, strictOpts())
	if err != nil {
		return false, err
	}
	defer db.Close()
	for i := 0; i < small; i++ {
		k := fmt.Sprintf("k%03d", i)
		v, err := db.Get([]byte(k), nil)
		if err != nil {
			t.Fatalf("%s lost: %v", k, err)
		}
		if len(v) != 10+i*37 {
			t.Fatalf("%s: %d bytes", k, len(v))
		}
	}
	_, err = db.Get([]byte("last"), nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, leveldb.ErrNotFound):
		return false, nil
	}
	return false, err
}

// cutsOf checks that Repair cut exactly the bytes from want to the end of
// the journal, or nothing when want < 0.
func checkCuts(t *testing.T, cuts []Cut, log string, cutAt, want int64) {
	t.Helper()
	if want < 0 {
		if len(cuts) != 0 {
			t.Fatalf("cut at %d: Repair cut %v, want nothing", cutAt, cuts)
		}
		return
	}
	if len(cuts) != 1 || cuts[0].File != log || cuts[0].Offset != want || cuts[0].Dropped != cutAt-want || cuts[0].Size != cutAt {
		t.Fatalf("cut at %d: Repair cut %v, want %s cut at %d dropping %d", cutAt, cuts, log, want, cutAt-want)
	}
}

// TestInspectEveryOffsetOfTheLastRecord cuts the journal at every offset
// of its last record (one record crossing a block boundary): every cut is a
// torn tail whose valid end is the start of that record.
func TestInspectEveryOffsetOfTheLastRecord(t *testing.T) {
	j := makeJournalDB(t, 20, 40_000)
	b, err := os.ReadFile(filepath.Join(j.dir, j.log))
	if err != nil {
		t.Fatal(err)
	}
	if j.start/blockSize == j.end/blockSize {
		t.Fatalf("last record %d..%d does not cross a block", j.start, j.end)
	}
	if tl := Inspect(b); !tl.Whole() {
		t.Fatalf("whole journal: %+v", tl)
	}
	for cut := j.start + 1; cut < j.end; cut++ {
		tl := Inspect(b[:cut])
		if !tl.Torn || tl.Valid != j.start {
			t.Fatalf("cut at %d (record %d..%d): %+v, want torn with valid end %d", cut, j.start, j.end, tl, j.start)
		}
	}
	if tl := Inspect(b[:j.start]); !tl.Whole() {
		t.Fatalf("cut at the record's start: %+v", tl)
	}
}

// TestRepairKeepsEveryEarlierRecord cuts a copy of the journal inside its
// last record (every offset of a small record; a stride and every chunk
// boundary of a record crossing blocks), repairs and opens it strictly:
// the open succeeds, every earlier record is there, the cut one is not, and
// Repair reports exactly the dropped bytes.
func TestRepairKeepsEveryEarlierRecord(t *testing.T) {
	for _, c := range []struct {
		name    string
		lastLen int
		stride  int64
	}{
		{"small-record", 120, 1},
		{"record-crossing-blocks", 50_000, 997},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := makeJournalDB(t, 20, c.lastLen)
			var offsets []int64
			for cut := j.start; cut <= j.end; cut += c.stride {
				offsets = append(offsets, cut)
			}
			for blk := (j.start/blockSize + 1) * blockSize; blk < j.end; blk += blockSize {
				offsets = append(offsets, blk-1, blk, blk+1, blk+headerSize-1, blk+headerSize)
			}
			offsets = append(offsets, j.start+1, j.start+headerSize-1, j.start+headerSize, j.end-1, j.end)
			for _, cut := range offsets {
				dir := copyDir(t, j.dir)
				if err := os.Truncate(filepath.Join(dir, j.log), cut); err != nil {
					t.Fatal(err)
				}
				cuts, err := Repair(dir)
				if err != nil {
					t.Fatalf("cut at %d: repair: %v", cut, err)
				}
				want := j.start
				if cut == j.start || cut == j.end {
					want = -1
				}
				checkCuts(t, cuts, j.log, cut, want)
				last, err := openAndCheck(t, dir, j.small)
				if err != nil {
					t.Fatalf("cut at %d: open after repair: %v", cut, err)
				}
				if last != (cut == j.end) {
					t.Fatalf("cut at %d: last record present = %v", cut, last)
				}
			}
		})
	}
}

// TestTornTailWithoutRepairFailsTheStrictOpen is the defect: without the
// repair, goleveldb's strict open takes the torn tail for corruption.
func TestTornTailWithoutRepairFailsTheStrictOpen(t *testing.T) {
	j := makeJournalDB(t, 20, 50_000)
	dir := copyDir(t, j.dir)
	if err := os.Truncate(filepath.Join(dir, j.log), j.start+blockSize); err != nil {
		t.Fatal(err)
	}
	_, err := openAndCheck(t, dir, j.small)
	if !isCorrupted(err) {
		t.Fatalf("strict open of a torn journal: %v, want a corruption error", err)
	}
}

func isCorrupted(err error) bool {
	var e1 *lerrors.ErrCorrupted
	var e2 *storage.ErrCorrupted
	return errors.As(err, &e1) || errors.As(err, &e2)
}

// TestDamageIsNotCut: a flipped byte in an earlier record, in the whole
// first chunk of a torn record, or in the length of a record followed by
// whole records is damage: Repair leaves the file as it is and the strict
// open reports a corruption.
func TestDamageIsNotCut(t *testing.T) {
	j := makeJournalDB(t, 20, 50_000)
	cases := []struct {
		name string
		do   func(b []byte) []byte
	}{
		{"flip-in-an-earlier-record-with-a-torn-tail", func(b []byte) []byte {
			b[j.start/2] ^= 0x80
			return b[:j.start+blockSize]
		}},
		{"flip-in-the-whole-first-chunk-of-a-torn-record", func(b []byte) []byte {
			b[j.start+headerSize+100] ^= 0x80
			return b[:j.end-10]
		}},
		{"flip-in-the-last-byte", func(b []byte) []byte {
			b[len(b)-1] ^= 0x80
			return b
		}},
		{"length-flipped-past-the-end-with-records-after-it", func(b []byte) []byte {
			b = b[:j.start] // the small records only
			tl := Inspect(b)
			if !tl.Whole() {
				t.Fatalf("small records: %+v", tl)
			}
			// The first chunk of the last block: make its length run
			// past the end of the file (not past its block).
			first := (int64(len(b)) / blockSize) * blockSize
			room := blockSize - headerSize
			b[first+4] = byte(room)
			b[first+5] = byte(room >> 8)
			return b
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, j.dir)
			p := filepath.Join(dir, j.log)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b = c.do(b)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if tl := Inspect(b); tl.Torn || tl.Whole() {
				t.Fatalf("inspect: %+v, want damage", tl)
			}
			cuts, err := Repair(dir)
			if err != nil || len(cuts) != 0 {
				t.Fatalf("repair: %v %v, want no cut", cuts, err)
			}
			if size(t, p) != int64(len(b)) {
				t.Fatalf("repair changed the damaged file")
			}
			if _, err := openAndCheck(t, dir, j.small); !isCorrupted(err) {
				t.Fatalf("open: %v, want a corruption error", err)
			}
		})
	}
}

// TestZeroFilledTailIsTorn: zero bytes after the last whole record (space
// allocated, never written) are a torn tail.
func TestZeroFilledTailIsTorn(t *testing.T) {
	j := makeJournalDB(t, 20, 300)
	dir := copyDir(t, j.dir)
	p := filepath.Join(dir, j.log)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cuts, err := Repair(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkCuts(t, cuts, j.log, j.end+5000, j.end)
	if last, err := openAndCheck(t, dir, j.small); err != nil || !last {
		t.Fatalf("open: last=%v %v", last, err)
	}
}

// TestRepairCutsATornManifestTail: a MANIFEST whose last record was cut
// short while it was appended (a crash during a compaction's commit) opens
// after the repair with every record.
func TestRepairCutsATornManifestTail(t *testing.T) {
	j := makeJournalDB(t, 20, 300)
	m, err := CurrentManifest(j.dir)
	if err != nil || m == "" {
		t.Fatalf("manifest: %q %v", m, err)
	}
	whole, err := os.ReadFile(filepath.Join(j.dir, m))
	if err != nil {
		t.Fatal(err)
	}
	// An append of a copy of the manifest's first record, cut short at
	// every length: a record that was being written when the process died.
	first := headerSize + (int(whole[4]) | int(whole[5])<<8)
	rec := whole[:first]
	for n := 1; n < len(rec); n++ {
		dir := copyDir(t, j.dir)
		p := filepath.Join(dir, m)
		if err := os.WriteFile(p, append(append([]byte(nil), whole...), rec[:n]...), 0o644); err != nil {
			t.Fatal(err)
		}
		tl := Inspect(append(append([]byte(nil), whole...), rec[:n]...))
		if !tl.Torn {
			t.Fatalf("appended %d bytes: %+v", n, tl)
		}
		cuts, err := Repair(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(cuts) != 1 || cuts[0].File != m || cuts[0].Offset != int64(len(whole)) || cuts[0].Dropped != int64(n) {
			t.Fatalf("appended %d bytes: cuts %v", n, cuts)
		}
		if last, err := openAndCheck(t, dir, j.small); err != nil || !last {
			t.Fatalf("appended %d bytes: open: last=%v %v", n, last, err)
		}
	}
}

// TestFlippedLengthOfTheLastRecordIsDamage: a flipped length field of the
// last (whole, acknowledged) record makes it look cut short by the end of
// the file; a prefix of its data still matches its checksum, so it is
// damage, not a tail to cut.
func TestFlippedLengthOfTheLastRecordIsDamage(t *testing.T) {
	j := makeJournalDB(t, 20, 300)
	b, err := os.ReadFile(filepath.Join(j.dir, j.log))
	if err != nil {
		t.Fatal(err)
	}
	if j.end-j.start > blockSize || j.start/blockSize != (j.end-1)/blockSize {
		t.Fatalf("the last record %d..%d is not one chunk in one block", j.start, j.end)
	}
	length := int(b[j.start+4]) | int(b[j.start+5])<<8
	for _, bump := range []int{1, 7, 256} {
		c := append([]byte(nil), b...)
		l := length + bump
		c[j.start+4], c[j.start+5] = byte(l), byte(l>>8)
		if tl := Inspect(c); tl.Torn || tl.Whole() {
			t.Fatalf("length %d -> %d: %+v, want damage", length, l, tl)
		}
	}
}

// TestAChunkInsideATornRecordKeepsItTorn: a key that holds the bytes of a
// whole, valid chunk (any client can write one) inside a record cut short
// by the end of the file does not make the tear look like damage.
func TestAChunkInsideATornRecordKeepsItTorn(t *testing.T) {
	dir := t.TempDir()
	db, err := leveldb.OpenFile(dir, &opt.Options{Strict: opt.StrictAll})
	if err != nil {
		t.Fatal(err)
	}
	sync := &opt.WriteOptions{Sync: true}
	if err := db.Put([]byte("a"), []byte("1"), sync); err != nil {
		t.Fatal(err)
	}
	log, _ := NewestJournal(dir)
	start := size(t, filepath.Join(dir, log))
	// A fake full chunk: header (checksum, length, type 1) and data.
	data := []byte("forged chunk data")
	fake := make([]byte, headerSize, headerSize+len(data))
	fake[4], fake[5], fake[6] = byte(len(data)), 0, fullChunk
	fake = append(fake, data...)
	binary.LittleEndian.PutUint32(fake[0:4], util.NewCRC(fake[6:]).Value())
	key := append(append([]byte("k-"), fake...), []byte("-tail")...)
	if err := db.Put(key, []byte(strings.Repeat("v", 2000)), sync); err != nil {
		t.Fatal(err)
	}
	end := size(t, filepath.Join(dir, log))
	db.Close()
	b, err := os.ReadFile(filepath.Join(dir, log))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Index(b[start:end], fake) < 0 {
		t.Fatalf("the forged chunk is not in the journal record")
	}
	for cut := start + 1; cut < end; cut++ {
		if tl := Inspect(b[:cut]); !tl.Torn || tl.Valid != start {
			t.Fatalf("cut at %d: %+v, want torn at %d", cut, tl, start)
		}
	}
}

// TestTornTailInAnOlderJournalIsCut: goleveldb's journal writer forgets a
// failed write when the memtable rotates, so a record torn by ENOSPC can end
// a journal that a newer (here empty) one follows. Repair cuts it there too,
// and the strict open keeps every earlier record.
func TestTornTailInAnOlderJournalIsCut(t *testing.T) {
	j := makeJournalDB(t, 20, 300)
	dir := copyDir(t, j.dir)
	p := filepath.Join(dir, j.log)
	whole, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// The torn append: the first 100 bytes of a copy of the last record.
	torn := append(append([]byte(nil), whole...), whole[j.start:j.start+100]...)
	if err := os.WriteFile(p, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	var num int
	if _, err := fmt.Sscanf(j.log, "%06d.log", &num); err != nil {
		t.Fatal(err)
	}
	newer := fmt.Sprintf("%06d.log", num+1)
	if err := os.WriteFile(filepath.Join(dir, newer), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cuts, err := Repair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cuts) != 1 || cuts[0].File != j.log || cuts[0].Offset != int64(len(whole)) || cuts[0].Dropped != 100 {
		t.Fatalf("cuts %v, want %s cut at %d dropping 100", cuts, j.log, len(whole))
	}
	if last, err := openAndCheck(t, dir, j.small); err != nil || !last {
		t.Fatalf("open after the cut: last=%v %v", last, err)
	}
}
