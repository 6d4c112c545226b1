package notifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// mixedEvents returns a mix of routine and notifying events, and the ids
// of those that must notify.
func mixedEvents() (all []events.Event, notifying map[string]bool) {
	notifying = map[string]bool{}
	add := func(e events.Event, notifies bool) {
		all = append(all, e)
		if notifies {
			notifying[e.ID] = true
		}
	}
	add(ev(events.CommandAccepted, "users", nil), false)
	add(ev(events.CompactionStarted, "users", nil), false)
	add(ev(events.CompactionCompleted, "users", func(e *events.Event) { e.Result = events.ResultOK }), false)
	add(ev(events.CompactionSkipped, "users", nil), false)
	add(ev(events.CompactionFailed, "users", func(e *events.Event) { e.Attempt = 1; e.Error = "disk full" }), false)
	add(ev(events.CompactionFailed, "users", func(e *events.Event) { e.Attempt = 2; e.Error = "disk full" }), true)
	add(ev(events.BackupCompleted, "users", nil), false)
	add(ev(events.BackupPruned, "users", nil), false)
	add(ev(events.BackupFailed, "orders", func(e *events.Event) { e.Error = "no space left on device" }), true)
	add(ev(events.VerifyCompleted, "users", nil), false)
	add(ev(events.VerifyFailed, "orders", func(e *events.Event) { e.Error = "checksum mismatch" }), true)
	add(ev(events.CorruptionDetected, "orders", nil), false)
	add(ev(events.RestoreStarted, "orders", nil), false)
	add(ev(events.RestoreCompleted, "orders", func(e *events.Event) { e.Trigger = events.TriggerManual }), false)
	add(ev(events.RestoreCompleted, "orders", func(e *events.Event) {
		e.Trigger = events.TriggerAuto
		e.Data = map[string]any{"backup_id": "20261126T101500Z", "backup_age_ms": 5400000}
	}), true)
	add(ev(events.RestoreFailed, "carts", func(e *events.Event) { e.Error = "backup damaged" }), true)
	add(ev(events.TableCreated, "carts", nil), false)
	add(ev(events.TableStats, "carts", nil), false)
	add(ev(events.TableDegraded, "carts", func(e *events.Event) {
		e.Error = "corrupted MANIFEST"
		e.Data = map[string]any{"backup_age_ms": 120000}
	}), true)
	add(ev(events.TableRecovered, "carts", nil), false)
	add(ev(events.NotificationSent, "carts", nil), false)
	add(ev(events.NotificationFailed, "carts", nil), false)
	return all, notifying
}

func TestOnlyNotifyingEventsNotify(t *testing.T) {
	e := newEnv(t)
	hook, topic := newSink(t), newSink(t)
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	cfg.Ntfys = []string{topic.URL()}
	runNotifier(t, e.nc, cfg)

	all, notifying := mixedEvents()
	for _, ev := range all {
		e.publish(ev)
	}
	waitFor(t, 30*time.Second, "every notifying event at both sinks and the consumer drained", func() bool {
		return len(hook.requests()) >= len(notifying) && len(topic.requests()) >= len(notifying) && e.drained("notifier")
	})
	got := webhookIDs(t, hook.requests())
	if len(got) != len(notifying) || len(hook.requests()) != len(notifying) {
		t.Fatalf("webhook got %d requests for %d events, want exactly the %d notifying: %v", len(hook.requests()), len(got), len(notifying), got)
	}
	for id := range notifying {
		if got[id] != 1 {
			t.Errorf("event %s delivered %d times to the webhook, want 1", id, got[id])
		}
	}
	ntfyIDs := map[string]bool{}
	for _, r := range topic.requests() {
		ntfyIDs[r.Header.Get("X-Custodian-Id")] = true
	}
	for id := range notifying {
		if !ntfyIDs[id] {
			t.Errorf("event %s not sent to ntfy", id)
		}
	}
	if len(topic.requests()) != len(notifying) {
		t.Errorf("ntfy got %d requests, want %d", len(topic.requests()), len(notifying))
	}
	sent := e.streamEvents(events.NotificationSent)
	perEvent := map[string]int{}
	for _, s := range sent {
		if s.Node != "notifier" {
			continue // the routine notification.sent of the mix
		}
		perEvent[s.Data["event_id"].(string)]++
	}
	for id := range notifying {
		if perEvent[id] != 2 {
			t.Errorf("event %s: %d notification.sent, want one per sink (2)", id, perEvent[id])
		}
	}
}

func TestWebhookSignatureAndIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	hook := newSink(t)
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	cfg.WebhookSecret = "s3cret"
	runNotifier(t, e.nc, cfg)

	degraded := ev(events.TableDegraded, "users", func(e *events.Event) {
		e.Error = "corrupted: checksum mismatch in 000005.ldb"
		e.Data = map[string]any{"backup_age_ms": 7200000}
	})
	e.publish(degraded)
	waitFor(t, 20*time.Second, "the webhook request", func() bool { return len(hook.requests()) == 1 })
	r := hook.requests()[0]

	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := r.Header.Get("X-Custodian-Signature"); got != want {
		t.Errorf("X-Custodian-Signature = %q, want %q", got, want)
	}
	if got := r.Header.Get("Idempotency-Key"); got != degraded.ID {
		t.Errorf("Idempotency-Key = %q, want the event id %q", got, degraded.ID)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "severity", "title", "message", "event"} {
		if _, ok := body[k]; !ok {
			t.Errorf("body has no %q: %s", k, r.Body)
		}
	}
	var b WebhookBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	if b.ID != degraded.ID || b.Severity != SeverityCritical || b.Event == nil || b.Event.ID != degraded.ID || b.Event.Table != "users" {
		t.Errorf("body = %+v", b)
	}
	for _, s := range []string{"users", "n1", "nats req custodian.cmd.users.salvage ''", "2h0m0s", "checksum mismatch"} {
		if !strings.Contains(b.Message, s) {
			t.Errorf("message lacks %q:\n%s", s, b.Message)
		}
	}

	// Tampering with the body breaks the signature.
	mac = hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(append([]byte{}, append(r.Body, ' ')...))
	if "sha256="+hex.EncodeToString(mac.Sum(nil)) == r.Header.Get("X-Custodian-Signature") {
		t.Error("signature does not depend on the body")
	}
}

func TestWebhookWithoutSecretHasNoSignature(t *testing.T) {
	e := newEnv(t)
	hook := newSink(t)
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	runNotifier(t, e.nc, cfg)
	e.publish(ev(events.BackupFailed, "users", nil))
	waitFor(t, 20*time.Second, "the webhook request", func() bool { return len(hook.requests()) == 1 })
	if sig := hook.requests()[0].Header.Get("X-Custodian-Signature"); sig != "" {
		t.Errorf("signature %q without a secret", sig)
	}
}

func TestNtfyHeadersAndPriorities(t *testing.T) {
	e := newEnv(t)
	topic := newSink(t)
	cfg := testConfig("notifier")
	cfg.Ntfys = []string{topic.URL()}
	cfg.NtfyToken = "tk_abc"
	runNotifier(t, e.nc, cfg)

	degraded := ev(events.TableDegraded, "users", nil)
	failed := ev(events.BackupFailed, "orders", func(e *events.Event) { e.Error = "no space left on device" })
	restored := ev(events.RestoreCompleted, "carts", func(e *events.Event) {
		e.Trigger = events.TriggerAuto
		e.Data = map[string]any{"backup_id": "b-17", "backup_age_ms": 90000}
	})
	want := map[string]struct{ priority, table, tag, cmd string }{
		degraded.ID: {"5", "users", "rotating_light", "nats req custodian.cmd.users.salvage ''"},
		failed.ID:   {"4", "orders", "warning", "nats req custodian.cmd.orders.backup"},
		restored.ID: {"3", "carts", "information_source", "nats req custodian.cmd.carts.verify"},
	}
	for _, x := range []events.Event{degraded, failed, restored} {
		e.publish(x)
	}
	waitFor(t, 20*time.Second, "three ntfy requests", func() bool { return len(topic.requests()) == 3 && e.drained("notifier") })
	for _, r := range topic.requests() {
		id := r.Header.Get("X-Custodian-Id")
		w, ok := want[id]
		if !ok {
			t.Fatalf("unexpected ntfy request for %q", id)
		}
		if got := r.Header.Get("Priority"); got != w.priority {
			t.Errorf("%s: Priority = %q, want %q", w.table, got, w.priority)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer tk_abc" {
			t.Errorf("Authorization = %q", got)
		}
		if title := r.Header.Get("Title"); !strings.Contains(title, w.table) || !strings.Contains(title, "n1") {
			t.Errorf("Title %q lacks table or node", title)
		}
		if tags := r.Header.Get("Tags"); !strings.HasPrefix(tags, w.tag+",") {
			t.Errorf("Tags = %q, want first %q", tags, w.tag)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type = %q", ct)
		}
		if !strings.Contains(string(r.Body), w.cmd) {
			t.Errorf("%s: body lacks %q:\n%s", w.table, w.cmd, r.Body)
		}
		if json.Valid(r.Body) {
			t.Errorf("ntfy body is JSON, want plain text")
		}
	}
	if !strings.Contains(bodyFor(topic, restored.ID), "1m30s") {
		t.Errorf("auto restore message lacks the lost-writes window:\n%s", bodyFor(topic, restored.ID))
	}
}

