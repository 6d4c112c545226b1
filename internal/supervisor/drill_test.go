package supervisor

import (
	"path/filepath"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestDrillCompletesThenFailsOnADamagedBackup: drill.started and
// drill.completed (backup, journal records, records and digest of the
// live table) for a healthy table with writes after its backup; after a
// byte of the backup's table file is flipped on disk, a final drill.failed
// naming the backup, and the table still serves.
func TestDrillCompletesThenFailsOnADamagedBackup(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 200, 1)
	b := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	if b.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", b.Type, b.Error)
	}
	fill(t, tb, 50, 2)
	e := h.wait(h.submit("users", events.VerbDrill, events.CommandBody{}))
	if e.Type != events.DrillCompleted || e.Result != events.ResultOK {
		t.Fatalf("drill: %s (%s)", e.Type, e.Error)
	}
	v := h.wait(h.submit("users", events.VerbVerify, events.CommandBody{}))
	if e.Data["backup_id"] != b.Data["backup_id"] || e.Data["journal_records"] != int64(50) ||
		e.Data["records"] != v.Data["records"] || e.Data["digest"] != v.Data["digest"] || e.Data["recovered_to"] == nil {
		t.Fatalf("drill.completed %v, verify %v", e.Data, v.Data)
	}
	if n := len(h.rec.of("users", events.DrillStarted)); n != 1 {
		t.Fatalf("%d drill.started, want 1", n)
	}

	flip(t, dataFile(t, filepath.Join(h.root, "backups", "users", b.Data["backup_id"].(string))), 200)
	f := h.wait(h.submit("users", events.VerbDrill, events.CommandBody{}))
	if f.Type != events.DrillFailed || f.Result != events.ResultFailed || f.Data["final"] != true || f.Error == "" || f.Data["backup_id"] != b.Data["backup_id"] {
		t.Fatalf("drill of a damaged backup: %s %v (%s)", f.Type, f.Data, f.Error)
	}
	if ok, why := tb.Available(); !ok {
		t.Fatalf("the table stopped serving after a failed drill: %s", why)
	}
	if n := len(h.rec.of("users", events.CorruptionDetected)); n != 0 {
		t.Fatalf("a damaged backup was taken for the table's corruption")
	}
}
