package supervisor

import (
	"context"
	"sync"
	"testing"
	"time"

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
