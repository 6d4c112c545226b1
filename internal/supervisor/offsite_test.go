package supervisor

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/offsite"
)

// TestRestoreFallsBackToOffsite: with off-site copies (a real embedded
// JetStream server), a backup is copied to the bucket (backup.completed
// offsite_bytes); the live table and that local backup are then damaged:
// the automatic restore fails the local backup, fetches the off-site copy
// and restores from it (restore.completed data.source offsite), with the
// journal's writes after it; the damaged local copy is kept aside.
func TestRestoreFallsBackToOffsite(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := offsite.Config{Node: "n1"}
	sh, err := offsite.NewShipper(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := offsite.NewBackups(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	h := start(t, harnessOpt{root: root, cfg: Config{Offsite: &offsite.Copies{Ship: sh, Backups: bk, Data: root}}})
	tb := h.open("users")
	fill(t, tb, 200, 1)
	if e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "native"})); e.Type != events.CompactionCompleted {
		t.Fatalf("compaction: %s (%s)", e.Type, e.Error)
	}
	b := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	if b.Type != events.BackupCompleted || b.Data["offsite_bytes"] == nil {
		t.Fatalf("backup: %s %v (%s)", b.Type, b.Data, b.Error)
	}
	fill(t, tb, 50, 2) // in the journal only
	id := b.Data["backup_id"].(string)
	// Damage the local backup's table file and the live table's.
	flip(t, dataFile(t, filepath.Join(root, "backups", "users", id)), 200)
	flip(t, ldbFiles(t, filepath.Join(root, "tables", "users"))[0], 20)

	if _, err := h.sup.Submit(ctx, Command{Table: "users", Verb: events.VerbVerify}); err != nil {
		t.Fatal(err)
	}
	done := h.rec.waitType(t, "users", events.RestoreCompleted, 1)[0]
	if done.Data["source"] != "offsite" || done.Data["backup_id"] != id || done.Data["lost"] != false {
		t.Fatalf("restore.completed %v: want backup %s from off-site, nothing lost", done.Data, id)
	}
	failed := h.rec.of("users", events.RestoreFailed)
	if len(failed) != 1 || failed[0].Data["backup_id"] != id || failed[0].Data["trying_next"] != true {
		t.Fatalf("want the local backup's restore.failed with trying_next, got:\n%s", dump(failed))
	}
	got := contents(t, tb)
	if len(got) != 200 || got[key(7)] != `{"n":7,"v":2}` || got[key(100)] != `{"n":100,"v":1}` {
		t.Fatalf("after the off-site restore: %d records, k0007=%s k0100=%s", len(got), got[key(7)], got[key(100)])
	}
	if aside, _ := filepath.Glob(filepath.Join(root, "backups", "users", ".damaged-"+id+"-*")); len(aside) != 1 {
		t.Fatalf("the damaged local backup was not kept aside: %v", aside)
	}
}
