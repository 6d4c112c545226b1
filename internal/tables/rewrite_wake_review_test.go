package tables

import (
	"context"
	"testing"
)

// A rewrite compaction of a sleeping table wakes it first: goleveldb's
// recovery leaves the position one past the last write, and the rewrite's
// new generation starts from that position. The old generation's journal
// ends one short of it, which is no lost write: a drill and a restore
// from a backup taken before the rewrite bring back every write.
func TestReviewRewriteOfWokenTableKeepsTheJournalWhole(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	m.churn(t, tb, "a", "first", 5)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "second", 5)
	if slept, err := tb.Sleep(0); !slept || err != nil {
		t.Fatalf("sleep: %v %v", slept, err)
	}
	if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil { // wakes it
		t.Fatal(err)
	}
	if _, err := tb.Drill(ctx, nil); err != nil {
		t.Fatalf("drill after a rewrite of a woken table: %v", err)
	}
	rr, err := tb.RestoreFrom(ctx, b.ID, nil)
	if err != nil || rr.Lost {
		t.Fatalf("restore of the backup before the rewrite: %+v %v", rr, err)
	}
	m.holds(t, tb, "after the restore")
}

// The same without sleep: two rewrites with no write between them, and a
// rewrite right after the store is opened again.
func TestReviewRewriteWithoutWritesKeepsTheJournalWhole(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"two rewrites", "reopen"} {
		t.Run(how, func(t *testing.T) {
			root := t.TempDir()
			s := openTestStore(t, root, nil)
			tb := mustOpen(t, s, "t")
			m := model{}
			m.churn(t, tb, "a", "first", 5)
			b, err := tb.Backup(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.churn(t, tb, "b", "second", 5)
			if how == "two rewrites" {
				if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openTestStore(t, root, nil)
				tb = mustOpen(t, s, "t")
			}
			if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := tb.Drill(ctx, nil); err != nil {
				t.Fatalf("drill: %v", err)
			}
			rr, err := tb.RestoreFrom(ctx, b.ID, nil)
			if err != nil || rr.Lost {
				t.Fatalf("restore of the backup before the rewrites: %+v %v", rr, err)
			}
			m.holds(t, tb, "after the restore")
		})
	}
}
