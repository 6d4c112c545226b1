package projections

import (
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// The card's off-site state: the last copy from the last backup.completed
// that has offsite_bytes (one without it, off-site off or the copy
// failed, changes nothing), an offsite.failed kept until a later copy, the
// journal lag and shipping error from periodic table.stats only, and
// nothing at all for a table whose events never spoke of off-site copies.
func TestCardOffsite(t *testing.T) {
	s := NewState(Options{})
	applyAll(s, []events.Event{
		ev(0, events.TableStats, "plain", data("bytes", 10.0)),
		ev(1, events.BackupCompleted, "plain", result("ok", 5), data("backup_id", "p-1", "bytes", 10.0)),
		ev(2, events.BackupCompleted, "users", result("ok", 50), data("backup_id", "b-1", "bytes", 4000.0, "offsite_bytes", 4100.0, "offsite_reused_bytes", 0.0)),
		ev(3, events.TableStats, "users", data("bytes", 4000.0, "journal_lag_ms", 300.0)),
		ev(4, events.BackupCompleted, "users", result("ok", 50), data("backup_id", "b-2", "bytes", 4200.0, "offsite_bytes", 700.0, "offsite_reused_bytes", 3500.0)),
		ev(5, events.BackupCompleted, "users", result("ok", 50), data("backup_id", "b-3", "bytes", 4300.0)),
		ev(6, events.OffsiteFailed, "users", failed("nats: timeout"), data("backup_id", "b-3", "reason", "nats: timeout", "tries", 3.0, "final", true)),
		// A progress report has no lag: it changes nothing.
		ev(7, events.TableStats, "users", data("running", "backup", "progress_done", 1.0, "progress_total", 2.0)),
	})
	if c := card(t, s, "n1", "plain"); c.Offsite != nil {
		t.Fatalf("a table without off-site copies has an off-site state %+v", c.Offsite)
	}
	c := card(t, s, "n1", "users")
	o := c.Offsite
	if o == nil || o.LastCopy == nil {
		t.Fatalf("no off-site state: %+v", o)
	}
	if lc := o.LastCopy; lc.BackupID != "b-2" || lc.Bytes != 700 || lc.ReusedBytes != 3500 || !lc.Time.Equal(baseTime.Add(4e9)) || lc.Seq != 5 {
		t.Fatalf("last copy %+v, want b-2 700 bytes stored, 3500 reused at seq 5", lc)
	}
	if f := o.LastFailure; f == nil || f.Result != "failed" || f.BackupID != "b-3" || f.Error != "nats: timeout" {
		t.Fatalf("last failure %+v", f)
	}
	if o.JournalLagMS == nil || *o.JournalLagMS != 300 || o.Error != "" || !o.StatsTime.Equal(baseTime.Add(3e9)) {
		t.Fatalf("lag %v, error %q, stats time %v", o.JournalLagMS, o.Error, o.StatsTime)
	}
	if c.State != StateOK {
		t.Fatalf("state %s: an off-site failure is no failure of the table", c.State)
	}
	// A card handed out is a copy: what comes later does not change it.
	seq := uint64(100)
	applyAll2 := func(evs ...events.Event) {
		for _, e := range evs {
			seq++
			s.Apply(seq, e)
		}
	}
	applyAll2(
		ev(8, events.TableStats, "users", data("bytes", 4300.0, "journal_lag_ms", 2500.0, "offsite_error", "nats: no responders")),
		ev(9, events.BackupCompleted, "users", result("ok", 50), data("backup_id", "b-4", "bytes", 4400.0, "offsite_bytes", 900.0, "offsite_reused_bytes", 3500.0)),
	)
	if *o.JournalLagMS != 300 || o.LastCopy.BackupID != "b-2" || o.LastFailure == nil {
		t.Fatal("the card handed out earlier changed: clone shares the off-site state")
	}
	o = card(t, s, "n1", "users").Offsite
	if *o.JournalLagMS != 2500 || o.Error != "nats: no responders" || o.LastCopy.BackupID != "b-4" || o.LastFailure != nil {
		t.Fatalf("after a lagging stats and a new copy: %+v (lag %d)", o, *o.JournalLagMS)
	}
	// Shipping works again: the error goes; off-site turned off: the lag goes.
	applyAll2(ev(10, events.TableStats, "users", data("bytes", 4300.0, "journal_lag_ms", 0.0)))
	if o = card(t, s, "n1", "users").Offsite; *o.JournalLagMS != 0 || o.Error != "" {
		t.Fatalf("caught up: lag %d, error %q", *o.JournalLagMS, o.Error)
	}
	applyAll2(ev(11, events.TableStats, "users", data("bytes", 4300.0)))
	if o = card(t, s, "n1", "users").Offsite; o.JournalLagMS != nil || o.LastCopy == nil {
		t.Fatalf("off-site off: lag %v, last copy %+v (kept)", o.JournalLagMS, o.LastCopy)
	}
}

// offsite.failed is a failure row of the history, found by result failed
// and by the family "offsite".
func TestHistoryListsOffsiteFailed(t *testing.T) {
	s := NewState(Options{})
	applyAll(s, []events.Event{
		ev(0, events.BackupCompleted, "users", result("ok", 50), data("backup_id", "b-3")),
		ev(1, events.OffsiteFailed, "users", failed("nats: timeout"), data("backup_id", "b-3", "final", true)),
	})
	rows := s.History(Filter{Result: "failed"})
	if len(rows) != 1 || rows[0].Type != events.OffsiteFailed {
		t.Fatalf("failed rows %+v", rows)
	}
	if rows := s.History(Filter{Type: "offsite"}); len(rows) != 1 || !KnownTypePrefix("offsite") {
		t.Fatalf("offsite rows %+v", rows)
	}
}
