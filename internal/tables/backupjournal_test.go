package tables

import (
	"context"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// TestBackupKeepsTheJournalFlushedDuringItsCopy (a reviewer's scenario):
// the memtable fills and goleveldb flushes it while a backup copies its
// table files, removing the journal the backup's MANIFEST copy names; the
// backup must still hold that journal's writes (its removal is held), so
// that the backup plus the journal after its position is the table.
func TestBackupKeepsTheJournalFlushedDuringItsCopy(t *testing.T) {
	ctx := context.Background()
	var tb *Table
	armed := false
	opts := Options{Failpoint: func(n string) {
		if n != FPBackupBeforeCopy || !armed {
			return
		}
		armed = false
		before, _ := changelog.ArchivedJournals(tb.store.journalPath("t"))
		fillBatch(t, tb, "z", 0, 60000) // > 4 MiB: a memtable flush
		for i := 0; i < 200; i++ {
			if now, _ := changelog.ArchivedJournals(tb.store.journalPath("t")); len(now) > len(before) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Error("no journal was flushed during the backup: the test tests nothing")
	}}
	s, err := OpenStore(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tb = mustOpen(t, s, "t")
	fill(t, tb, "a", 0, 100) // in the live journal, not flushed
	armed = true
	m, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := s.BackupDir("t", m.ID)
	db, err := openDB(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Get([]byte("a000005"), nil); err != nil {
		t.Fatalf("the backup lacks a write made before it (position %d): %v", *m.Position, err)
	}
	// And backup + journal is the table.
	want, err := tb.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, m.ID, nil)
	if err != nil || rr.Lost {
		t.Fatalf("restore %+v %v", rr, err)
	}
	got, err := tb.Verify(ctx, nil)
	if err != nil || got.Digest != want.Digest {
		t.Fatalf("restored %+v %v, want %+v", got, err, want)
	}
}
