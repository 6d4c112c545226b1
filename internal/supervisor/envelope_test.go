package supervisor

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestEveryEventCarriesTheEnvelope drives a table through every path
// (skip, compaction, backup and pruning, verify failure, detection,
// restore, rejection, degraded, salvage, stats) and checks that every event
// has the envelope the contract shows (trigger, attempt, result, error when
// failed, command_id for command work) and its type's figures.
func TestEveryEventCarriesTheEnvelope(t *testing.T) {
	root, _ := prepared(t, 300, 1)
	ldb := ldbFiles(t, filepath.Join(root, "tables", "users"))
	flip(t, ldb[len(ldb)-1], 20)

	pol := quiet()
	pol.Retention = 1
	pol.StatsEvery = 20 * time.Millisecond
	h := start(t, harnessOpt{root: root, cfg: Config{Defaults: pol}})
	tb := h.open("users")
	h.open("fresh")

	if v := h.wait(h.submit("users", events.VerbVerify, events.CommandBody{})); v.Type != events.VerifyFailed {
		t.Fatalf("verify of a flipped table: %s", v.Type)
	}
	h.rec.waitType(t, "users", events.RestoreCompleted, 1)
	if e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{})); e.Type != events.CompactionSkipped {
		t.Fatalf("unforced compaction: %s (%s)", e.Type, e.Error)
	}
	fill(t, tb, 300, 2)
	if e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "native"})); e.Type != events.CompactionCompleted {
		t.Fatalf("compaction: %s (%s)", e.Type, e.Error)
	}
	b := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	if b.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", b.Type, b.Error)
	}
	h.rec.waitType(t, "users", events.BackupPruned, 1)
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbCompact, Body: events.CommandBody{Mode: "sideways"}}); err == nil {
		t.Fatalf("a bad mode was accepted")
	}
	h.rec.waitType(t, "users", events.TableStats, 1)

	// Every backup bad: degraded; then salvage.
	flip(t, dataFile(t, filepath.Join(root, "backups", "users", b.Data["backup_id"].(string))), 200)
	corrupt := lerrors.NewErrCorrupted(storage.FileDesc{Type: storage.TypeTable, Num: 9}, errors.New("checksum mismatch"))
	h.sup.CorruptionHandler()("users", "get", corrupt)
	h.rec.waitType(t, "users", events.TableDegraded, 1)
	if e := h.wait(h.submit("users", events.VerbSalvage, events.CommandBody{})); e.Type != events.TableRecovered {
		t.Fatalf("salvage: %s (%s)", e.Type, e.Error)
	}
	h.stop()

	// The figures the contract and the issue ask of each event type.
	wantData := map[string][]string{
		events.CommandAccepted:     {"verb"},
		events.CommandRejected:     {"verb", "code", "reason"},
		events.CompactionStarted:   {"mode", "bytes_before", "records", "dead_ratio"},
		events.CompactionCompleted: {"mode", "bytes_before", "bytes_after", "records", "dead_ratio"},
		events.CompactionSkipped:   {"dead_ratio", "reason"},
		events.CompactionFailed:    {"reason"},
		events.BackupStarted:       {},
		events.BackupCompleted:     {"backup_id", "records", "bytes"},
		events.BackupFailed:        {"reason"},
		events.BackupPruned:        {"backup_id", "records", "bytes"},
		events.VerifyCompleted:     {"records", "bytes"},
		events.VerifyFailed:        {"reason"},
		events.CorruptionDetected:  {"op", "reason"},
		events.RestoreStarted:      {"reason"},
		events.RestoreCompleted:    {"records", "backup_id", "backup_age_ms", "reason"},
		events.RestoreFailed:       {"reason"},
		events.TableCreated:        {},
		events.TableStats:          {"bytes", "records", "dead_ratio"},
		events.TableDegraded:       {"reason"},
		events.TableRecovered:      {"records"},
	}
	seen := map[string]int{}
	triggers := []string{events.TriggerSchedule, events.TriggerManual, events.TriggerAuto, events.TriggerStartup}
	results := []string{events.ResultOK, events.ResultFailed, events.ResultSkipped}
	for _, e := range h.rec.all() {
		seen[e.Type]++
		if e.ID == "" || e.Node != "n1" || e.Time.IsZero() {
			t.Errorf("%s: id %q node %q time %v", e.Type, e.ID, e.Node, e.Time)
		}
		if !slices.Contains(triggers, e.Trigger) {
			t.Errorf("%s: trigger %q", e.Type, e.Trigger)
		}
		if e.Attempt < 1 {
			t.Errorf("%s: attempt %d", e.Type, e.Attempt)
		}
		if !slices.Contains(results, e.Result) {
			t.Errorf("%s: result %q", e.Type, e.Result)
		}
		if e.Result == events.ResultFailed && e.Error == "" {
			t.Errorf("%s: failed without error", e.Type)
		}
		if e.Type != events.TableStats && e.Type != events.TableCreated && e.CommandID == "" {
			t.Errorf("%s: no command_id", e.Type)
		}
		want, ok := wantData[e.Type]
		if !ok {
			t.Errorf("unexpected event type %s", e.Type)
		}
		if e.Type == events.TableStats && e.Result == events.ResultFailed {
			want = []string{"reason"} // figures that could not be read
		}
		if e.Type == events.TableStats && e.CommandID != "" {
			// Progress of a running operation; size figures only while
			// the table serves.
			want = []string{"running", "running_command_id", "progress_done", "progress_total", "progress_unit", "queue"}
		}
		for _, k := range want {
			if _, ok := e.Data[k]; !ok {
				t.Errorf("%s: no data.%s: %v", e.Type, k, e.Data)
			}
		}
	}
	for _, typ := range []string{events.CommandAccepted, events.CommandRejected, events.CompactionStarted,
		events.CompactionCompleted, events.CompactionSkipped, events.BackupStarted, events.BackupCompleted,
		events.BackupPruned, events.VerifyFailed, events.CorruptionDetected, events.RestoreStarted,
		events.RestoreCompleted, events.RestoreFailed, events.TableCreated, events.TableStats,
		events.TableDegraded, events.TableRecovered} {
		if seen[typ] == 0 {
			t.Errorf("the scenario emitted no %s", typ)
		}
	}
}
