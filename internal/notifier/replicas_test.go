package notifier

import (
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestReplicasWithSameNameShareTheWork runs two notifiers named alike, each
// on its own connection: every event reaches each sink exactly once.
func TestReplicasWithSameNameShareTheWork(t *testing.T) {
	e := newEnv(t)
	hook, topic := newSink(t), newSink(t)
	cfg := testConfig("pager")
	cfg.Webhooks = []string{hook.URL()}
	cfg.Ntfys = []string{topic.URL()}
	runNotifier(t, connect(t, e.srv.URL()), cfg)
	runNotifier(t, connect(t, e.srv.URL()), cfg)
	waitFor(t, 20*time.Second, "the consumer", func() bool { return e.drained("pager") })

	evs := e.publishEach(events.BackupFailed, "t%02d", 40)
	waitFor(t, 60*time.Second, "every event at both sinks", func() bool {
		return len(hook.requests()) >= len(evs) && len(topic.requests()) >= len(evs) && e.drained("pager")
	})
	time.Sleep(300 * time.Millisecond)
	got := webhookIDs(t, hook.requests())
	ntfy := map[string]int{}
	for _, r := range topic.requests() {
		ntfy[r.Header.Get("X-Custodian-Id")]++
	}
	for _, x := range evs {
		if got[x.ID] != 1 || ntfy[x.ID] != 1 {
			t.Errorf("event %s: webhook %d, ntfy %d deliveries, want 1 each", x.ID, got[x.ID], ntfy[x.ID])
		}
	}
	byInstance := map[string]int{}
	for _, s := range e.streamEvents(events.NotificationSent) {
		byInstance[s.Data["instance"].(string)]++
	}
	t.Logf("deliveries per replica: %v", byInstance)
	if len(hook.requests()) != len(evs) || len(topic.requests()) != len(evs) {
		t.Errorf("webhook %d, ntfy %d requests, want %d each", len(hook.requests()), len(topic.requests()), len(evs))
	}
}

// TestDifferentNamesEachGetEveryEvent runs two notifiers with different
// names and their own sinks: each sink gets every event. A sink both name
// gets each event once (the delivered set is shared).
func TestDifferentNamesEachGetEveryEvent(t *testing.T) {
	e := newEnv(t)
	ops, dba, shared := newSink(t), newSink(t), newSink(t)
	a := testConfig("ops")
	a.Webhooks = []string{ops.URL(), shared.URL()}
	b := testConfig("dba")
	b.Webhooks = []string{dba.URL(), shared.URL()}
	runNotifier(t, connect(t, e.srv.URL()), a)
	runNotifier(t, connect(t, e.srv.URL()), b)
	waitFor(t, 20*time.Second, "both consumers", func() bool { return e.drained("ops") && e.drained("dba") })

	evs := e.publishEach(events.TableDegraded, "t%d", 5)
	waitFor(t, 30*time.Second, "every event at both sinks", func() bool {
		return len(ops.requests()) >= len(evs) && len(dba.requests()) >= len(evs) && e.drained("ops") && e.drained("dba")
	})
	for name, s := range map[string]*sink{"ops": ops, "dba": dba, "shared": shared} {
		got := webhookIDs(t, s.requests())
		for _, x := range evs {
			if got[x.ID] != 1 {
				t.Errorf("%s: event %s delivered %d times, want 1", name, x.ID, got[x.ID])
			}
		}
		if len(s.requests()) != len(evs) {
			t.Errorf("%s: %d requests, want %d", name, len(s.requests()), len(evs))
		}
	}
	// Each notifier reports its deliveries under its own name.
	byNode := map[string]int{}
	for _, s := range e.streamEvents(events.NotificationSent) {
		byNode[s.Node]++
	}
	if byNode["ops"]+byNode["dba"] != 3*len(evs) || byNode["ops"] < len(evs) || byNode["dba"] < len(evs) {
		t.Errorf("notification.sent per notifier: %v, want %d in all, at least %d each", byNode, 3*len(evs), len(evs))
	}
}

// TestReplicaTakesOverWhenOneStops: of two replicas, the one that stops
// while its deliveries are being retried leaves them to the other, which
// delivers each event once.
func TestReplicaTakesOverWhenOneStops(t *testing.T) {
	e := newEnv(t)
	hook := newSink(t)
	healthy := hook.failUntilHealthy()
	cfg := testConfig("pager")
	cfg.Webhooks = []string{hook.URL()}
	stopA := runNotifier(t, connect(t, e.srv.URL()), cfg)
	runNotifier(t, connect(t, e.srv.URL()), cfg)
	waitFor(t, 20*time.Second, "the consumer", func() bool { return e.drained("pager") })

	evs := e.publishEach(events.VerifyFailed, "t%d", 10)
	waitFor(t, 30*time.Second, "attempts for every event", func() bool { return len(webhookIDs(t, hook.requests())) == len(evs) })
	stopA()
	healthy.Store(true)
	stopped := time.Now()
	waitFor(t, 60*time.Second, "every event delivered and acked", func() bool {
		return len(webhookIDs(t, hook.ok2xx())) == len(evs) && e.drained("pager")
	})
	t.Logf("the other replica finished %s after the stop (AckWait %s)", time.Since(stopped).Round(time.Millisecond), cfg.AckWait)
	got := webhookIDs(t, hook.ok2xx())
	for _, x := range evs {
		if got[x.ID] != 1 {
			t.Errorf("event %s: %d 2xx deliveries, want 1", x.ID, got[x.ID])
		}
	}
	instances := map[string]int{}
	for _, s := range e.streamEvents(events.NotificationSent) {
		instances[s.Data["instance"].(string)]++
	}
	if len(instances) != 1 {
		t.Errorf("deliveries by %d instances after one stopped, want 1: %v", len(instances), instances)
	}
}
