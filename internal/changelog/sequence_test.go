package changelog

import (
	"fmt"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// nextSeq writes one key into the open db at dir, closes it, and returns
// the position its journal gave that write.
func nextSeq(t *testing.T, db *leveldb.DB, dir string) uint64 {
	t.Helper()
	if err := db.Put([]byte("probe"), []byte("1"), &opt.WriteOptions{Sync: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	js, err := Journals(dir)
	if err != nil || len(js) == 0 {
		t.Fatalf("journals %v %v", js, err)
	}
	ops, err := readAll(js[len(js)-1])
	if err != nil || len(ops) == 0 {
		t.Fatalf("newest journal: %d ops, %v", len(ops), err)
	}
	return ops[len(ops)-1].Seq
}

// TestLastSequenceIsWhereWritesGoOn: after a read-write open, every write
// the database holds has a position at most LastSequence, and the next
// write gets LastSequence+1 (goleveldb's recovery moves the sequence one
// past the last write it replayed), also after tables were flushed and
// compacted; a new database starts at 0.
func TestLastSequenceIsWhereWritesGoOn(t *testing.T) {
	w := writeJournal(t)
	ops, err := readAll(w.journal)
	if err != nil {
		t.Fatal(err)
	}
	last := ops[len(ops)-1].Seq
	open := func() *leveldb.DB {
		db, err := leveldb.OpenFile(w.dir, &opt.Options{Strict: opt.StrictAll})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	got, err := LastSequence(w.dir)
	if err != nil || got < last {
		t.Fatalf("after reopening: %d %v, want at least %d", got, err, last)
	}
	if next := nextSeq(t, db, w.dir); next != got+1 {
		t.Fatalf("the next write got position %d, want %d", next, got+1)
	}

	db = open()
	for i := 0; i < 5000; i++ {
		if err := db.Put([]byte(fmt.Sprintf("m%05d", i)), make([]byte, 200), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CompactRange(util.Range{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	got2, err := LastSequence(w.dir)
	if err != nil || got2 < got+1+5000 {
		t.Fatalf("after 5,000 more writes and a compaction: %d %v, want at least %d", got2, err, got+1+5000)
	}
	if next := nextSeq(t, db, w.dir); next != got2+1 {
		t.Fatalf("the next write got position %d, want %d", next, got2+1)
	}

	fresh := t.TempDir()
	db2, err := leveldb.OpenFile(fresh, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if got, err := LastSequence(fresh); err != nil || got != 0 {
		t.Fatalf("a new database: %d %v", got, err)
	}
}
