package notifier

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestNotifiesRules(t *testing.T) {
	auto := func(e *events.Event) { e.Trigger = events.TriggerAuto }
	cases := []struct {
		e        events.Event
		severity string // "" = silent
	}{
		{ev(events.TableDegraded, "t", nil), SeverityCritical},
		{ev(events.CompactionFailed, "t", func(e *events.Event) { e.Attempt = 1 }), ""},
		{ev(events.CompactionFailed, "t", func(e *events.Event) { e.Attempt = 2 }), SeverityHigh},
		// A first failure whose retry a shutdown cut is final.
		{ev(events.CompactionFailed, "t", func(e *events.Event) {
			e.Attempt, e.Data = 1, map[string]any{"final": true, "retry": "abandoned: shutdown"}
		}), SeverityHigh},
		{ev(events.BackupFailed, "t", nil), SeverityHigh},
		{ev(events.VerifyFailed, "t", nil), SeverityHigh},
		{ev(events.RestoreFailed, "t", nil), SeverityHigh},
		{ev(events.RestoreCompleted, "t", auto), SeverityWarning},
		{ev(events.RestoreCompleted, "t", func(e *events.Event) { e.Trigger = events.TriggerManual }), ""},
		{ev(events.NotificationFailed, "t", nil), ""},
		{ev(events.NotificationSent, "t", nil), ""},
	}
	for _, c := range cases {
		sev, ok := Notifies(c.e)
		if ok != (c.severity != "") || sev != c.severity {
			t.Errorf("%s attempt %d trigger %q: got (%q, %v), want %q", c.e.Type, c.e.Attempt, c.e.Trigger, sev, ok, c.severity)
		}
	}
	// Every other type is silent, whatever its trigger.
	loud := map[string]bool{}
	for _, typ := range notifyingTypes() {
		loud[typ] = true
	}
	for _, typ := range events.Types() {
		if loud[typ] {
			continue
		}
		for _, tr := range []string{"", events.TriggerAuto, events.TriggerManual} {
			e := ev(typ, "t", func(e *events.Event) { e.Trigger = tr; e.Attempt = 2 })
			if _, ok := Notifies(e); ok {
				t.Errorf("%s (trigger %q) notifies", typ, tr)
			}
		}
	}
	if loud[events.NotificationFailed] {
		t.Error("the consumer filter includes notification.failed: a notifier could page about itself forever")
	}
}

func TestMessagesReadWellAtNight(t *testing.T) {
	restored := ev(events.RestoreCompleted, "users", func(e *events.Event) {
		e.Trigger = events.TriggerAuto
		e.Data = map[string]any{"backup_id": "b-42", "backup_age_ms": float64(3723000), "quarantine": "/data/quarantine/users/2026-11-26T10:00:00Z"}
	})
	n := render("acme.custodian", restored, SeverityWarning)
	for _, s := range []string{"users", "n1", "b-42", "1h2m0s", "/data/quarantine/users/", "nats req acme.custodian.cmd.users.verify", "What to do next"} {
		if !strings.Contains(n.Message, s) {
			t.Errorf("restore message lacks %q:\n%s", s, n.Message)
		}
	}
	if !strings.HasPrefix(n.Title, "WARNING: ") {
		t.Errorf("title %q", n.Title)
	}

	degraded := ev(events.TableDegraded, "orders", func(e *events.Event) {
		e.Error = "table orders: restore: no good backup (2 tried): table degraded"
		e.Data = map[string]any{"reason": "no good backup (2 tried)", "tried": []any{"b-2", "b-1"}}
	})
	n = render("custodian", degraded, SeverityCritical)
	for _, s := range []string{"DEGRADED", "orders", "n1", "b-2, b-1", "nats req custodian.cmd.orders.salvage ''", "possibly every write"} {
		if !strings.Contains(n.Message+n.Title, s) {
			t.Errorf("degraded message lacks %q:\n%s", s, n.Message)
		}
	}

	// restore.failed: the suggested commands fit the situation.
	restoreCases := []struct {
		name      string
		data      map[string]any
		want, not []string
	}{
		{"one bad backup, the next is tried", map[string]any{"backup_id": "b-9", "final": true, "trying_next": true},
			[]string{"b-9", "trying the next older backup", "nats req custodian.cmd.orders.status ''"},
			[]string{"salvage"}},
		{"ended, the table keeps serving", map[string]any{"backup_id": "b-1", "final": true, "serving": true},
			[]string{"still serves its current data", "nats req custodian.cmd.orders.verify '{\"wait\":true}'",
				`nats req custodian.cmd.orders.restore '{"backup_id":"<id>","wait":true}'`,
				`nats req custodian.cmd.orders.salvage '{"force":true}'`, "REPLACES the table's current data", "newest quarantined copy"},
			[]string{"salvage ''"}},
		{"ended, the table does not serve", map[string]any{"backup_id": "b-1", "final": true},
			[]string{"does not serve", "nats req custodian.cmd.orders.salvage ''", `"backup_id":"<id>"`},
			[]string{`"force":true`, "trying the next"}},
		{"salvage failed", map[string]any{"method": "salvage", "final": true},
			[]string{"Salvaging the table orders", "nats req custodian.cmd.orders.restore"},
			[]string{"salvage ''", `"force":true`}},
	}
	for _, c := range restoreCases {
		e := ev(events.RestoreFailed, "orders", func(e *events.Event) { e.Error = "checksum mismatch"; e.Data = c.data })
		n := render("custodian", e, SeverityHigh)
		for _, s := range c.want {
			if !strings.Contains(n.Message, s) {
				t.Errorf("restore.failed (%s): message lacks %q:\n%s", c.name, s, n.Message)
			}
		}
		for _, s := range c.not {
			if strings.Contains(n.Message, s) {
				t.Errorf("restore.failed (%s): message has %q:\n%s", c.name, s, n.Message)
			}
		}
	}

	node := ev(events.BackupFailed, "", nil)
	n = render("custodian", node, SeverityHigh)
	if !strings.Contains(n.Message, "nats req custodian.node.n1.backup") || strings.Contains(n.Title, "table") {
		t.Errorf("node-level failure: %s\n%s", n.Title, n.Message)
	}
}

