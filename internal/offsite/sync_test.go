package offsite

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/tables"
)

// TestSyncCopiesMissedBackupsAndPrunesOnlyWithRetention: three local
// backups, none in the bucket (their copies failed): Sync uploads them.
// With two of them left locally and a retention of 3 (a node that lost
// backups), nothing off-site is removed; with a retention of 2, the oldest
// off-site backup and the file objects only it named go.
func TestSyncCopiesMissedBackupsAndPrunesOnlyWithRetention(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	bk, err := NewBackups(ctx, js, Config{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tables.OpenStore(t.TempDir(), tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tb, err := s.Open(ctx, "users", true)
	if err != nil {
		t.Fatal(err)
	}
	local := map[string]string{}
	var ids []string
	for i, p := range []string{"a", "b", "c"} {
		churn(t, tb, p, 60)
		if _, err := tb.Compact(ctx, tables.ModeRewrite, nil); err != nil { // new table files each time
			t.Fatal(err)
		}
		m, err := tb.Backup(ctx, nil)
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		dir, _ := s.BackupDir("users", m.ID)
		local[m.ID] = dir
		ids = append(ids, m.ID)
	}
	res, err := bk.Sync(ctx, "users", local, 7)
	if err != nil || len(res.Uploaded) != 3 || len(res.Pruned) != 0 {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	if again, err := bk.Sync(ctx, "users", local, 7); err != nil || len(again.Uploaded) != 0 {
		t.Fatalf("second sync uploaded again: %+v %v", again, err)
	}
	delete(local, ids[0])
	if res, err := bk.Sync(ctx, "users", local, 3); err != nil || len(res.Pruned) != 0 {
		t.Fatalf("sync with fewer local backups than retention pruned: %+v %v", res, err)
	}
	res, err = bk.Sync(ctx, "users", local, 2)
	if err != nil || len(res.Pruned) != 1 || res.Pruned[0] != ids[0] || res.Files == 0 {
		t.Fatalf("sync at retention: %+v %v, want %s pruned with its own files", res, err, ids[0])
	}
	left, err := bk.Manifests(ctx, "users")
	if err != nil || len(left) != 2 {
		t.Fatalf("manifests left: %d %v", len(left), err)
	}
	for _, l := range left {
		dir := t.TempDir()
		if _, err := bk.Download(ctx, "users", l.ID, dir); err != nil {
			t.Fatalf("backup %s after the prune: %v", l.ID, err)
		}
	}
}
