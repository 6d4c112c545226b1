package notifier

import (
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// TestStartsBeforeTheStream: a notifier started before the supervisor has
// created the stream waits for it, then delivers.
func TestStartsBeforeTheStream(t *testing.T) {
	srv := natstest.Start(t)
	nc := connect(t, srv.URL())
	hook := newSink(t)
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	runNotifier(t, nc, cfg)

	time.Sleep(300 * time.Millisecond) // Run is looking for the stream
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(t.Context(), t, js, testPrefix)
	e := &env{t: t, srv: srv, nc: nc, js: js}
	x := ev(events.RestoreFailed, "users", nil)
	e.publish(x)
	waitFor(t, 30*time.Second, "the delivery", func() bool { return len(hook.ok2xx()) == 1 && e.drained("notifier") })
	if got := webhookIDs(t, hook.ok2xx()); got[x.ID] != 1 {
		t.Errorf("deliveries: %v", got)
	}
}

// TestRunStopsWhenTheConnectionCloses: Run returns an error, and returns
// at all, when its connection is closed under it.
func TestRunStopsWhenTheConnectionCloses(t *testing.T) {
	e := newEnv(t)
	nc := connect(t, e.srv.URL())
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{newSink(t).URL()}
	done := make(chan error, 1)
	go func() { done <- Run(t.Context(), nc, cfg) }()
	waitFor(t, 20*time.Second, "the consumer", func() bool { return e.drained("notifier") })
	nc.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Run returned nil after its connection closed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its connection closed")
	}
}

// TestForeignEventIsDeliveredAndPoisonIsDropped: an event with an id and
// table that fit no key or subject token is still delivered and acked, and
// a message that is no event is dropped without blocking the rest.
func TestForeignEventIsDeliveredAndPoisonIsDropped(t *testing.T) {
	e := newEnv(t)
	hook := newSink(t)
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	runNotifier(t, e.nc, cfg)

	ctx := t.Context()
	if _, err := e.js.Publish(ctx, testPrefix+".events.n1.x.table.degraded", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	foreign := events.Event{ID: "legacy id #7", Type: events.TableDegraded, Node: "n1", Table: "Weird Table", Time: time.Now()}
	b, _ := foreign.Marshal()
	if _, err := e.js.Publish(ctx, testPrefix+".events.n1.x.table.degraded", b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the foreign event delivered and the consumer drained", func() bool {
		return len(hook.ok2xx()) == 1 && e.drained("notifier") && len(e.streamEvents(events.NotificationSent)) == 1
	})
	if got := webhookIDs(t, hook.ok2xx()); got["legacy id #7"] != 1 {
		t.Errorf("deliveries: %v", got)
	}
	s := e.streamEvents(events.NotificationSent)[0]
	if s.Table != events.NodeTable || s.Data["table"] != "Weird Table" {
		t.Errorf("notification.sent table %q data %v", s.Table, s.Data)
	}
	if s.Trigger != events.TriggerAuto || s.Result != events.ResultOK || s.Attempt != 1 {
		t.Errorf("notification.sent envelope: trigger %q result %q attempt %d, want auto, ok, 1", s.Trigger, s.Result, s.Attempt)
	}
}