func bodyFor(s *sink, id string) string {
	for _, r := range s.requests() {
		if r.Header.Get("X-Custodian-Id") == id {
			return string(r.Body)
		}
	}
	return ""
}

func TestUnavailableThenOKDeliveredOnce(t *testing.T) {
	e := newEnv(t)
	hook := newSink(t)
	hook.setPolicy(func(n int, w http.ResponseWriter) int {
		if n < 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	runNotifier(t, e.nc, cfg)

	x := ev(events.VerifyFailed, "users", nil)
	e.publish(x)
	waitFor(t, 20*time.Second, "a 2xx and the ack", func() bool { return len(hook.ok2xx()) == 1 && e.drained("notifier") })
	// Give a wrong second send the chance to happen before counting.
	time.Sleep(500 * time.Millisecond)
	if n := len(hook.ok2xx()); n != 1 {
		t.Fatalf("%d 2xx deliveries, want 1", n)
	}
	if n := len(hook.requests()); n != 3 {
		t.Errorf("%d requests, want 3 (503, 503, 200)", n)
	}
	for _, r := range hook.requests() {
		if r.Header.Get("Idempotency-Key") != x.ID {
			t.Errorf("retry with Idempotency-Key %q, want %q", r.Header.Get("Idempotency-Key"), x.ID)
		}
	}
	sent := e.streamEvents(events.NotificationSent)
	if len(sent) != 1 || sent[0].Data["event_id"] != x.ID || sent[0].Attempt != 3 {
		t.Errorf("notification.sent events: %+v", sent)
	}
}

func TestTooManyRequestsRetryAfterHonoured(t *testing.T) {
	e := newEnv(t)
	hook := newSink(t)
	retryAt := time.Now().Add(time.Hour) // the HTTP-date form, set on the 503
	hook.setPolicy(func(n int, w http.ResponseWriter) int {
		switch n {
		case 0:
			w.Header().Set("Retry-After", "2")
			return http.StatusTooManyRequests
		case 1:
			retryAt = time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
			w.Header().Set("Retry-After", retryAt.UTC().Format(http.TimeFormat))
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{hook.URL()}
	runNotifier(t, e.nc, cfg) // backoff base 50 ms: only Retry-After can make it wait seconds

	e.publish(ev(events.RestoreFailed, "users", nil))
	waitFor(t, 30*time.Second, "the retries", func() bool { return len(hook.ok2xx()) == 1 })
	reqs := hook.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (429, 503, 200)", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 2*time.Second {
		t.Errorf("retried after %s, before Retry-After: 2 on the 429", gap)
	}
	if reqs[2].At.Before(retryAt) {
		t.Errorf("retried at %s, before the 503's Retry-After date %s", reqs[2].At.UTC(), retryAt.UTC())
	}
}

func TestGiveUpPublishesNotificationFailed(t *testing.T) {
	e := newEnv(t)
	bad, good := newSink(t), newSink(t)
	bad.setPolicy(func(int, http.ResponseWriter) int { return http.StatusInternalServerError })
	cfg := testConfig("notifier")
	cfg.Webhooks = []string{bad.URL(), good.URL()}
	cfg.GiveUp = 700 * time.Millisecond
	runNotifier(t, e.nc, cfg)

	x := ev(events.BackupFailed, "users", nil)
	e.publish(x)
	waitFor(t, 20*time.Second, "the give-up and the ack", func() bool {
		return e.drained("notifier") && len(e.streamEvents(events.NotificationFailed)) == 1
	})
	f := e.streamEvents(events.NotificationFailed)[0]
	if f.Node != "notifier" || f.Table != "users" || f.Data["event_id"] != x.ID || !strings.Contains(f.Data["sink"].(string), bad.srv.URL) || !strings.Contains(f.Data["error"].(string), "500") {
		t.Errorf("notification.failed = %+v", f)
	}
	if f.Trigger != events.TriggerAuto || f.Result != events.ResultFailed || f.Attempt < 2 {
		t.Errorf("notification.failed envelope: trigger %q result %q attempt %d, want auto, failed, the attempts made (>= 2)", f.Trigger, f.Result, f.Attempt)
	}
	if len(bad.requests()) < 2 {
		t.Errorf("bad sink tried %d times, want retries before giving up", len(bad.requests()))
	}
	if len(good.ok2xx()) != 1 {
		t.Errorf("good sink got %d deliveries, want 1", len(good.ok2xx()))
	}
	// notification.failed itself never notifies: nothing more arrives.
	time.Sleep(500 * time.Millisecond)
	if len(good.requests()) != 1 {
		t.Errorf("good sink got %d requests after the give-up, want 1", len(good.requests()))
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
