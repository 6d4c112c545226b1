package tables

import (
	"context"
	"os"
	"testing"
)

// TestUnwritableArchiveKeepsTheTableServing: the journal archive cannot be
// written (a file where its directory should be): goleveldb's flushed
// journals stay in the live directory, the table opens, writes and
// serves, JournalError says why, and once the archive works again the
// journals move there and a restore brings back every write.
func TestUnwritableArchiveKeepsTheTableServing(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	m.churn(t, tb, "a", "one", 5)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	arch := s.journalPath("t")
	if err := os.RemoveAll(arch); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(arch, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "two", 150) // flushes: the archive refuses
	if tb.JournalError() == nil {
		t.Fatal("no journal error while the archive cannot be written")
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	tb = mustOpen(t, s, "t") // the open is not failed by the archive
	m.holds(t, tb, "reopened while the archive is broken")

	if err := os.Remove(arch); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Quarantine(ctx); err != nil { // seals every journal left in place
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, b.ID, nil)
	if err != nil || rr.Lost {
		t.Fatalf("restore after the archive works again: %+v %v", rr, err)
	}
	m.holds(t, tb, "restored")
}
