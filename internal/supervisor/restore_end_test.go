package supervisor

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// tryingNext reports whether a restore.failed says the restore goes on.
func tryingNext(e events.Event) bool {
	v, _ := e.Data["trying_next"].(bool)
	return v
}

// checkEnds checks the restore.failed events of a restore over n backups:
// every one but the last says trying_next (an older backup is tried next),
// the last does not (it ends the restore); all keep data.final.
func checkEnds(t *testing.T, failed []events.Event, n int) {
	t.Helper()
	if len(failed) != n {
		t.Fatalf("want %d restore.failed, got:\n%s", n, dump(failed))
	}
	for i, e := range failed {
		if want := i < n-1; tryingNext(e) != want {
			t.Errorf("restore.failed %d of %d (backup %v): trying_next %v, want %v", i+1, n, e.Data["backup_id"], e.Data["trying_next"], want)
		}
		if _, ok := e.Data["trying_next"]; ok && i == n-1 {
			t.Errorf("the last restore.failed carries trying_next=%v; it must not carry the key", e.Data["trying_next"])
		}
		if e.Data["final"] != true {
			t.Errorf("restore.failed %d lost data.final: %v", i+1, e.Data)
		}
	}
}

func TestRestoreFailedSaysTryingNextOnlyWhenAnotherBackupFollows(t *testing.T) {
	// Automatic restore: the newest backup is bad, the older one good.
	root, ids := prepared(t, 200, 2)
	flip(t, manifestFile(t, filepath.Join(root, "tables", "users")), 10)
	flip(t, dataFile(t, filepath.Join(root, "backups", "users", ids[1])), 200)
	h := start(t, harnessOpt{root: root})
	h.open("users")
	checkRestored(t, h, "open", ids[0], 200)
	failed := h.rec.of("users", events.RestoreFailed)
	if len(failed) != 1 || !tryingNext(failed[0]) {
		t.Fatalf("want one restore.failed with trying_next for the bad newest backup, got:\n%s", dump(failed))
	}
}

func TestRestoreFailedEndsTheRestoreWhenTheTableDegrades(t *testing.T) {
	root := preparedAllBad(t)
	h := start(t, harnessOpt{root: root})
	h.open("users")
	h.rec.waitType(t, "users", events.TableDegraded, 1)
	failed := h.rec.of("users", events.RestoreFailed)
	checkEnds(t, failed, 2)
	for _, e := range failed {
		if _, ok := e.Data["serving"]; ok {
			t.Errorf("restore.failed of a degrading table says serving: %v", e.Data)
		}
	}
}

func TestManualRestoreOverBadBackupsEndsWithoutTryingNext(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	ctx := context.Background()

	// No backup at all: the one restore.failed ends the restore.
	e := h.wait(h.submit("users", events.VerbRestore, events.CommandBody{}))
	if e.Type != events.RestoreFailed || tryingNext(e) || e.Data["serving"] != true {
		t.Fatalf("manual restore without a backup: %s %v, want a restore.failed without trying_next, serving true", e.Type, e.Data)
	}

	fill(t, tb, 30, 1)
	for i := 0; i < 2; i++ {
		if b := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{})); b.Type != events.BackupCompleted {
			t.Fatalf("backup: %s (%s)", b.Type, b.Error)
		}
	}
	for _, id := range backupIDs(t, h.root, "users") {
		flip(t, dataFile(t, filepath.Join(h.root, "backups", "users", id)), 200)
	}
	before := len(h.rec.of("users", events.RestoreFailed))
	e = h.wait(h.submit("users", events.VerbRestore, events.CommandBody{}))
	failed := h.rec.of("users", events.RestoreFailed)[before:]
	checkEnds(t, failed, 2)
	if e.ID != failed[1].ID {
		t.Errorf("outcome %s %s is not the last restore.failed", e.Type, e.ID)
	}
	if failed[1].Data["serving"] != true {
		t.Errorf("the restore.failed that ends a restore of a serving table: data %v, want serving true", failed[1].Data)
	}
	if _, ok := failed[0].Data["serving"]; ok {
		t.Errorf("a restore.failed with trying_next says serving: %v", failed[0].Data)
	}
	if ok, why := tb.Available(); !ok {
		t.Fatalf("table does not serve after a failed manual restore: %s", why)
	}
	if _, err := tb.Get(ctx, key(1)); err != nil {
		t.Errorf("get after a failed manual restore: %v", err)
	}
}

func TestSalvageWithoutQuarantinedCopyIsRejected(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 20, 1)

	for _, body := range []events.CommandBody{{Force: true, Wait: true}, {}} {
		_, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbSalvage, Body: body})
		if apierr.CodeOf(err) != apierr.NotFound {
			t.Fatalf("salvage %+v with no quarantined copy: %v, want not_found", body, err)
		}
	}
	rej := h.rec.of("users", events.CommandRejected)
	if len(rej) != 2 {
		t.Fatalf("want two command.rejected, got:\n%s", dump(h.rec.all()))
	}
	for _, e := range rej {
		if e.Data["code"] != string(apierr.NotFound) || e.Data["verb"] != events.VerbSalvage {
			t.Errorf("command.rejected data %v, want code not_found verb salvage", e.Data)
		}
	}
	if n := len(h.rec.of("users", events.CommandAccepted, events.RestoreFailed, events.TableRecovered)); n != 0 {
		t.Errorf("a refused salvage was accepted or ran:\n%s", dump(h.rec.all()))
	}
	st, err := h.sup.Status(context.Background(), "users")
	if err != nil || st.Queue != 0 || st.State != StateOK {
		t.Errorf("status after the refused salvage: %+v %v", st, err)
	}
	if got := contents(t, tb); len(got) != 20 {
		t.Errorf("table has %d records after a refused salvage, want 20", len(got))
	}
}

// TestSalvageQueuedBehindAnAutomaticRestoreIsAccepted: while an automatic
// restore runs the table has no quarantined copy yet, but the restore leaves
// one; a salvage sent then is accepted and runs after it.
func TestSalvageQueuedBehindAnAutomaticRestoreIsAccepted(t *testing.T) {
	g := newGate(tables.FPRestoreBeforeCopy)
	h := start(t, harnessOpt{failpoint: g.failpoint})
	defer g.open()
	tb := h.open("users")
	fill(t, tb, 30, 1)
	if b := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{})); b.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", b.Type, b.Error)
	}
	fill(t, tb, 45, 2) // after the backup: only the salvage brings these back

	corrupt := lerrors.NewErrCorrupted(storage.FileDesc{Type: storage.TypeTable, Num: 9}, errors.New("checksum mismatch"))
	h.sup.CorruptionHandler()("users", "get", corrupt)
	g.await(t, 1) // the restore runs, nothing quarantined yet
	if qs, err := h.sup.Store().Quarantined("users"); err != nil || len(qs) != 0 {
		t.Fatalf("quarantined copies while the restore waits: %v %v", qs, err)
	}
	salv := h.submit("users", events.VerbSalvage, events.CommandBody{})
	g.open()

	h.rec.waitType(t, "users", events.RestoreCompleted, 1)
	if e := h.wait(salv); e.Type != events.TableRecovered || e.Data["records"] != int64(45) {
		t.Fatalf("salvage queued behind the restore: %s %v (%s)", e.Type, e.Data, e.Error)
	}
	if got := contents(t, tb); len(got) != 45 || got[key(44)] != `{"n":44,"v":2}` {
		t.Errorf("after the salvage: %d records", len(got))
	}
}
