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
