package supervisor

import (
	"context"
	"fmt"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/disktest"
	"github.com/custodian-dev/custodian/internal/events"
)

// TestFullDiskIsReportedSkippedAndHealed: on a real 24 MiB tmpfs filled to
// the last byte, a write answers no_space and the supervisor records that
// the table's writes fail (table.stats writes "failing", writes_code
// no_space); a forced compaction is skipped and a backup refused, each
// with the reason, instead of failing; once space is freed the supervisor
// heals the table by itself (no write needed: table.stats writes "ok"),
// writes work, and nothing was handled as corruption.
func TestFullDiskIsReportedSkippedAndHealed(t *testing.T) {
	disk := disktest.Small(t, 24<<20)
	h := start(t, harnessOpt{root: disk})
	tb := h.open("users")
	fill(t, tb, 50, 1)
	filler := disktest.Fill(t, disk)
	ctx := context.Background()
	var refused error
	for i := 0; i < 10_000 && refused == nil; i++ {
		refused = tb.Put(ctx, fmt.Sprintf("b%06d", i), []byte(fmt.Sprintf(`"%02600d"`, i)))
	}
	if apierr.CodeOf(refused) != apierr.NoSpace {
		t.Fatalf("write on a full disk: %v, want no_space", refused)
	}
	h.rec.waitFor(t, "table.stats writes failing", func(evs []events.Event) bool {
		for _, e := range evs {
			if e.Type == events.TableStats && e.Data["writes"] == "failing" && e.Data["writes_code"] == "no_space" {
				return true
			}
		}
		return false
	})

	e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "rewrite"}))
	if e.Type != events.CompactionSkipped || e.Data["reason_code"] != "no_space" {
		t.Fatalf("compaction on a full disk: %s %v, want compaction.skipped reason_code no_space", e.Type, e.Data)
	}
	e = h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	if e.Type != events.BackupFailed || e.Data["reason_code"] != "no_space" || e.Data["final"] != true {
		t.Fatalf("backup on a full disk: %s %v, want a final backup.failed reason_code no_space", e.Type, e.Data)
	}
	if n := len(h.rec.of("users", events.BackupStarted)); n != 0 {
		t.Fatalf("the refused backup started (%d backup.started)", n)
	}

	disktest.Unfill(t, filler)
	h.rec.waitFor(t, "table.stats writes ok after space came back", func(evs []events.Event) bool {
		for _, e := range evs {
			if e.Type == events.TableStats && e.Data["writes"] == "ok" && e.Trigger == events.TriggerAuto {
				return true
			}
		}
		return false
	})
	if err := tb.Put(ctx, "after", []byte(`true`)); err != nil {
		t.Fatalf("write after the heal: %v", err)
	}
	if bad := h.rec.of("users", events.CorruptionDetected, events.RestoreStarted, events.TableDegraded); len(bad) != 0 {
		t.Fatalf("a full disk was handled as corruption:\n%s", dump(bad))
	}
	if e := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{})); e.Type != events.BackupCompleted {
		t.Fatalf("backup after the heal: %s %s", e.Type, e.Error)
	}
}