func TestBackoffDoublesToMax(t *testing.T) {
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		if got := backoff(time.Second, 5*time.Minute, i+1); got != w*time.Second {
			t.Errorf("attempt %d: %s, want %s", i+1, got, w*time.Second)
		}
	}
	if got := backoff(time.Second, 5*time.Minute, 1000); got != 5*time.Minute {
		t.Errorf("attempt 1000: %s", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":    0,
		"7":   7 * time.Second,
		"0":   0,
		"-3":  0,
		"abc": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("Retry-After %q: %s, want %s", in, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Webhooks: []string{"https://example.com/hook"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	bad := map[string]Config{
		"no sink":     {},
		"bad name":    {Name: "a.b", Webhooks: good.Webhooks},
		"bad url":     {Ntfys: []string{"ntfy.sh/topic"}},
		"bad prefix":  {Prefix: "a.>", Webhooks: good.Webhooks},
		"neg give-up": {GiveUp: -time.Second, Webhooks: good.Webhooks},
	}
	for name, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDigestOfAThousandFitsNtfy(t *testing.T) {
	var notes []Notification
	for i := range 1000 {
		e := ev(events.TableDegraded, fmt.Sprintf("table-%04d", i), func(e *events.Event) { e.Error = fmt.Sprintf("corrupted block %d", i%5) })
		notes = append(notes, render("custodian", e, SeverityCritical))
	}
	notes = append(notes, render("custodian", ev(events.BackupFailed, "x", nil), SeverityHigh))
	d := renderDigest("custodian", notes, 30*time.Second)
	if !d.Digest || len(d.Events) != 1001 || d.Severity != SeverityCritical {
		t.Fatalf("digest: %v %d %s", d.Digest, len(d.Events), d.Severity)
	}
	if !strings.Contains(d.Message, "1000 tables") || !strings.Contains(d.Message, "backup failed (high) on node n1: 1 table") {
		t.Errorf("digest message:\n%s", d.Message[:500])
	}
	if strings.Count(d.Message, "error (200)") != 3 {
		t.Errorf("want the three first distinct errors, 200 each:\n%s", d.Message[len(d.Message)-1500:])
	}
	body := clip(d.Message, ntfyMaxBody)
	if len(body) > ntfyMaxBody || !strings.HasSuffix(body, "webhook payload)\n") {
		t.Errorf("ntfy body %d bytes, ends %q", len(body), body[len(body)-60:])
	}
	if short := "one line\n"; clip(short, ntfyMaxBody) != short {
		t.Error("clip changed a short message")
	}
}

func TestForeignEventIDsAndTablesStayUsable(t *testing.T) {
	if k := ledgerKey("webhook-1", "01a2179a-5bef-7a4b-8fe9-4a10fdcb5dc2"); k != "webhook-1.01a2179a-5bef-7a4b-8fe9-4a10fdcb5dc2" {
		t.Errorf("uuid key %q", k)
	}
	k := ledgerKey("webhook-1", "a b.*>")
	if !strings.HasPrefix(k, "webhook-1.h-") || strings.ContainsAny(k[len("webhook-1."):], " .*>") {
		t.Errorf("foreign id key %q", k)
	}
	if ledgerKey("w", "a b") == ledgerKey("w", "a c") {
		t.Error("different ids share a key")
	}
	for in, want := range map[string]string{"users": "users", "": "_", "_": "_", "a.b": "_", "A B": "_"} {
		if got := subjectTable(in); got != want {
			t.Errorf("subjectTable(%q) = %q, want %q", in, got, want)
		}
	}
}
