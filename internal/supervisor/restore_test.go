package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// prepared writes n records into table users of a fresh supervisor, moves
// them into .ldb files (forced native compaction) and takes backups backups;
// it stops the supervisor and returns its data directory.
func prepared(t *testing.T, n, backups int) (root string, ids []string) {
	t.Helper()
	h := start(t, harnessOpt{})
	tb := h.open("users")
	for b := 0; b < backups; b++ {
		fill(t, tb, n, b+1)
		if e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "native"})); e.Type != events.CompactionCompleted {
			t.Fatalf("compaction: %s (%s)", e.Type, e.Error)
		}
		e := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
		if e.Type != events.BackupCompleted {
			t.Fatalf("backup: %s (%s)", e.Type, e.Error)
		}
		if r, _ := e.Data["records"].(int64); r != int64(n) {
			t.Fatalf("backup.completed records %v, want %d", e.Data["records"], n)
		}
		ids = append(ids, e.Data["backup_id"].(string))
	}
	h.stop()
	if len(ldbFiles(t, filepath.Join(h.root, "tables", "users"))) == 0 {
		t.Fatalf("no .ldb file in the table after a native compaction")
	}
	return h.root, ids
}

// preparedAllBad is prepared(t, 200, 2) with the live table users and both
// its backups damaged.
func preparedAllBad(t *testing.T) (root string) {
	t.Helper()
	root, ids := prepared(t, 200, 2)
	flip(t, manifestFile(t, filepath.Join(root, "tables", "users")), 10)
	for _, id := range ids {
		flip(t, dataFile(t, filepath.Join(root, "backups", "users", id)), 200)
	}
	return root
}

// damagedWithoutBackup runs a supervisor over a new root just long enough to
// fill table users with n records, then damages the table; it has no backup.
func damagedWithoutBackup(t *testing.T, n int) (root string) {
	t.Helper()
	root = t.TempDir()
	h := start(t, harnessOpt{root: root})
	fill(t, h.open("users"), n, 1)
	h.stop()
	flip(t, manifestFile(t, filepath.Join(root, "tables", "users")), 10)
	return root
}

// checkRestored waits for the automatic restore and checks its events.
func checkRestored(t *testing.T, h *harness, wantOp, wantBackup string, records int) events.Event {
	t.Helper()
	done := h.rec.waitType(t, "users", events.RestoreCompleted, 1)[0]
	det := h.rec.of("users", events.CorruptionDetected)
	if len(det) != 1 {
		t.Fatalf("want one corruption.detected, got %d:\n%s", len(det), dump(h.rec.all()))
	}
	if wantOp != "" && det[0].Data["op"] != wantOp {
		t.Errorf("corruption.detected op %v, want %s", det[0].Data["op"], wantOp)
	}
	if det[0].Error == "" {
		t.Errorf("corruption.detected without the error")
	}
	started := h.rec.of("users", events.RestoreStarted)
	if len(started) != 1 || started[0].Trigger != events.TriggerAuto {
		t.Fatalf("want one restore.started trigger auto, got %v", started)
	}
	if done.Trigger != events.TriggerAuto || done.Result != events.ResultOK || done.CommandID != started[0].CommandID {
		t.Errorf("restore.completed trigger %s result %s command %s", done.Trigger, done.Result, done.CommandID)
	}
	if done.Data["backup_id"] != wantBackup {
		t.Errorf("restored from %v, want %s", done.Data["backup_id"], wantBackup)
	}
	if r, _ := done.Data["records"].(int64); r != int64(records) {
		t.Errorf("restore.completed records %v, want %d", done.Data["records"], records)
	}
	if _, ok := done.Data["backup_age_ms"]; !ok {
		t.Errorf("restore.completed lacks backup_age_ms")
	}
	tb, err := h.sup.Table("users")
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := tb.Available(); !ok {
		t.Fatalf("table unavailable after restore: %s", why)
	}
	if got := contents(t, tb); len(got) != records {
		t.Errorf("after restore: %d records, want %d", len(got), records)
	}
	q, _ := os.ReadDir(filepath.Join(h.root, "quarantine", "users"))
	if len(q) == 0 {
		t.Errorf("nothing in quarantine/users after a restore")
	}
	return done
}

