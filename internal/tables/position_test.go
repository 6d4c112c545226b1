package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// TestBackupPlusJournalIsTheTable: a backup taken while four writers put,
// delete and batch records its journal position; the backup's contents
// with the journal's writes after that position replayed over them equal
// the table's contents, key by key. Positions go on across a close and an
// open.
func TestBackupPlusJournalIsTheTable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "users")
	fill(t, tb, "k", 0, 200)
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	tb = mustOpen(t, s, "users") // the position starts again from the MANIFEST

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d-%04d", w, i%300)
				var err error
				switch i % 3 {
				case 0:
					err = tb.Put(ctx, k, val(i))
				case 1:
					err = tb.Delete(ctx, fmt.Sprintf("k%06d", i%200))
				default:
					err = tb.Batch(ctx, []Op{{Op: "put", Key: k, Value: val(i)}, {Op: "delete", Key: fmt.Sprintf("w%d-%04d", w, (i+7)%300)}})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Writes before the snapshot, during it and after it.
	start, _ := tb.Position()
	for p, _ := tb.Position(); p < start+300; p, _ = tb.Position() {
		time.Sleep(time.Millisecond)
	}
	m, err := tb.Backup(ctx, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if m.Position == nil || m.PositionError != "" {
		t.Fatalf("backup manifest without a position: %+v", m)
	}
	want := tableContents(t, tb)

	// The backup's contents, then the journal after its position.
	got := map[string]string{}
	bdb := openBackupDB(t, filepath.Join(root, "backups", "users", m.ID))
	it := bdb.NewIterator(nil, nil)
	for it.Next() {
		got[string(it.Key())] = string(it.Value())
	}
	it.Release()
	bdb.Close()
	files, err := changelog.Journals(filepath.Join(root, "tables", "users"))
	if err != nil {
		t.Fatal(err)
	}
	// From the other side: the 200 keys the table held at its reopen
	// (its journal since then holds every later write: too few to be
	// flushed) with the journal's writes up to the position are exactly
	// the backup; a position off by one write either way breaks one side.
	upTo := map[string]string{}
	for i := 0; i < 200; i++ {
		upTo[fmt.Sprintf("k%06d", i)] = string(val(i))
	}
	for _, f := range files {
		if _, err := changelog.ReadFile(f, 0, func(op changelog.Op) error {
			if op.Seq > *m.Position {
				return nil
			}
			if op.Kind == "put" {
				upTo[string(op.Key)] = string(op.Value)
			} else {
				delete(upTo, string(op.Key))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(upTo) != len(got) {
		t.Fatalf("journal up to the position: %d keys, the backup %d", len(upTo), len(got))
	}
	for k, v := range got {
		if upTo[k] != v {
			t.Fatalf("key %s: the journal up to position %d gives %q, the backup holds %q", k, *m.Position, upTo[k], v)
		}
	}
	replayed := 0
	for _, f := range files {
		if _, err := changelog.ReadFile(f, *m.Position+1, func(op changelog.Op) error {
			replayed++
			if op.Kind == "put" {
				got[string(op.Key)] = string(op.Value)
			} else {
				delete(got, string(op.Key))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if replayed == 0 {
		t.Fatalf("no write after the backup's position %d: the writers did not overlap the backup", *m.Position)
	}
	if len(got) != len(want) {
		t.Fatalf("backup + %d journal writes: %d keys, the table %d", replayed, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %s: backup + journal %q, table %q", k, got[k], v)
		}
	}
	if pos, err := tb.Position(); err != nil || pos <= *m.Position {
		t.Fatalf("table position %d %v after the backup's %d", pos, err, *m.Position)
	}
}

func tableContents(t *testing.T, tb *Table) map[string]string {
	t.Helper()
	out := map[string]string{}
	after := ""
	for {
		res, err := tb.Scan(context.Background(), "", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			out[it.Key] = string(json.RawMessage(it.Value))
		}
		if res.Next == "" {
			return out
		}
		after = res.Next
	}
}

// openBackupDB opens a backup's database read-only, as a restore does.
func openBackupDB(t *testing.T, dir string) *leveldb.DB {
	t.Helper()
	db, err := openDB(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
