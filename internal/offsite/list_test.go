package offsite

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/tables"
)

// TestManifestsListsWhatUploadStored: before any supervisor made the
// bucket, OpenBackups says so and does not create it. Two real backups of
// a table uploaded (and one of another table, and one of the same table
// on another node): Manifests lists the two, newest first, each with its
// own manifest.json and the sum of its files' sizes.
func TestManifestsListsWhatUploadStored(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBackups(ctx, js, "n1"); !errors.Is(err, ErrNoBucket) {
		t.Fatalf("open before the bucket exists: %v, want ErrNoBucket", err)
	}
	if _, err := js.ObjectStore(ctx, BackupBucket); err == nil {
		t.Fatal("OpenBackups created the bucket")
	}
	bk, err := NewBackups(ctx, js, Config{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewBackups(ctx, js, Config{Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tables.OpenStore(t.TempDir(), tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	upload := func(b *Backups, name, prefix string) tables.Manifest {
		t.Helper()
		tb, err := s.Open(ctx, name, true)
		if err != nil {
			t.Fatal(err)
		}
		churn(t, tb, prefix, 20)
		m, err := tb.Backup(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := s.BackupDir(name, m.ID)
		if _, err := b.Upload(ctx, name, m.ID, dir); err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := upload(bk, "users", "a")
	second := upload(bk, "users", "b")
	upload(bk, "orders", "c")
	upload(other, "users", "d")

	rd, err := OpenBackups(ctx, js, "n1")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := rd.Manifests(ctx, "users")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].ID != second.ID || ls[1].ID != first.ID {
		t.Fatalf("listed %d backups %+v, want %s then %s", len(ls), ls, second.ID, first.ID)
	}
	for i, want := range []tables.Manifest{second, first} {
		var got tables.Manifest
		if err := json.Unmarshal(ls[i].Manifest, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Records != want.Records || got.Digest != want.Digest || got.Position == nil || *got.Position != *want.Position {
			t.Fatalf("backup %d: manifest %+v, want %+v", i, got, want)
		}
		var sum int64
		for _, f := range ls[i].Files {
			sum += f.Size
		}
		dir, _ := s.BackupDir("users", want.ID)
		if onDisk := uploadedBytes(t, dir); len(ls[i].Files) == 0 || ls[i].FileBytes != sum || sum != onDisk {
			t.Fatalf("backup %d: %d files, %d bytes (sum %d), the backup's files on disk %d", i, len(ls[i].Files), ls[i].FileBytes, sum, onDisk)
		}
	}
	if ls, err := rd.Manifests(ctx, "nobody"); err != nil || len(ls) != 0 {
		t.Fatalf("a table without backups: %+v %v", ls, err)
	}
}

// uploadedBytes is the size of the files of the backup in dir that Upload
// stores (all but manifest.json, LOCK and LOG*).
func uploadedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if e.Name() == "manifest.json" || e.Name() == "LOCK" || strings.HasPrefix(e.Name(), "LOG") {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}