func TestAutoRestoreAfterFlippedLdbFoundByVerify(t *testing.T) {
	root, ids := prepared(t, 300, 1)
	ldb := ldbFiles(t, filepath.Join(root, "tables", "users"))
	flip(t, ldb[len(ldb)-1], 20) // inside the first data block

	h := start(t, harnessOpt{root: root})
	h.open("users")
	v := h.wait(h.submit("users", events.VerbVerify, events.CommandBody{}))
	if v.Type != events.VerifyFailed || !v.Final() {
		t.Fatalf("verify of a flipped table: %s (%s), want a final verify.failed", v.Type, v.Error)
	}
	checkRestored(t, h, "verify", ids[0], 300)
	if e := h.wait(h.submit("users", events.VerbVerify, events.CommandBody{})); e.Type != events.VerifyCompleted {
		t.Fatalf("verify after restore: %s (%s)", e.Type, e.Error)
	}
}

func TestAutoRestoreAfterDamagedManifestOnOpen(t *testing.T) {
	root, ids := prepared(t, 300, 1)
	m := manifestFile(t, filepath.Join(root, "tables", "users"))
	flip(t, m, 10)

	h := start(t, harnessOpt{root: root})
	if err := h.sup.OpenTable(context.Background(), "users", true); err != nil {
		t.Fatalf("open of a damaged table must hand it to the restore, got %v", err)
	}
	checkRestored(t, h, "open", ids[0], 300)
}

func TestRestoreFallsBackToOlderBackup(t *testing.T) {
	root, ids := prepared(t, 200, 2)
	// Damage the live table and the newest backup.
	flip(t, manifestFile(t, filepath.Join(root, "tables", "users")), 10)
	newest := dataFile(t, filepath.Join(root, "backups", "users", ids[1]))
	flip(t, newest, 200)

	h := start(t, harnessOpt{root: root})
	h.open("users")
	checkRestored(t, h, "open", ids[0], 200)
	failed := h.rec.of("users", events.RestoreFailed)
	if len(failed) != 1 || failed[0].Data["backup_id"] != ids[1] || !failed[0].Final() || failed[0].Error == "" {
		t.Fatalf("want one final restore.failed for the newest backup %s, got:\n%s", ids[1], dump(failed))
	}
	// The older backup plus the journal after it: the newest values.
	got := contents(t, mustTable(t, h, "users"))
	if got[key(3)] != `{"n":3,"v":2}` {
		t.Errorf("k0003 = %s, want the value written after the older backup", got[key(3)])
	}
	done := h.rec.of("users", events.RestoreCompleted)
	if len(done) != 1 || done[0].Data["lost"] != false || done[0].Data["journal_records"] != int64(200) {
		t.Errorf("restore.completed: want 200 journal records, nothing lost:\n%s", dump(done))
	}
}

