package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// gate holds work at one tables failpoint until released: it makes "this
// operation is running" a fact the test controls, with real tables code.
type gate struct {
	name    string
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate(name string) *gate {
	return &gate{name: name, arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *gate) failpoint(name string) {
	if name != g.name {
		return
	}
	g.arrived <- struct{}{}
	<-g.release
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// pass lets one held arrival through (call it after await, before open).
func (g *gate) pass() { g.release <- struct{}{} }

// await waits for n arrivals at the gate.
func (g *gate) await(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-g.arrived:
		case <-time.After(waitLimit):
			t.Fatalf("gate %s: %d of %d arrivals", g.name, i, n)
		}
	}
}

// statusOf waits until the status of table satisfies pred.
func statusOf(t *testing.T, h *harness, table string, pred func(TableStatus) bool) TableStatus {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		st, err := h.sup.Status(context.Background(), table)
		if err != nil {
			t.Fatal(err)
		}
		if pred(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of %s never matched: %+v", table, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestQueueOneAtATimeCoalesceAndBusy(t *testing.T) {
	g := newGate(tables.FPBackupBeforeCopy)
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{QueueSize: 2}})
	defer g.open()
	tb := h.open("users")
	fill(t, tb, 50, 1)

	first := h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1) // the backup runs and holds the table
	st := statusOf(t, h, "users", func(s TableStatus) bool { return s.Running == events.VerbBackup })
	if st.State != StateBackingUp || st.CommandID != first.ID() {
		t.Errorf("status while backing up: %+v", st)
	}

	v1 := h.submit("users", events.VerbVerify, events.CommandBody{})
	v2 := h.submit("users", events.VerbVerify, events.CommandBody{})
	if v2.Coalesced() != v1.ID() || v1.Coalesced() != "" {
		t.Fatalf("identical queued verify did not coalesce: v1 %q v2 follows %q", v1.ID(), v2.Coalesced())
	}
	c1 := h.submit("users", events.VerbCompact, events.CommandBody{Force: true})
	c2 := h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: string(DefaultPolicy().Mode)})
	if c2.Coalesced() != c1.ID() {
		t.Errorf("compact with the policy's mode spelled out did not coalesce with the default")
	}
	if st := statusOf(t, h, "users", func(TableStatus) bool { return true }); st.Queue != 2 {
		t.Errorf("queue %d, want 2 (coalesced commands take no slot)", st.Queue)
	}

	// The queue holds 2: a third distinct command is refused, nothing queued.
	_, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbCompact, Body: events.CommandBody{Mode: "native"}})
	if apierr.CodeOf(err) != apierr.Busy {
		t.Fatalf("third distinct command on a full queue: %v, want busy", err)
	}
	rej := h.rec.of("users", events.CommandRejected)
	if len(rej) != 1 || rej[0].Data["code"] != string(apierr.Busy) || rej[0].Error == "" {
		t.Errorf("want one command.rejected with data.code busy, got:\n%s", dump(rej))
	}
	if st := statusOf(t, h, "users", func(TableStatus) bool { return true }); st.Queue != 2 {
		t.Errorf("queue %d after the refusal, want 2", st.Queue)
	}
	if n := len(h.rec.of("users", events.VerifyCompleted, events.CompactionStarted)); n != 0 {
		t.Errorf("queued work ran while the backup held the table")
	}

	g.open()
	if e := h.wait(first); e.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", e.Type, e.Error)
	}
	o1, o2 := h.wait(v1), h.wait(v2)
	if o1.Type != events.VerifyCompleted || o1.ID != o2.ID || o2.CommandID != v1.ID() {
		t.Errorf("coalesced tickets: %s %s / %s %s", o1.Type, o1.ID, o2.Type, o2.ID)
	}
	if n := len(h.rec.of("users", events.VerifyCompleted)); n != 1 {
		t.Errorf("coalesced verify ran %d times, want once", n)
	}
	if h.wait(c1).ID != h.wait(c2).ID {
		t.Errorf("coalesced compactions got different outcomes")
	}
	acc := h.rec.of("users", events.CommandAccepted)
	if len(acc) != 5 {
		t.Errorf("want command.accepted for each of 5 accepted commands, got %d", len(acc))
	}

	// One operation at a time: no *.started follows another before its
	// outcome on the same table.
	running := ""
	for _, e := range h.rec.of("users", events.BackupStarted, events.BackupCompleted, events.CompactionStarted,
		events.CompactionCompleted, events.CompactionSkipped, events.VerifyCompleted) {
		switch e.Type {
		case events.BackupStarted, events.CompactionStarted:
			if running != "" {
				t.Errorf("%s while %s ran", e.Type, running)
			}
			running = e.Type
		default:
			running = ""
		}
	}
}

