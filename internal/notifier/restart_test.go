package notifier

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

// TestKilledDuringRetriesThenRestarted kills a notifier process with
// SIGKILL while one sink has answered 2xx and the other keeps answering
// 503, then restarts it with both answering 200: each sink has exactly one
// 2xx delivery of each event.
func TestKilledDuringRetriesThenRestarted(t *testing.T) {
	e := newEnv(t)
	up, down := newSink(t), newSink(t)
	healthy := down.failUntilHealthy()
	child := startChild(t, e.srv.URL(), "pager", up.URL(), down.URL())

	evs := []events.Event{
		ev(events.TableDegraded, "users", nil),
		ev(events.BackupFailed, "orders", nil),
		ev(events.RestoreCompleted, "carts", func(e *events.Event) { e.Trigger = events.TriggerAuto }),
	}
	for _, x := range evs {
		e.publish(x)
	}
	kv := e.ledgerKV()
	upKey := NewWebhook(up.URL(), "", nil).Key()
	waitFor(t, 30*time.Second, "the healthy sink delivered and recorded, the other retrying", func() bool {
		for _, x := range evs {
			if e, err := kv.Get(context.Background(), ledgerKey(upKey, x.ID)); err != nil || string(e.Value()) != stateSent {
				return false
			}
		}
		return len(down.requests()) >= 2*len(evs)
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if n := len(down.ok2xx()); n != 0 {
		t.Fatalf("the failing sink has %d 2xx before the restart", n)
	}

	healthy.Store(true)
	startChild(t, e.srv.URL(), "pager", up.URL(), down.URL())
	waitFor(t, 60*time.Second, "every event at the recovered sink and the consumer drained", func() bool {
		return len(down.ok2xx()) >= len(evs) && e.drained("pager")
	})
	for name, s := range map[string]*sink{"healthy": up, "recovered": down} {
		got := webhookIDs(t, s.ok2xx())
		for _, x := range evs {
			if got[x.ID] != 1 {
				t.Errorf("%s sink: event %s (%s) has %d 2xx deliveries, want 1", name, x.ID, x.Type, got[x.ID])
			}
		}
	}
	if n := len(up.requests()); n != len(evs) {
		t.Errorf("healthy sink got %d requests, want %d (never resent after the restart)", n, len(evs))
	}
}

// TestNATSRestartWhileEventsWait stops the NATS server while deliveries
// wait on a failing sink, lets the sink recover during the outage, starts
// a new server on the same port and store: every event is delivered once,
// and events published after the restart are delivered too.
func TestNATSRestartWhileEventsWait(t *testing.T) {
	e := newEnv(t)
	hook := newSink(t)
	healthy := hook.failUntilHealthy()
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	runNotifier(t, e.nc, cfg)

	var evs []events.Event
	for _, table := range []string{"a", "b", "c", "d", "e"} {
		x := ev(events.VerifyFailed, table, nil)
		evs = append(evs, x)
		e.publish(x)
	}
	waitFor(t, 30*time.Second, "attempts for every event", func() bool {
		return len(webhookIDsAll(t, hook.requests())) == len(evs)
	})

	e.srv.Stop()
	healthy.Store(true)
	time.Sleep(time.Second) // an outage, with the sink answering 200 meanwhile
	e.srv.Restart()

	waitFor(t, 60*time.Second, "every waiting event delivered and acked", func() bool {
		return len(webhookIDs(t, hook.ok2xx())) == len(evs) && e.drained("notifier")
	})
	for _, table := range []string{"f", "g", "h"} {
		x := ev(events.TableDegraded, table, nil)
		evs = append(evs, x)
		e.publish(x)
	}
	waitFor(t, 60*time.Second, "events published after the restart delivered", func() bool {
		return len(webhookIDs(t, hook.ok2xx())) == len(evs) && e.drained("notifier")
	})
	got := webhookIDs(t, hook.ok2xx())
	for _, x := range evs {
		if got[x.ID] != 1 {
			t.Errorf("event %s (table %s): %d 2xx deliveries, want 1", x.ID, x.Table, got[x.ID])
		}
	}
}

// webhookIDsAll counts every request, whatever its answer.
func webhookIDsAll(t *testing.T, reqs []request) map[string]int { return webhookIDs(t, reqs) }

func (e *env) ledgerKV() jetstream.KeyValue {
	e.t.Helper()
	var kv jetstream.KeyValue
	waitFor(e.t, 20*time.Second, "the delivered-set bucket", func() bool {
		var err error
		kv, err = e.js.KeyValue(context.Background(), LedgerBucket(testPrefix))
		return err == nil
	})
	return kv
}
