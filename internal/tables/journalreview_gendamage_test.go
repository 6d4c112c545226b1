package tables

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// The live directory's JOURNAL-GENERATION is damaged (the rest is whole).
// The open reports a corruption; the restore finds the current generation
// from the archive, but pinJournal skips the live journals (ReadGeneration
// fails) and the Want check uses the MANIFEST's sequence, which does not
// cover the unflushed writes: they are silently not replayed.
func TestJournalReviewDamagedGenerationRecord(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "a", 0, 20)
	b1, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Restore(ctx, b1.ID, RestoreOptions{}, nil); err != nil { // now generation 1
		t.Fatal(err)
	}
	b2, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, tb, "c", 0, 20) // acknowledged, in the live 00000N.log only
	s.Close()
	if err := os.WriteFile(filepath.Join(root, "tables", "t", changelog.GenerationFile), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, root, nil)
	tb2, err := s2.Open(ctx, "t", false)
	t.Logf("open: %v", err)
	res, err := tb2.Restore(ctx, b2.ID, RestoreOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for i := 0; i < 20; i++ {
		if _, err := tb2.Get(ctx, fmt.Sprintf("c%06d", i)); err != nil {
			missing++
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, "journal", "t"))
	for _, e := range ents {
		t.Log(e.Name())
	}
	if missing > 0 {
		t.Fatalf("%d of 20 acknowledged writes missing; lost=%v %q", missing, res.Lost, res.LostReason)
	}
}
