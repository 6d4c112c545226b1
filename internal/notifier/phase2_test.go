package notifier

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestNotifiesPhase2Rules(t *testing.T) {
	data := func(kv ...any) func(*events.Event) {
		return func(e *events.Event) {
			e.Data = map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				e.Data[kv[i].(string)] = kv[i+1]
			}
		}
	}
	cases := []struct {
		name     string
		e        events.Event
		severity string
	}{
		{"final drill.failed", ev(events.DrillFailed, "t", data("reason", "digest mismatch", "final", true)), SeverityHigh},
		{"drill.failed without final", ev(events.DrillFailed, "t", data("reason", "digest mismatch")), SeverityHigh},
		{"drill.failed, another attempt follows", ev(events.DrillFailed, "t", data("reason", "busy", "final", false)), ""},
		{"final offsite.failed", ev(events.OffsiteFailed, "t", data("reason", "nats: timeout", "final", true)), SeverityHigh},
		{"offsite.failed, another attempt follows", ev(events.OffsiteFailed, "t", data("reason", "nats: timeout", "final", false)), ""},
		{"drill.completed", ev(events.DrillCompleted, "t", nil), ""},
		{"drill.started", ev(events.DrillStarted, "t", nil), ""},
		{"manual restore that lost writes", ev(events.RestoreCompleted, "t", func(e *events.Event) {
			e.Trigger = events.TriggerManual
			e.Data = map[string]any{"lost": true, "lost_reason": "x"}
		}), SeverityHigh},
		{"automatic restore that lost writes", ev(events.RestoreCompleted, "t", func(e *events.Event) {
			e.Trigger = events.TriggerAuto
			e.Data = map[string]any{"lost": true}
		}), SeverityHigh},
		{"startup restore that lost writes", ev(events.RestoreCompleted, "t", func(e *events.Event) {
			e.Trigger = events.TriggerStartup
			e.Data = map[string]any{"lost": true}
		}), SeverityHigh},
		{"manual restore to a time, nothing lost", ev(events.RestoreCompleted, "t", func(e *events.Event) {
			e.Trigger = events.TriggerManual
			e.Data = map[string]any{"lost": false, "at": "2026-11-26T10:00:00Z"}
		}), ""},
		{"automatic restore, nothing lost", ev(events.RestoreCompleted, "t", func(e *events.Event) {
			e.Trigger = events.TriggerAuto
			e.Data = map[string]any{"lost": false}
		}), SeverityWarning},
		{"critical table degraded", ev(events.TableDegraded, "t", data("critical", true, "on_unrecoverable", "stop")), SeverityCritical},
	}
	for _, c := range cases {
		sev, ok := Notifies(c.e)
		if ok != (c.severity != "") || sev != c.severity {
			t.Errorf("%s: got (%q, %v), want %q", c.name, sev, ok, c.severity)
		}
	}
}