func TestTablesWorkConcurrentlyUpToTheLimit(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(map[int]string{1: "limit1", 2: "limit2"}[limit], func(t *testing.T) {
			g := newGate(tables.FPBackupBeforeCopy)
			h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{MaxConcurrent: limit}})
			defer g.open()
			for _, name := range []string{"a", "b", "c"} {
				fill(t, h.open(name), 20, 1)
			}
			tks := []*Ticket{
				h.submit("a", events.VerbBackup, events.CommandBody{}),
				h.submit("b", events.VerbBackup, events.CommandBody{}),
				h.submit("c", events.VerbBackup, events.CommandBody{}),
			}
			g.await(t, limit) // limit tables are inside their backup at once
			busy := 0
			waiting := 0
			for _, name := range []string{"a", "b", "c"} {
				st, _ := h.sup.Status(context.Background(), name)
				if st.Running != "" {
					busy++
				} else if st.Queue == 1 {
					waiting++
				}
			}
			if busy != limit || waiting != 3-limit {
				t.Errorf("limit %d: %d tables at work, %d waiting", limit, busy, waiting)
			}
			g.open()
			for _, tk := range tks {
				if e := h.wait(tk); e.Type != events.BackupCompleted {
					t.Errorf("backup: %s (%s)", e.Type, e.Error)
				}
			}
		})
	}
}

// TestDetectionAnnouncedWhileTheTableIsBusy: a corruption reported while an
// operation holds the table is announced at once, the table stops serving at
// once, and the restore runs right after the operation, ahead of the queue.
func TestDetectionAnnouncedWhileTheTableIsBusy(t *testing.T) {
	g := newGate(tables.FPBackupBeforeCopy)
	h := start(t, harnessOpt{failpoint: g.failpoint})
	defer g.open()
	tb := h.open("users")
	fill(t, tb, 30, 1)
	b := h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)
	v := h.submit("users", events.VerbVerify, events.CommandBody{})

	report := h.sup.CorruptionHandler()
	corrupt := lerrors.NewErrCorrupted(storage.FileDesc{Type: storage.TypeTable, Num: 7}, errors.New("checksum mismatch"))
	report("users", "get", fmt.Errorf("table users: get: %w", corrupt))
	report("users", "get", corrupt) // same incident
	h.rec.waitType(t, "users", events.CorruptionDetected, 1)
	if ok, why := tb.Available(); ok || why != tables.ReasonRestoring {
		t.Errorf("table after detection: available %v (%s), want restoring", ok, why)
	}
	if n := len(h.rec.of("users", events.BackupCompleted, events.RestoreStarted)); n != 0 {
		t.Errorf("the restore did not wait for the running backup")
	}

	g.open()
	h.wait(b)
	h.rec.waitType(t, "users", events.RestoreCompleted, 1)
	h.wait(v)
	var order []string
	for _, e := range h.rec.of("users", events.CorruptionDetected, events.BackupCompleted, events.RestoreStarted,
		events.RestoreCompleted, events.VerifyCompleted, events.VerifyFailed) {
		order = append(order, e.Type)
	}
	want := []string{events.CorruptionDetected, events.BackupCompleted, events.RestoreStarted, events.RestoreCompleted, events.VerifyCompleted}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if got := contents(t, tb); len(got) != 30 {
		t.Errorf("after restore: %d records", len(got))
	}
}
