package bus

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// recordingEmitter passes events to the outbox and remembers those it
// accepted: the test's list of what must reach the stream.
type recordingEmitter struct {
	o   *Outbox
	mu  sync.Mutex
	evs []events.Event
}

func (r *recordingEmitter) Emit(ctx context.Context, e events.Event) error {
	if err := r.o.Emit(ctx, e); err != nil {
		return err
	}
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	return nil
}

func (r *recordingEmitter) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.evs...)
}

// TestMaintenanceGoesOnThroughNATSOutage runs a real supervisor with fast
// schedules against a separate nats-server, stops that server for 10 s
// while maintenance goes on, starts it again on the same port and store,
// and checks that every event the supervisor emitted is in the stream
// exactly once, each command's steps in order.
func TestMaintenanceGoesOnThroughNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s outage")
	}
	r := startOutageRig(t)
	nc, js, o := r.nc, r.js, r.o
	rec := &recordingEmitter{o: o}

	fast := supervisor.Policy{
		CompactEvery: 300 * time.Millisecond, BackupEvery: 700 * time.Millisecond,
		VerifyEvery: 500 * time.Millisecond, StatsEvery: 200 * time.Millisecond,
		Threshold: -1, Retention: 2,
	}
	sup, err := supervisor.Open(filepath.Join(t.TempDir(), "data"), tables.Options{}, rec, supervisor.Config{Node: "n1", Defaults: fast})
	if err != nil {
		t.Fatal(err)
	}
	ctx := withTimeout(t, 2*time.Minute)
	for _, name := range []string{"users", "orders"} {
		if err := sup.OpenTable(ctx, name, true); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(runCtx) }()
	t.Cleanup(func() { _ = sup.Close() })
	defer func() {
		stop()
		if err := <-supDone; err != nil {
			t.Errorf("supervisor run: %v", err)
		}
	}()
	users, err := sup.Table("users")
	if err != nil {
		t.Fatal(err)
	}
	writes := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() { // keep data changing so that compaction has work
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-writes:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := users.Put(ctx, "k"+itoa(i%50), []byte(itoa(i))); err != nil {
				writerDone <- err
				return
			}
		}
	}()

	waitFor(t, ctx, func() bool { return len(rec.all()) >= 20 })
	r.stopServer()
	before := len(rec.all())
	time.Sleep(10 * time.Second)
	during := len(rec.all()) - before
	if during < 10 {
		t.Fatalf("only %d events during the outage: maintenance stopped", during)
	}
	if o.Depth() == 0 {
		t.Fatal("outbox empty during the outage")
	}
	r.restartServer(t)
	waitFor(t, ctx, func() bool { return nc.IsConnected() })
	after := len(rec.all())
	waitFor(t, ctx, func() bool { return len(rec.all()) >= after+10 })
	close(writes)
	if err := <-writerDone; err != nil {
		t.Fatalf("writes during the outage: %v", err)
	}
	stop()
	if err := <-supDone; err != nil {
		t.Fatal(err)
	}
	supDone <- nil // for the deferred receive
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	want := rec.all()
	got, ids := streamEvents(t, js)
	if len(got) != len(want) {
		t.Fatalf("stream has %d events, the supervisor emitted %d", len(got), len(want))
	}
	pos := map[string]int{}
	for i, e := range got {
		if _, dup := pos[e.ID]; dup {
			t.Fatalf("event %s twice in the stream", e.ID)
		}
		if ids[i] != e.ID {
			t.Fatalf("event %s with Nats-Msg-Id %q", e.ID, ids[i])
		}
		pos[e.ID] = i
	}
	types := map[string]int{}
	started := map[string]int{} // command id -> position of its *.started
	for _, e := range want {
		p, ok := pos[e.ID]
		if !ok {
			t.Fatalf("event %s %s lost", e.Type, e.ID)
		}
		types[e.Type]++
		if e.CommandID == "" {
			continue
		}
		if len(e.Type) > 8 && e.Type[len(e.Type)-8:] == ".started" {
			started[e.CommandID+e.Type[:len(e.Type)-8]] = p
		}
		for _, suffix := range []string{".completed", ".skipped", ".failed"} {
			if len(e.Type) > len(suffix) && e.Type[len(e.Type)-len(suffix):] == suffix {
				if sp, ok := started[e.CommandID+e.Type[:len(e.Type)-len(suffix)]]; ok && sp > p {
					t.Fatalf("%s of command %s before its start", e.Type, e.CommandID)
				}
			}
		}
	}
	t.Logf("%d events (%d during the 10 s outage): %v", len(want), during, types)
	for _, typ := range []string{events.CompactionCompleted, events.BackupCompleted, events.VerifyCompleted, events.TableStats} {
		if types[typ] == 0 {
			t.Errorf("no %s event", typ)
		}
	}
}

// TestServicesAnswerAgainAfterNATSRestart: the supervisor's connection
// reconnects to a restarted server and its services answer again.
func TestServicesAnswerAgainAfterNATSRestart(t *testing.T) {
	r := startOutageRig(t)
	nc, o := r.nc, r.o
	never := supervisor.Policy{CompactEvery: -1, BackupEvery: -1, VerifyEvery: -1, StatsEvery: -1}
	sup, err := supervisor.Open(filepath.Join(t.TempDir(), "data"), tables.Options{}, o, supervisor.Config{Node: "n1", Defaults: never})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Close() })
	ctx := withTimeout(t, 60*time.Second)
	if err := sup.OpenTable(ctx, "users", true); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-supDone })
	svc, err := StartServices(nc, sup, ServicesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	op := connectTCP(t, r.srv.URL())
	if _, err := op.Request("custodian.kv.users.put", []byte(`{"key":"a","value":1}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.stopServer()
	r.restartServer(t)
	waitFor(t, ctx, func() bool { return nc.IsConnected() && op.IsConnected() })
	// Resubscription after reconnect is asynchronous: retry briefly.
	var m *nats.Msg
	waitFor(t, ctx, func() bool {
		m, err = op.Request("custodian.kv.users.get", []byte(`{"key":"a"}`), 2*time.Second)
		return err == nil
	})
	if string(m.Data) != `{"key":"a","value":1}` {
		t.Fatalf("after restart: %s", m.Data)
	}
	rep, err := op.Request("custodian.cmd.users.backup", []byte(`{"wait":true}`), 30*time.Second)
	if err != nil {
		t.Fatalf("command after restart: %v", err)
	}
	if !strings.Contains(string(rep.Data), `"result":"ok"`) {
		t.Fatalf("command after restart: %s", rep.Data)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
