package tables

import (
	"context"
	"testing"
)

// A backup, a clean close and reopen (goleveldb's recovery leaves the
// sequence one past the last write), no write since: the drill replays to
// the live position, which the journal never reaches.
func TestJournalReviewDrillAfterReopenNoWrites(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "a", 0, 20)
	if _, err := tb.Backup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, root, nil)
	tb2 := mustOpen(t, s2, "t")
	pos, _ := tb2.Position()
	if _, err := tb2.Drill(ctx, nil); err != nil {
		t.Fatalf("drill of an idle, reopened table (position %d): %v", pos, err)
	}
}