func TestPhase2Messages(t *testing.T) {
	// A final drill.failed says to look at the backups and names the
	// commands.
	drill := ev(events.DrillFailed, "users", func(e *events.Event) {
		e.Error = "backup b-7 plus journal: digest 12ab, live table 34cd"
		e.Data = map[string]any{"reason": "digest mismatch", "backup_id": "b-7", "final": true}
	})
	n := render("custodian", drill, SeverityHigh)
	for _, s := range []string{
		"drill", "users", "n1", "b-7", "A backup that cannot restore is an incident", "Look at the table's backups",
		"nats req custodian.cmd.users.status ''", `nats req custodian.cmd.users.backup '{"wait":true}'`,
		`nats req custodian.cmd.users.drill '{"wait":true}'`, `nats req custodian.cmd.users.verify '{"wait":true}'`,
		"supervisor journal --data <data dir> users", "digest 12ab",
	} {
		if !strings.Contains(n.Message+n.Title, s) {
			t.Errorf("drill.failed message lacks %q:\n%s\n%s", s, n.Title, n.Message)
		}
	}
	if !strings.HasPrefix(n.Title, "HIGH: restore drill of table users on node n1 failed") {
		t.Errorf("drill.failed title %q", n.Title)
	}

	// A restore that lost writes says so plainly, where and up to when.
	lost := ev(events.RestoreCompleted, "orders", func(e *events.Event) {
		e.Trigger = events.TriggerManual
		e.Data = map[string]any{
			"backup_id": "b-3", "journal_records": float64(1234), "recovered_to": "2026-11-26T09:58:30.5Z", "lost": true,
			"lost_reason": "journal/orders/000004.jnl: checksum mismatch at offset 8192", "quarantine": "quarantine/orders/20261126T100000Z",
			"backup_age_ms": float64(3600000),
		}
	})
	n = render("custodian", lost, SeverityHigh)
	for _, s := range []string{
		"ACKNOWLEDGED WRITES WERE LOST", "journal/orders/000004.jnl: checksum mismatch at offset 8192",
		"recovered up to the write of 2026-11-26T09:58:30.5Z", "1234 journal writes replayed", "b-3", "quarantine/orders/20261126T100000Z",
		"by a manual restore", "supervisor journal --data <data dir> orders", `nats req custodian.cmd.orders.verify '{"wait":true}'`,
		"every acknowledged write after the recovered-to time",
	} {
		if !strings.Contains(n.Message, s) {
			t.Errorf("lost-writes message lacks %q:\n%s", s, n.Message)
		}
	}
	if n.Title != "HIGH: table orders on node n1 was restored but acknowledged writes were LOST" {
		t.Errorf("lost-writes title %q", n.Title)
	}
	if strings.Contains(n.Message, "..") {
		t.Errorf("a doubled period:\n%s", n.Message)
	}
	// Lost with nothing replayed: recovered to the backup alone.
	bare := ev(events.RestoreCompleted, "orders", func(e *events.Event) {
		e.Trigger = events.TriggerAuto
		e.Data = map[string]any{"lost": true, "lost_reason": "journal/orders/000001.jnl: bad header at offset 0", "journal_records": float64(0)}
	})
	if n := render("custodian", bare, SeverityHigh); !strings.Contains(n.Message, "the backup alone") || !strings.Contains(n.Message, "restored automatically") {
		t.Errorf("lost, nothing replayed:\n%s", n.Message)
	}
	// An automatic restore with the journal and nothing lost: no loss
	// window from the backup's age.
	whole := ev(events.RestoreCompleted, "orders", func(e *events.Event) {
		e.Trigger = events.TriggerAuto
		e.Data = map[string]any{"lost": false, "journal_records": float64(5), "recovered_to": "2026-11-26T09:58:30Z", "backup_age_ms": float64(3600000)}
	})
	if n := render("custodian", whole, SeverityWarning); !strings.Contains(n.Message, "none: the journal brought back every acknowledged write") || strings.Contains(n.Message, "NOT in the restored table") {
		t.Errorf("whole restore:\n%s", n.Message)
	}

	// A critical table degraded: CRITICAL in the title; with stop, the
	// whole node stopped serving data.
	for _, c := range []struct {
		policy   string
		title    string
		want     []string
		notTitle string
	}{
		{"stop", "CRITICAL: CRITICAL table orders on node n1 is DEGRADED: the whole node n1 STOPPED serving data",
			[]string{"WHOLE NODE n1 STOPPED SERVING DATA", "every table of the node answers", "across restarts", "nats req custodian.cmd.orders.salvage ''"}, ""},
		{"degrade", "CRITICAL: CRITICAL table orders on node n1 is DEGRADED and unavailable: node n1 reports itself failing",
			[]string{"CRITICAL table", "other tables keep serving"}, "STOPPED"},
	} {
		e := ev(events.TableDegraded, "orders", func(e *events.Event) {
			e.Data = map[string]any{"reason": "no good backup", "critical": true, "on_unrecoverable": c.policy}
		})
		n := render("custodian", e, SeverityCritical)
		if n.Title != c.title {
			t.Errorf("%s: title %q, want %q", c.policy, n.Title, c.title)
		}
		for _, s := range c.want {
			if !strings.Contains(n.Message, s) {
				t.Errorf("%s: message lacks %q:\n%s", c.policy, s, n.Message)
			}
		}
		if c.notTitle != "" && strings.Contains(n.Message+n.Title, c.notTitle) {
			t.Errorf("%s: says %q:\n%s", c.policy, c.notTitle, n.Message)
		}
	}
	plain := render("custodian", ev(events.TableDegraded, "orders", nil), SeverityCritical)
	if strings.Contains(plain.Title, "CRITICAL table") || strings.Contains(plain.Message, "STOPPED") {
		t.Errorf("a table that is not critical: %s\n%s", plain.Title, plain.Message)
	}

	// In a digest, each kind is its own line with its next step.
	d := renderDigest("custodian", []Notification{
		render("custodian", drill, SeverityHigh), render("custodian", lost, SeverityHigh), render("custodian", whole, SeverityWarning),
	}, 30*time.Second)
	for _, s := range []string{"restore drill failed (high) on node n1: 1 table", "restored, acknowledged writes LOST (high) on node n1: 1 table",
		"restored automatically from a backup (warning) on node n1: 1 table", "nats req custodian.cmd.<table>.drill"} {
		if !strings.Contains(d.Message, s) {
			t.Errorf("digest lacks %q:\n%s", s, d.Message)
		}
	}
}

