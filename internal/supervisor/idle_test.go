package supervisor

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// Idle tables go to sleep, and their scheduled backups, verifies and
// compactions are left out while they sleep unchanged: the schedule fires,
// the table stays asleep, no event. A write wakes the table, and the next
// scheduled backup runs again.
func TestIdleTablesSleepAndSkipUnchangedMaintenance(t *testing.T) {
	pol := quiet()
	pol.BackupEvery = 300 * time.Millisecond
	pol.VerifyEvery = 300 * time.Millisecond
	pol.Jitter = -1
	h := start(t, harnessOpt{cfg: Config{Defaults: pol, IdleClose: 100 * time.Millisecond, MaxOpenTables: 2}})
	ctx := context.Background()
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		tb := h.open(n)
		fill(t, tb, 3, 1)
	}
	if open := h.sup.NodeStatus(ctx).OpenTables; open > 2 {
		t.Fatalf("%d tables open, max_open_tables 2", open)
	}
	// Every table gets a backup and a verify, then sleeps.
	h.rec.waitFor(t, "a backup and a verify of every table, then every table asleep", func(evs []events.Event) bool {
		for _, n := range names {
			if len(h.rec.of(n, events.BackupCompleted)) == 0 || len(h.rec.of(n, events.VerifyCompleted)) == 0 {
				return false
			}
			st, err := h.sup.Status(ctx, n)
			if err != nil || !st.Asleep {
				return false
			}
		}
		return true
	})
	backups := len(h.rec.of("a", events.BackupCompleted))
	// Several intervals pass: the sleeping, unchanged tables are left alone.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	st, err := h.sup.Status(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Asleep || st.UnchangedSkips < 2 {
		t.Fatalf("status %+v: want asleep, schedules left out", st)
	}
	if n := len(h.rec.of("a", events.BackupCompleted)); n > backups+1 {
		// One may have started before the table fell asleep.
		t.Fatalf("%d backups of an unchanged sleeping table after %d: want none more", n, backups)
	}
	// A write wakes it; the next backup runs.
	tb, err := h.sup.Table("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Put(ctx, "new", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	before := len(h.rec.of("a", events.BackupCompleted))
	h.rec.waitFor(t, "a backup after the write", func([]events.Event) bool {
		return len(h.rec.of("a", events.BackupCompleted)) > before
	})
	if v, err := tb.Get(ctx, "new"); err != nil || string(v) != "1" {
		t.Fatalf("get after wake: %s %v", v, err)
	}
}

// Drills go on for a table that sleeps unchanged: a drill reads its newest
// backup, its journal and its data, which a skipped verify no longer does.
func TestDrillsGoOnForSleepingTables(t *testing.T) {
	pol := quiet()
	pol.DrillEvery = 300 * time.Millisecond
	pol.Jitter = -1
	h := start(t, harnessOpt{cfg: Config{Defaults: pol, IdleClose: 100 * time.Millisecond}})
	tb := h.open("a")
	fill(t, tb, 3, 1)
	h.wait(h.submit("a", events.VerbBackup, events.CommandBody{}))
	h.rec.waitFor(t, "the table asleep", func([]events.Event) bool { return tb.Asleep() })
	drills := len(h.rec.of("a", events.DrillCompleted))
	h.rec.waitFor(t, "two more drills of the sleeping table", func([]events.Event) bool {
		return len(h.rec.of("a", events.DrillCompleted)) >= drills+2
	})
	if st, err := h.sup.Status(context.Background(), "a"); err != nil || st.UnchangedSkips != 0 {
		t.Fatalf("status %+v (%v): a drill was left out", st, err)
	}
}
