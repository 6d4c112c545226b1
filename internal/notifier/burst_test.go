package notifier

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestBurstOfFiftyFailuresOneDigestPerSink: fifty damaged tables make one
// page per sink, listing all fifty, each event marked delivered.
func TestBurstOfFiftyFailuresOneDigestPerSink(t *testing.T) {
	e := newEnv(t)
	hook, topic := newSink(t), newSink(t)
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	cfg.Ntfys = []string{topic.URL()}
	cfg.Burst = 10
	cfg.BurstWindow = 30 * time.Second
	cfg.GroupWait = time.Second
	runNotifier(t, e.nc, cfg)
	waitFor(t, 20*time.Second, "the consumer", func() bool { return e.drained("notifier") })

	var evs []events.Event
	for i := range 50 {
		x := ev(events.TableDegraded, fmt.Sprintf("table-%02d", i), func(e *events.Event) { e.Error = "corrupted block" })
		evs = append(evs, x)
		e.publish(x)
	}
	waitFor(t, 60*time.Second, "the digests and the acks", func() bool {
		return len(hook.requests()) >= 1 && len(topic.requests()) >= 1 && e.drained("notifier")
	})
	if n := len(hook.requests()); n != 1 {
		t.Fatalf("webhook got %d requests, want one digest", n)
	}
	if n := len(topic.requests()); n != 1 {
		t.Fatalf("ntfy got %d requests, want one digest", n)
	}
	var b WebhookBody
	mustJSON(t, hook.requests()[0].Body, &b)
	if !b.Digest || len(b.Events) != 50 || b.Severity != SeverityCritical || !strings.HasPrefix(b.ID, "digest-") {
		t.Errorf("digest: digest=%v events=%d severity=%s id=%s", b.Digest, len(b.Events), b.Severity, b.ID)
	}
	if key := hook.requests()[0].Header.Get("Idempotency-Key"); key != b.ID {
		t.Errorf("Idempotency-Key %q, want the digest id %q", key, b.ID)
	}
	got := webhookIDs(t, hook.requests())
	text := string(topic.requests()[0].Body)
	for _, x := range evs {
		if got[x.ID] != 1 {
			t.Errorf("event %s in %d digests, want 1", x.ID, got[x.ID])
		}
		if !strings.Contains(text, x.Table) {
			t.Errorf("ntfy digest does not list %s", x.Table)
		}
	}
	if !strings.Contains(text, "DEGRADED, unavailable (critical) on node n1: 50 tables") || !strings.Contains(text, "error (50): corrupted block") {
		t.Errorf("ntfy digest does not summarise the burst:\n%s", text)
	}
	if p := topic.requests()[0].Header.Get("Priority"); p != "5" {
		t.Errorf("digest priority %q, want 5", p)
	}
	sent := e.streamEvents(events.NotificationSent)
	if len(sent) != 100 {
		t.Errorf("%d notification.sent, want one per event and sink (100)", len(sent))
	}
	for _, s := range sent {
		if id, _ := s.Data["digest_id"].(string); !strings.HasPrefix(id, "digest-") {
			t.Errorf("notification.sent without digest id: %v", s.Data)
			break
		}
	}
}