// Through a real stream: a final drill.failed and a manual restore that
// lost writes reach the sink; a drill.failed that is retried and a manual
// restore that lost nothing do not. A consumer an older notifier created
// (without drill.failed in its filters) gets its filters updated.
func TestDrillFailedAndLostWritesAreSent(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var old []string
	for _, typ := range []string{events.CompactionFailed, events.BackupFailed, events.VerifyFailed, events.RestoreFailed, events.RestoreCompleted, events.TableDegraded} {
		old = append(old, events.TypeFilter(testPrefix, typ))
	}
	cfg := testConfig("notifier")
	start := time.Now().Add(-time.Hour)
	if _, err := e.js.CreateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{
		Durable: cfg.Name, FilterSubjects: old, AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
	}); err != nil {
		t.Fatal(err)
	}

	hook := newSink(t)
	cfg.Webhooks = []string{hook.URL()}
	runNotifier(t, e.nc, cfg)

	retried := ev(events.DrillFailed, "users", func(e *events.Event) { e.Data = map[string]any{"final": false, "reason": "busy"} })
	final := ev(events.DrillFailed, "users", func(e *events.Event) {
		e.Error = "digest mismatch"
		e.Data = map[string]any{"final": true, "backup_id": "b-7", "reason": "digest mismatch"}
	})
	kept := ev(events.RestoreCompleted, "orders", func(e *events.Event) {
		e.Trigger = events.TriggerManual
		e.Data = map[string]any{"lost": false, "journal_records": float64(3)}
	})
	lost := ev(events.RestoreCompleted, "orders", func(e *events.Event) {
		e.Trigger = events.TriggerManual
		e.Data = map[string]any{"lost": true, "lost_reason": "journal/orders/000004.jnl: checksum mismatch at offset 8192", "recovered_to": "2026-11-26T09:58:30Z"}
	})
	for _, x := range []events.Event{retried, final, kept, lost} {
		e.publish(x)
	}
	waitFor(t, 30*time.Second, "both notifications at the sink and the consumer drained", func() bool {
		return len(hook.requests()) >= 2 && e.drained(cfg.Name)
	})
	got := webhookIDs(t, hook.requests())
	if len(got) != 2 || got[final.ID] != 1 || got[lost.ID] != 1 {
		t.Fatalf("webhook got %v, want %s (final drill.failed) and %s (lost writes) once each", got, final.ID, lost.ID)
	}
	for _, r := range hook.requests() {
		var b WebhookBody
		mustJSON(t, r.Body, &b)
		if b.Event.ID == lost.ID && !strings.Contains(b.Message, "journal/orders/000004.jnl: checksum mismatch at offset 8192") {
			t.Errorf("lost-writes message:\n%s", b.Message)
		}
	}
	c, err := e.js.Consumer(ctx, events.StreamName, cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.CachedInfo().Config.FilterSubjects, " "), events.DrillFailed) {
		t.Errorf("consumer filters %v lack drill.failed", c.CachedInfo().Config.FilterSubjects)
	}
}
