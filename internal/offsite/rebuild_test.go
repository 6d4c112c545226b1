package offsite

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/tables"
)

// contents reads every key and value of tb.
func contents(t *testing.T, tb *tables.Table) map[string]string {
	t.Helper()
	out := map[string]string{}
	after := ""
	for {
		p, err := tb.Scan(context.Background(), "", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			out[it.Key] = string(it.Value)
		}
		if p.Next == "" {
			return out
		}
		after = p.Next
	}
}

// TestRebuildFromNothing: a table with two backups uploaded (the second
// reusing nothing, being a new copy) and writes after them shipped; its
// whole data directory is lost. A new one rebuilt from the bucket and the
// stream restores to every write, through the ordinary restore. Then the
// newest backup's object is damaged in the bucket: the rebuild skips it
// (SHA-256) for the older one, and the journal still brings every write.
func TestRebuildFromNothing(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Node: "n1"}
	sh, err := NewShipper(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := NewBackups(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s, err := tables.OpenStore(root, tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := s.Open(ctx, "users", true)
	if err != nil {
		t.Fatal(err)
	}
	sh.Track("users", tb)
	var ids []string
	for i, prefix := range []string{"a", "b"} {
		churn(t, tb, prefix, 100)
		m, err := tb.Backup(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := s.BackupDir("users", m.ID)
		up, err := bk.Upload(ctx, "users", m.ID, dir)
		if err != nil || up.StoredBytes == 0 {
			t.Fatalf("upload %d: %+v %v", i, up, err)
		}
		// The same backup again: every file is reused.
		again, err := bk.Upload(ctx, "users", m.ID, dir)
		// (StoredBytes of the second upload is its manifest object alone.)
		if err != nil || again.ReusedBytes+again.StoredBytes != up.StoredBytes+up.ReusedBytes || again.ReusedBytes == 0 || again.StoredBytes > 4096 {
			t.Fatalf("upload %d again: %+v (first %+v) %v", i, again, up, err)
		}
		ids = append(ids, m.ID)
	}
	churn(t, tb, "c", 150)
	if _, err := tb.Compact(ctx, tables.ModeRewrite, nil); err != nil {
		t.Fatal(err)
	}
	churn(t, tb, "d", 20)
	if err := sh.ShipAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := contents(t, tb)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	rebuild := func(what, wantBackup string) {
		t.Helper()
		root := t.TempDir()
		res, err := Rebuild(ctx, js, bk, cfg, root, "users")
		if err != nil || res.BackupID != wantBackup || res.JournalRecords == 0 || res.Generations != 1 {
			t.Fatalf("%s: rebuild %+v %v, want backup %s", what, res, err, wantBackup)
		}
		s, err := tables.OpenStore(root, tables.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tb, err := s.Open(ctx, "users", false)
		if !tables.IsCorruption(err) || tb == nil {
			t.Fatalf("%s: open of a rebuilt table: %v (want the missing directory reported)", what, err)
		}
		rr, err := tb.RestoreFrom(ctx, wantBackup, nil)
		if err != nil || rr.Lost {
			t.Fatalf("%s: restore %+v %v", what, rr, err)
		}
		got := contents(t, tb)
		if len(got) != len(want) {
			t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: %s = %q, want %q", what, k, got[k], v)
			}
		}
	}
	rebuild("newest backup", ids[1])

	// Damage an object of the newest backup in the bucket: replace it
	// with other bytes under the same name.
	data, err := bk.obs.GetBytes(ctx, bk.manifestObject("users", ids[1]))
	if err != nil {
		t.Fatal(err)
	}
	var bm BackupManifest
	if err := json.Unmarshal(data, &bm); err != nil {
		t.Fatal(err)
	}
	var victim BackupFile
	for _, f := range bm.Files {
		if filepath.Ext(f.Name) == ".ldb" {
			victim = f
		}
	}
	if victim.Name == "" {
		t.Fatalf("no table file in %+v", bm.Files)
	}
	if _, err := bk.obs.PutBytes(ctx, bk.fileObject("users", victim.SHA256), []byte("not the file")); err != nil {
		t.Fatal(err)
	}
	rebuild("newest backup damaged", ids[0])
}
