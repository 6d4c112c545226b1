package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// TestCorruptionMatrixRestoresAutomatically damages the live table in each
// way the issue lists, restarts, and expects detection (on open or by a
// verify) and an automatic restore from the backup.
func TestCorruptionMatrixRestoresAutomatically(t *testing.T) {
	cases := matrixDamages()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, ids := prepared(t, 300, 1)
			// Writes after the backup stay in the journal; the restore
			// cannot bring them back (that is the backup's age).
			h := start(t, harnessOpt{root: root})
			fill(t, h.open("users"), 20, 9)
			h.stop()
			c.damage(t, filepath.Join(root, "tables", "users"))

			h = start(t, harnessOpt{root: root})
			if err := h.sup.OpenTable(context.Background(), "users", true); err != nil {
				t.Fatalf("open: %v", err)
			}
			if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbVerify}); err != nil &&
				apierr.CodeOf(err) != apierr.TableUnavailable {
				t.Fatalf("verify: %v", err)
			}
			done := checkRestored(t, h, "", ids[0], 300)
			det := h.rec.of("users", events.CorruptionDetected)[0]
			t.Logf("%s: detected on %v, restored %v records from %v", c.name, det.Data["op"], done.Data["records"], done.Data["backup_id"])
		})
	}
}

// TestCorruptionMetByCompaction: a rewrite compaction that reads a damaged
// block fails, the incident restores the table at once (ahead of the
// compaction's retry), and the retry then compacts the restored table.
func TestCorruptionMetByCompaction(t *testing.T) {
	root, ids := prepared(t, 300, 1)
	flip(t, ldbFiles(t, filepath.Join(root, "tables", "users"))[0], 20)

	h := start(t, harnessOpt{root: root})
	h.open("users")
	tk := h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "rewrite"})
	out := h.wait(tk)
	checkRestored(t, h, "", ids[0], 300)
	if out.Type != events.CompactionCompleted || out.Attempt != 2 {
		t.Errorf("compaction outcome %s attempt %d (%s), want completed on the retry", out.Type, out.Attempt, out.Error)
	}
	var order []string
	for _, e := range h.rec.of("users", events.CompactionStarted, events.CompactionFailed, events.CompactionCompleted,
		events.CorruptionDetected, events.RestoreStarted, events.RestoreCompleted) {
		order = append(order, e.Type)
	}
	want := []string{events.CompactionStarted, events.CompactionFailed, events.CorruptionDetected, events.RestoreStarted,
		events.RestoreCompleted, events.CompactionStarted, events.CompactionCompleted}
	if len(order) != len(want) {
		t.Fatalf("events %v, want %v", order, want)
	}
	// corruption.detected goes out at once, so it may precede the
	// compaction's failure event; everything else is in order.
	if order[1] == events.CorruptionDetected {
		order[1], order[2] = order[2], order[1]
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("events %v, want %v", order, want)
		}
	}
}

// matrixDamage is one way the corruption matrix damages a closed table's
// directory.
type matrixDamage struct {
	name   string
	damage func(t *testing.T, dir string)
}

// matrixDamages are the matrix's cases: flipped, truncated and missing
// .ldb, damaged MANIFEST, missing CURRENT, and a damaged journal (a byte
// in the middle of one that holds records).
func matrixDamages() []matrixDamage {
	return []matrixDamage{
		{"flipped-ldb", func(t *testing.T, dir string) { flip(t, ldbFiles(t, dir)[0], 20) }},
		{"truncated-ldb", func(t *testing.T, dir string) {
			p := ldbFiles(t, dir)[0]
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing-ldb", func(t *testing.T, dir string) {
			if err := os.Remove(ldbFiles(t, dir)[0]); err != nil {
				t.Fatal(err)
			}
		}},
		{"damaged-manifest", func(t *testing.T, dir string) { flip(t, manifestFile(t, dir), 10) }},
		{"missing-current", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "CURRENT")); err != nil {
				t.Fatal(err)
			}
		}},
		{"damaged-journal", func(t *testing.T, dir string) {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, l := range logs {
				if fi, err := os.Stat(l); err == nil && fi.Size() > 100 {
					flip(t, l, 50)
					return
				}
			}
			t.Fatalf("no journal with records in %s", dir)
		}},
	}
}
