package tables

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// The archive cannot take the live directory's newest journal (here: a
// directory in the way of its name; in the field EIO, ENOSPC on the copy
// fallback, a read-only journal/ mount). A manual restore of a healthy
// table passes its commit point, then the seal in moveToQuarantine fails:
// the table is left unavailable, and the next OpenStore fails for the whole
// node (finishReady's seal fails the same way).
func TestJournalReviewSealFailureAtCommit(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "a", 0, 20)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, tb, "b", 0, 5)
	live, _ := changelog.LiveJournals(tb.dir, 0)
	f := live[len(live)-1]
	if err := os.MkdirAll(filepath.Join(s.journalPath("t"), changelog.ArchivedName(f.Gen, f.Num)), 0o755); err != nil {
		t.Fatal(err)
	}
	_, rerr := tb.Restore(ctx, b.ID, RestoreOptions{}, nil)
	ok, why := tb.Available()
	t.Logf("restore: %v; available %v (%s)", rerr, ok, why)
	s.Close()
	if _, err := OpenStore(root, Options{}); err != nil {
		t.Fatalf("a journal archive problem stops the whole store: %v", err)
	}
	if !ok {
		t.Fatalf("a healthy table was left unavailable by the journal archive")
	}
}
