package bus

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/disktest"
	"github.com/custodian-dev/custodian/internal/events"
)

// waitUntil polls cond until it holds or the test's bound passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutboxOnAFullDisk is issue 13's defect 2 in the outbox: on a real
// tmpfs filled to the last byte its goleveldb database refuses writes (and,
// before the fix, kept refusing after space came back: every command was
// refused, and the publisher goroutine ended at the first failed delete).
// Now events emitted meanwhile are held in memory and published, in order,
// once; Health says what is wrong; once space is back the database is
// reopened without a restart and events go to disk again.
func TestOutboxOnAFullDisk(t *testing.T) {
	js := startStream(t)
	disk := disktest.Small(t, 16<<20)
	o := openOutbox(t, filepath.Join(disk, "outbox"))
	runOutbox(t, o, js)
	ctx := withTimeout(t, 2*time.Minute)
	var want []events.Event
	emit := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			e := testEvent(len(want))
			if err := o.Emit(ctx, e); err != nil {
				t.Fatalf("emit %d: %v (stats %+v)", len(want), err, o.Stats())
			}
			want = append(want, e)
		}
	}
	emit(20)
	filler := disktest.Fill(t, disk)
	emit(200)
	if o.Stats().WriteFailures == 0 {
		t.Fatalf("no write failed on a full disk: %+v", o.Stats())
	}
	if err := o.Health(); err == nil {
		t.Fatalf("Health is nil while the outbox cannot write")
	}
	waitUntil(t, "every event published while the disk is full", func() bool { return o.Depth() == 0 })
	checkStream(t, js, want)

	disktest.Unfill(t, filler)
	waitUntil(t, "the outbox heals once space is back", func() bool { return o.Health() == nil })
	emit(20)
	waitUntil(t, "events after the heal published", func() bool { return o.Depth() == 0 })
	checkStream(t, js, want)
	if s := o.Stats(); s.Held != 0 {
		t.Fatalf("stats after the heal: %+v", s)
	}
}

// TestOutboxKeepsHeldEventsAcrossAClose: events held in memory while the
// disk was full and nothing published them (no Run) are written to disk by
// the reopen that Emit makes once the disk has room (and at Close), and
// published by the next run, in order, once.
func TestOutboxKeepsHeldEventsAcrossAClose(t *testing.T) {
	js := startStream(t)
	disk := disktest.Small(t, 16<<20)
	dir := filepath.Join(disk, "outbox")
	o, err := OpenOutbox(dir, OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := withTimeout(t, 2*time.Minute)
	var want []events.Event
	for i := 0; i < 10; i++ {
		e := testEvent(i)
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	filler := disktest.Fill(t, disk)
	for i := 10; i < 60; i++ {
		e := testEvent(i)
		if err := o.Emit(ctx, e); err != nil {
			t.Fatalf("emit %d on a full disk: %v", i, err)
		}
		want = append(want, e)
	}
	if o.Stats().Held == 0 {
		t.Fatalf("no event held in memory on a full disk: %+v", o.Stats())
	}
	disktest.Unfill(t, filler)
	// With no publisher running, Emit itself reopens the database once
	// space is back: the next events go to disk again.
	waitUntil(t, "Emit reopens the database", func() bool {
		e := testEvent(len(want))
		if err := o.Emit(ctx, e); err != nil {
			t.Fatalf("emit after space came back: %v", err)
		}
		want = append(want, e)
		return o.Health() == nil
	})
	// The reopen wrote the held events to disk: durable again, although
	// nothing published them.
	held := o.Stats().Held
	if held != 0 {
		t.Fatalf("%d events still held in memory after the reopen", held)
	}
	e := testEvent(len(want))
	if err := o.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	want = append(want, e)
	if s := o.Stats(); s.Held != held {
		t.Fatalf("an event after the reopen was held in memory: %+v", s)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	o = openOutbox(t, dir)
	if d := o.Depth(); d != int64(len(want)) {
		t.Fatalf("depth after reopen %d, want %d", d, len(want))
	}
	runOutbox(t, o, js)
	waitUntil(t, "published after the restart", func() bool { return o.Depth() == 0 })
	checkStream(t, js, want)
}