func mustTable(t *testing.T, h *harness, name string) *tables.Table {
	t.Helper()
	tb, err := h.sup.Table(name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestDegradedWhenEveryBackupIsBadWhileOthersServe(t *testing.T) {
	root := preparedAllBad(t)

	h := start(t, harnessOpt{root: root})
	orders := h.open("orders")
	fill(t, orders, 50, 1)
	h.open("users")

	deg := h.rec.waitType(t, "users", events.TableDegraded, 1)[0]
	if deg.Result != events.ResultFailed || deg.Data["reason"] == nil {
		t.Errorf("table.degraded result %s reason %v", deg.Result, deg.Data["reason"])
	}
	if n := len(h.rec.of("users", events.RestoreFailed)); n != 2 {
		t.Errorf("want a restore.failed per backup (2), got %d", n)
	}
	if n := len(h.rec.of("users", events.RestoreCompleted)); n != 0 {
		t.Errorf("a restore completed from damaged backups")
	}
	users := mustTable(t, h, "users")
	if ok, why := users.Available(); ok || why != "degraded" {
		t.Errorf("degraded table: available %v reason %q", ok, why)
	}
	if _, err := users.Get(context.Background(), key(1)); apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Errorf("get on a degraded table: %v, want table_unavailable", err)
	}
	st, err := h.sup.Status(context.Background(), "users")
	if err != nil || st.State != StateDegraded {
		t.Errorf("status %+v %v, want degraded", st, err)
	}
	// A compact on a degraded table is refused, nothing queued.
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbCompact}); apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Errorf("compact on degraded table: %v, want table_unavailable", err)
	}

	// The other table keeps serving reads and writes, and its maintenance.
	fill(t, orders, 80, 2)
	if got := contents(t, orders); len(got) != 80 || got[key(79)] != `{"n":79,"v":2}` {
		t.Errorf("orders after the incident: %d records", len(got))
	}
	if e := h.wait(h.submit("orders", events.VerbBackup, events.CommandBody{})); e.Type != events.BackupCompleted {
		t.Errorf("backup of the healthy table: %s (%s)", e.Type, e.Error)
	}

	// Salvage, on command, brings back what RecoverFile can.
	rec := h.wait(h.submit("users", events.VerbSalvage, events.CommandBody{}))
	if rec.Type != events.TableRecovered || rec.Result != events.ResultOK {
		t.Fatalf("salvage: %s (%s)", rec.Type, rec.Error)
	}
	if rec.Data["source"] == "" || rec.Data["source"] == nil {
		t.Errorf("table.recovered without data.source")
	}
	n, _ := rec.Data["records"].(int64)
	if ok, why := users.Available(); !ok {
		t.Fatalf("salvaged table does not serve: %s", why)
	}
	if got := contents(t, users); int64(len(got)) != n {
		t.Errorf("salvaged table has %d records, table.recovered says %d", len(got), n)
	}
	t.Logf("salvage brought back %d of 200 records", n)
}

func TestManualRestore(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 100, 1)
	b := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	if b.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", b.Type, b.Error)
	}
	time.Sleep(5 * time.Millisecond)
	before := time.Now()
	time.Sleep(5 * time.Millisecond)
	fill(t, tb, 150, 2) // written after the backup: the journal brings them back

	tk := h.submit("users", events.VerbRestore, events.CommandBody{BackupID: b.Data["backup_id"].(string)})
	e := h.wait(tk)
	if e.Type != events.RestoreCompleted || e.Trigger != events.TriggerManual || e.CommandID != tk.ID() {
		t.Fatalf("manual restore: %s trigger %s (%s)", e.Type, e.Trigger, e.Error)
	}
	if n := len(h.rec.of("users", events.CorruptionDetected)); n != 0 {
		t.Errorf("a manual restore emitted corruption.detected")
	}
	got := contents(t, tb)
	if len(got) != 150 || got[key(5)] != `{"n":5,"v":2}` || e.Data["lost"] != false || e.Data["journal_records"] != int64(150) {
		t.Errorf("after manual restore: %d records, k0005=%s, data %v", len(got), got[key(5)], e.Data)
	}

	// To a time: the state before the second fill.
	e = h.wait(h.submit("users", events.VerbRestore, events.CommandBody{At: before.UTC().Format(time.RFC3339Nano)}))
	if e.Type != events.RestoreCompleted || e.Data["at"] == nil || e.Data["quarantine"] == nil {
		t.Fatalf("restore at %s: %s %v (%s)", before, e.Type, e.Data, e.Error)
	}
	got = contents(t, tb)
	if len(got) != 100 || got[key(5)] != `{"n":5,"v":1}` {
		t.Errorf("after the restore to %s: %d records, k0005=%s", before, len(got), got[key(5)])
	}
	// A new history starts: it is backed up at once.
	if bs := h.rec.waitType(t, "users", events.BackupCompleted, 2); bs[1].Trigger != events.TriggerAuto || bs[1].Data["records"] != int64(100) {
		t.Errorf("backup after the restore to a time: %s %v", bs[1].Trigger, bs[1].Data)
	}
	for _, bad := range []events.CommandBody{
		{At: "yesterday"},
		{At: time.Now().Add(time.Hour).Format(time.RFC3339)},
		{At: b.Data["backup_id"].(string)},
	} {
		if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbRestore, Body: bad}); apierr.CodeOf(err) != apierr.InvalidRequest {
			t.Errorf("restore at %q: %v, want invalid_request", bad.At, err)
		}
	}
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbRestore, Body: events.CommandBody{At: "2001-01-01T00:00:00Z"}}); apierr.CodeOf(err) != apierr.NotFound {
		t.Errorf("restore to a time before every backup: %v, want not_found", err)
	}
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbCompact, Body: events.CommandBody{At: before.Format(time.RFC3339)}}); apierr.CodeOf(err) != apierr.InvalidRequest {
		t.Errorf("compact with at: %v, want invalid_request", err)
	}
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbRestore, Body: events.CommandBody{BackupID: "nope"}}); apierr.CodeOf(err) != apierr.NotFound {
		t.Errorf("restore from an unknown backup: %v, want not_found", err)
	}

	// The writes the restore could not bring back are in the quarantined
	// copy: a salvage of the serving table needs force, and gets them.
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbSalvage}); apierr.CodeOf(err) != apierr.InvalidRequest {
		t.Errorf("salvage of a serving table without force: %v, want invalid_request", err)
	}
	rec := h.wait(h.submit("users", events.VerbSalvage, events.CommandBody{Force: true}))
	if rec.Type != events.TableRecovered || rec.Data["records"] != int64(150) {
		t.Fatalf("salvage of the pre-restore copy: %s %v (%s)", rec.Type, rec.Data, rec.Error)
	}
	if got := contents(t, tb); len(got) != 150 || got[key(149)] != `{"n":149,"v":2}` {
		t.Errorf("after salvage: %d records", len(got))
	}
}

