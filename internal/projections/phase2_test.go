package projections

import (
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// The card keeps the last drill (ok or failed) and "recoverable to" from
// the last drill.completed, which a later failed drill does not erase; a
// drill never changes the table's state.
func TestCardDrill(t *testing.T) {
	s := NewState(Options{})
	to := baseTime.Add(-90 * time.Second)
	applyAll(s, []events.Event{
		ev(0, events.TableStats, "users", data("bytes", 100.0)),
		ev(1, events.DrillStarted, "users"),
		ev(2, events.DrillCompleted, "users", result("ok", 1200), data("backup_id", "b-7", "journal_records", 42.0,
			"records", 1000.0, "digest", "abcd", "recovered_to", to.Format(time.RFC3339Nano))),
	})
	c := card(t, s, "n1", "users")
	if c.State != StateOK {
		t.Errorf("state %s during or after a drill, want ok", c.State)
	}
	d := c.LastDrill
	if d == nil || d.Result != "ok" || d.BackupID != "b-7" || d.JournalRecords != 42 || d.Records != 1000 || d.Digest != "abcd" ||
		!d.RecoveredTo.Equal(to) || d.DurationMS != 1200 || !d.Time.Equal(baseTime.Add(2*time.Second)) {
		t.Fatalf("last drill %+v", d)
	}
	if !c.RecoverableTo.Equal(to) {
		t.Fatalf("recoverable to %v, want %v", c.RecoverableTo, to)
	}
	s.Apply(4, ev(3, events.DrillFailed, "users", failed("digest mismatch"), data("reason", "digest mismatch", "final", true)))
	c = card(t, s, "n1", "users")
	if c.LastDrill == nil || c.LastDrill.Result != "failed" || c.LastDrill.Error != "digest mismatch" || !c.RecoverableTo.Equal(to) || c.State != StateOK {
		t.Fatalf("after a failed drill: last %+v, recoverable to %v, state %s", c.LastDrill, c.RecoverableTo, c.State)
	}
	// The duration histogram counts drills as the other work.
	if h := s.durations[durationKey{Operation: "drill", Result: "ok"}]; h == nil || h.count != 1 {
		t.Errorf("drill durations: %+v", h)
	}
}

// A restore's journal figures, lost writes and point in time are on the
// card's last restore.
func TestCardRestoreLostAndAt(t *testing.T) {
	s := NewState(Options{})
	to := baseTime.Add(-time.Minute)
	at := baseTime.Add(-time.Hour)
	applyAll(s, []events.Event{
		ev(0, events.RestoreStarted, "users"),
		ev(1, events.RestoreCompleted, "users", result("ok", 300), trigger(events.TriggerAuto), data("backup_id", "b-1", "records", 10.0,
			"journal_records", 7.0, "recovered_to", to.Format(time.RFC3339Nano), "lost", true,
			"lost_reason", "journal/users/000003.jnl: checksum mismatch at offset 4096", "quarantine", "quarantine/users/x")),
	})
	r := card(t, s, "n1", "users").LastRestore
	if r == nil || !r.Lost || r.LostReason != "journal/users/000003.jnl: checksum mismatch at offset 4096" || r.JournalRecords != 7 ||
		!r.RecoveredTo.Equal(to) || r.Quarantine != "quarantine/users/x" || !r.At.IsZero() {
		t.Fatalf("restore %+v", r)
	}
	s.Apply(3, ev(2, events.RestoreCompleted, "users", result("ok", 300), trigger(events.TriggerManual), data("at", at.Format(time.RFC3339), "journal_records", 0.0)))
	r = card(t, s, "n1", "users").LastRestore
	if r.Lost || r.LostReason != "" || !r.At.Equal(at) || !r.RecoveredTo.IsZero() {
		t.Fatalf("point-in-time restore %+v", r)
	}
}

// The critical badge follows the periodic table.stats (a policy changed
// back drops it), not progress reports; table.degraded says what the
// node does.
func TestCardCritical(t *testing.T) {
	s := NewState(Options{})
	applyAll(s, []events.Event{
		ev(0, events.TableStats, "users", data("bytes", 100.0, "critical", true)),
		ev(1, events.TableStats, "users", data("running", "backup", "progress_done", 1.0, "progress_total", 2.0)),
	})
	if c := card(t, s, "n1", "users"); !c.Critical {
		t.Fatal("a critical table's card is not critical (or a progress report dropped it)")
	}
	s.Apply(3, ev(2, events.TableStats, "users", data("bytes", 100.0)))
	if c := card(t, s, "n1", "users"); c.Critical {
		t.Fatal("still critical after the periodic figures dropped the field")
	}
	s.Apply(4, ev(3, events.TableDegraded, "users", data("reason", "no good backup", "critical", true, "on_unrecoverable", "stop")))
	if c := card(t, s, "n1", "users"); !c.Critical || c.OnUnrecoverable != "stop" || c.State != StateDegraded {
		t.Fatalf("degraded critical card %+v", c)
	}
	if c := card(t, s, "n1", "users"); c.LastDrill != nil || !c.RecoverableTo.IsZero() {
		t.Fatalf("drill figures without a drill: %+v %v", c.LastDrill, c.RecoverableTo)
	}
}

// Drill events are rows of the history log as the other work is, and
// "drill" filters them as a family.
func TestHistoryListsDrills(t *testing.T) {
	s := NewState(Options{})
	applyAll(s, []events.Event{
		ev(0, events.DrillStarted, "users"),
		ev(1, events.CompactionCompleted, "users", result("ok", 5)),
		ev(2, events.DrillCompleted, "users", result("ok", 800)),
		ev(3, events.DrillFailed, "orders", failed("backup damaged")),
	})
	rows := s.History(Filter{Type: "drill"})
	if len(rows) != 3 || rows[0].Type != events.DrillFailed || rows[1].DurationMS != 800 || rows[2].Type != events.DrillStarted {
		t.Fatalf("drill rows %+v", rows)
	}
	if rows := s.History(Filter{Type: "drill", Result: "failed"}); len(rows) != 1 || rows[0].Table != "orders" {
		t.Fatalf("failed drills %+v", rows)
	}
	if !KnownTypePrefix("drill") {
		t.Fatal("drill is no known family for exclude=")
	}
}
