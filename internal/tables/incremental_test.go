package tables

import (
	"context"
	"testing"
)

// TestIncrementalBackupCopiesOnlyNewFiles: a table spread over many table
// files (compacted), a backup (copies them all), 1% of the keys changed, a
// second backup: it copies a small part and reuses the rest; both backups
// verify and restore (with the journal) to the table; pruning the first
// keeps the shared files the second links to and removes the others.
func TestIncrementalBackupCopiesOnlyNewFiles(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 60000)
	if _, err := tb.Compact(ctx, ModeNative, nil); err != nil {
		t.Fatal(err)
	}
	first, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.ReusedBytes != 0 || first.CopiedBytes < 4<<20 || len(first.Files) < 3 {
		t.Fatalf("first backup: copied %d reused %d, %d files", first.CopiedBytes, first.ReusedBytes, len(first.Files))
	}
	for i := 0; i < 600; i++ { // 1% of the keys
		fill(t, tb, "k", i*100, i*100+1)
	}
	second, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(second.CopiedBytes) / float64(second.CopiedBytes+second.ReusedBytes)
	t.Logf("second backup: copied %d bytes, reused %d (%.3f of a full copy)", second.CopiedBytes, second.ReusedBytes, ratio)
	if second.ReusedBytes == 0 || ratio > 0.25 {
		t.Fatalf("second backup after 1%% churn copied %.2f of a full backup", ratio)
	}
	for _, m := range []Manifest{first, second} {
		dir, _ := s.BackupDir("t", m.ID)
		if err := checkBackup(ctx, dir, m); err != nil {
			t.Fatalf("backup %s: %v", m.ID, err)
		}
		for _, f := range m.Files {
			if f.SHA256 == "" || f.Size < 0 {
				t.Fatalf("backup %s: file %+v", m.ID, f)
			}
		}
	}
	want, err := tb.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune("t", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, second.ID, nil)
	if err != nil || rr.Lost {
		t.Fatalf("restore of the incremental backup: %+v %v", rr, err)
	}
	got, err := tb.Verify(ctx, nil)
	if err != nil || got.Digest != want.Digest || got.Records != want.Records {
		t.Fatalf("restored %+v %v, want %+v", got, err, want)
	}
}
