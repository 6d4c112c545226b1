package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// TestProgressOfARunningOperation: while a backup runs (held after its copy),
// Status shows the running command and the figures tables reported, and the
// periodic table.stats events carry them; once it is done, neither does.
func TestProgressOfARunningOperation(t *testing.T) {
	g := newGate(tables.FPBackupAfterCopy)
	pol := quiet()
	pol.StatsEvery = 5 * time.Millisecond
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{Defaults: pol}})
	defer g.open()
	fill(t, h.open("users"), 300, 1)
	tk := h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)

	st, err := h.sup.Status(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	if st.Running != events.VerbBackup || st.CommandID != tk.ID() || st.State != StateBackingUp {
		t.Errorf("status while the backup runs: %+v", st)
	}
	if p := st.Progress; p == nil || p.Unit != "records" || p.Done != 300 || p.Total != 300 {
		t.Errorf("progress after the copy: %+v, want 300 of 300 records", p)
	}

	h.rec.waitFor(t, "table.stats with progress", func([]events.Event) bool {
		for _, e := range h.rec.of("users", events.TableStats) {
			if e.Data["progress_done"] != nil {
				return true
			}
		}
		return false
	})
	for _, e := range h.rec.of("users", events.TableStats) {
		if e.Data["progress_done"] == nil {
			continue
		}
		if e.Data["running"] != events.VerbBackup || e.Data["running_command_id"] != tk.ID() ||
			e.Data["progress_done"] != int64(300) || e.Data["progress_total"] != int64(300) || e.Data["progress_unit"] != "records" {
			t.Errorf("table.stats progress: %v", e.Data)
		}
		break
	}

	g.open()
	if e := h.wait(tk); e.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", e.Type, e.Error)
	}
	st, _ = h.sup.Status(context.Background(), "users")
	if st.Running != "" || st.Progress != nil {
		t.Errorf("status after the backup: running %q progress %+v", st.Running, st.Progress)
	}
	n := len(h.rec.of("users", events.TableStats))
	h.rec.waitType(t, "users", events.TableStats, n+2)
	last := h.rec.of("users", events.TableStats)
	if e := last[len(last)-1]; e.Data["running"] != nil || e.Data["progress_done"] != nil {
		t.Errorf("table.stats after the backup still reports it: %v", e.Data)
	}
}

// progressEvent waits for a table.stats of table reporting progress of
// command id and returns it.
func progressEvent(t *testing.T, h *harness, table, id string) events.Event {
	t.Helper()
	var got events.Event
	h.rec.waitFor(t, "a progress event of "+short(id), func([]events.Event) bool {
		for _, e := range h.rec.of(table, events.TableStats) {
			if e.CommandID == id && e.Data["progress_done"] != nil {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// TestProgressEventsAsTablesReports: with the stats schedule off, a long
// operation still reports its progress as events as soon as tables hands
// figures over: a backup after its copy (records), a restore after copying
// the backup (bytes; no size figures while the table is being replaced).
func TestProgressEventsAsTablesReports(t *testing.T) {
	gates := map[string]*gate{
		tables.FPBackupAfterCopy:  newGate(tables.FPBackupAfterCopy),
		tables.FPRestoreAfterCopy: newGate(tables.FPRestoreAfterCopy),
	}
	h := start(t, harnessOpt{failpoint: func(name string) {
		if g := gates[name]; g != nil {
			g.failpoint(name)
		}
	}})
	for _, g := range gates {
		defer g.open()
	}
	fill(t, h.open("users"), 300, 1)

	b := h.submit("users", events.VerbBackup, events.CommandBody{})
	gates[tables.FPBackupAfterCopy].await(t, 1)
	e := progressEvent(t, h, "users", b.ID())
	if e.Data["running"] != events.VerbBackup || e.Data["progress_done"] != int64(300) || e.Data["progress_unit"] != "records" ||
		e.Trigger != events.TriggerManual || e.Data["bytes"] == nil {
		t.Errorf("backup progress: trigger %s data %v", e.Trigger, e.Data)
	}
	gates[tables.FPBackupAfterCopy].open()
	if o := h.wait(b); o.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", o.Type, o.Error)
	}

	r := h.submit("users", events.VerbRestore, events.CommandBody{})
	gates[tables.FPRestoreAfterCopy].await(t, 1)
	e = progressEvent(t, h, "users", r.ID())
	if e.Data["running"] != events.VerbRestore || e.Data["progress_unit"] != "bytes" || e.Data["progress_done"] == int64(0) {
		t.Errorf("restore progress: %v", e.Data)
	}
	if e.Data["records"] != nil || e.Data["bytes"] != nil {
		t.Errorf("restore progress carries the size of the table being replaced: %v", e.Data)
	}
	gates[tables.FPRestoreAfterCopy].open()
	if o := h.wait(r); o.Type != events.RestoreCompleted {
		t.Fatalf("restore: %s (%s)", o.Type, o.Error)
	}
}