func TestOneIncidentForConcurrentDetections(t *testing.T) {
	root, ids := prepared(t, 300, 1)
	ldb := ldbFiles(t, filepath.Join(root, "tables", "users"))
	flip(t, ldb[0], 20)

	h := start(t, harnessOpt{root: root})
	tb := h.open("users")
	var errs [8]error
	done := make(chan int)
	for i := range errs {
		go func(i int) {
			_, errs[i] = tb.Get(context.Background(), key(0))
			done <- i
		}(i)
	}
	for range errs {
		<-done
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("get %d of a key in a flipped block succeeded", i)
		}
	}
	checkRestored(t, h, "", ids[0], 300)
	if v, err := tb.Get(context.Background(), key(0)); err != nil || string(v) != `{"n":0,"v":1}` {
		t.Errorf("get after restore: %s %v", v, err)
	}
}

func TestManualRestoreWithNoGoodBackupKeepsServing(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 40, 1)
	b := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	flip(t, dataFile(t, filepath.Join(h.root, "backups", "users", b.Data["backup_id"].(string))), 200)
	fill(t, tb, 60, 2)

	e := h.wait(h.submit("users", events.VerbRestore, events.CommandBody{}))
	if e.Type != events.RestoreFailed || !e.Final() || e.Data["backup_id"] != b.Data["backup_id"] {
		t.Fatalf("manual restore from a damaged backup: %s %v (%s)", e.Type, e.Data, e.Error)
	}
	if n := len(h.rec.of("users", events.TableDegraded)); n != 0 {
		t.Errorf("a healthy table was degraded by a failed manual restore")
	}
	if ok, why := tb.Available(); !ok {
		t.Fatalf("table does not serve after a failed manual restore: %s", why)
	}
	if got := contents(t, tb); len(got) != 60 || got[key(59)] != `{"n":59,"v":2}` {
		t.Errorf("table lost data in a failed manual restore: %d records", len(got))
	}
}

func TestCorruptTableWithoutBackupIsDegraded(t *testing.T) {
	root := damagedWithoutBackup(t, 50)
	h := start(t, harnessOpt{root: root})
	h.open("users")
	deg := h.rec.waitType(t, "users", events.TableDegraded, 1)[0]
	if deg.Data["reason"] != "no backup" || deg.Data["quarantine"] == nil {
		t.Errorf("table.degraded data %v, want reason \"no backup\" and the quarantine dir", deg.Data)
	}
	if n := len(h.rec.of("users", events.CorruptionDetected, events.RestoreStarted)); n != 2 {
		t.Errorf("want corruption.detected and restore.started, got %d events", n)
	}
	rec := h.wait(h.submit("users", events.VerbSalvage, events.CommandBody{}))
	if rec.Type != events.TableRecovered || rec.Data["records"] != int64(50) {
		t.Errorf("salvage of a damaged MANIFEST: %s %v (%s)", rec.Type, rec.Data, rec.Error)
	}
}
