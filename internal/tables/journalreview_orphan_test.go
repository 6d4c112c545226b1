package tables

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// A rewrite that crashed after newGeneration (FPRewritePaused) leaves
// gen-1.json in the archive while the live directory stays generation 0.
// Later the table is quarantined (degrade) and restored with no live
// directory: currentGeneration takes the orphan as the current generation
// and the writes after the crashed rewrite are silently not replayed.
func TestJournalReviewOrphanGenerationDropsWrites(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "a", 0, 20)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, tb, "b", 0, 20)
	pos, _ := tb.Position()
	// What the crashed rewrite left: its generation record in the archive
	// (the .tmp-rewrite copy itself is removed by cleanup at the next start).
	scratch := t.TempDir()
	if err := changelog.WriteGeneration(scratch, s.journalPath("t"),
		changelog.Generation{Number: 1, SeqBase: 999, From: pos, Reason: "rewrite"}); err != nil {
		t.Fatal(err)
	}
	fill(t, tb, "c", 0, 20) // acknowledged after the failed rewrite, still generation 0
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := tb.Restore(ctx, b.ID, RestoreOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for i := 0; i < 20; i++ {
		if _, err := tb.Get(ctx, fmt.Sprintf("c%06d", i)); err != nil {
			missing++
		}
	}
	ents, _ := os.ReadDir(filepath.Join(s.Root(), "journal", "t"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if missing > 0 {
		t.Fatalf("%d of 20 acknowledged writes missing after restore; lost=%v reason=%q journal_records=%d archive=%v",
			missing, res.Lost, res.LostReason, res.JournalRecords, names)
	}
}
