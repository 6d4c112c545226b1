package tables

import (
	"context"
	"fmt"
	"testing"
)

// The supervisor marks maintenance at the position it read before the
// job (worker.go). A job on a sleeping table wakes it, and goleveldb's
// recovery moves the position one past the last write (no write): the
// table, asleep again, must count as unchanged for that maintenance, or
// every piece of maintenance after a write runs twice (the second wakes
// a table that needs nothing).
func TestReviewMarkAtThePositionBeforeTheWake(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	jobs := map[string]func() error{
		"backup":  func() error { _, err := tb.Backup(ctx, nil); return err },
		"verify":  func() error { _, err := tb.Verify(ctx, nil); return err },
		"compact": func() error { _, err := tb.Compact(ctx, ModeNative, nil); return err },
		"drill":   func() error { _, err := tb.Drill(ctx, nil); return err },
	}
	for _, verb := range []string{"backup", "verify", "compact", "drill"} {
		fill(t, tb, "k"+verb, 0, 10) // a write: the journal is not empty
		if slept, err := tb.Sleep(0); !slept || err != nil {
			t.Fatalf("sleep: %v %v", slept, err)
		}
		if tb.Unchanged(verb) {
			t.Fatalf("%s: unchanged after writes", verb)
		}
		pos, err := tb.Position() // as the worker reads it
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs[verb](); err != nil {
			t.Fatalf("%s: %v", verb, err)
		}
		tb.Mark(verb, pos)
		if slept, err := tb.Sleep(0); !slept || err != nil {
			t.Fatalf("sleep: %v %v", slept, err)
		}
		if !tb.Unchanged(verb) {
			now, _ := tb.Position()
			t.Fatalf("%s: marked at %d, asleep at %d with no write since: want unchanged", verb, pos, now)
		}
	}
	// A write after the wake and before the job's end is not covered.
	fill(t, tb, "late", 0, 1)
	if _, err := tb.Sleep(0); err != nil {
		t.Fatal(err)
	}
	pos, _ := tb.Position()
	if _, err := tb.Get(ctx, "late000000"); err != nil { // wakes it
		t.Fatal(err)
	}
	fill(t, tb, "late", 1, 2)
	tb.Mark("backup", pos)
	if _, err := tb.Sleep(0); err != nil {
		t.Fatal(err)
	}
	if tb.Unchanged("backup") {
		t.Fatal(fmt.Sprintf("a write after the marked position counts as unchanged (mark %d)", pos))
	}
}

// The worker marks after the job; meanwhile the bound may have put the
// table to sleep (its sidecar saved without the new mark). A read that
// wakes it later must not drop that mark (the wake reads the sidecar).
func TestReviewMarkMadeWhileAsleepSurvivesTheWake(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "k", 0, 10)
	pos, _ := tb.Position()
	if _, err := tb.Backup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if slept, err := tb.Sleep(0); !slept || err != nil { // the bound, before the mark
		t.Fatalf("sleep: %v %v", slept, err)
	}
	tb.Mark("backup", pos)
	if !tb.Unchanged("backup") {
		t.Fatal("not unchanged right after the mark")
	}
	if _, err := tb.Get(ctx, "k000001"); err != nil { // a read wakes it
		t.Fatal(err)
	}
	if _, err := tb.Sleep(0); err != nil {
		t.Fatal(err)
	}
	if !tb.Unchanged("backup") {
		t.Fatal("the mark made while the table slept was lost by a read's wake")
	}
}
