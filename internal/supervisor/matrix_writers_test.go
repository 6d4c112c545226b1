package supervisor

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// TestCorruptionMatrixWithWritersLosesNothing: four writers put while a
// backup is taken and after it; the supervisor stops, the live table is
// damaged in each way of the matrix, the supervisor starts again and
// restores automatically: every write the writers saw acknowledged is
// there, key by key (fsync and --no-sync). A damaged journal is the one
// case that loses writes, and the restore says so, naming the file.
func TestCorruptionMatrixWithWritersLosesNothing(t *testing.T) {
	cases := matrixDamages()
	for _, noSync := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/nosync=%t", c.name, noSync), func(t *testing.T) {
				root := t.TempDir()
				acked := writeThroughABackup(t, root, noSync)
				c.damage(t, filepath.Join(root, "tables", "users"))

				h := start(t, harnessOpt{root: root, noSync: noSync})
				if err := h.sup.OpenTable(context.Background(), "users", true); err != nil {
					t.Fatalf("open: %v", err)
				}
				if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbVerify}); err != nil &&
					apierr.CodeOf(err) != apierr.TableUnavailable {
					t.Fatalf("verify: %v", err)
				}
				done := h.rec.waitType(t, "users", events.RestoreCompleted, 1)[0]
				got := contents(t, mustTable(t, h, "users"))
				if c.name == "damaged-journal" {
					reason, _ := done.Data["lost_reason"].(string)
					if done.Data["lost"] != true || !strings.Contains(reason, ".log") || !strings.Contains(reason, "offset") {
						t.Fatalf("restore.completed after a damaged journal: %v, want lost naming the file and offset", done.Data)
					}
					if int(done.Data["records"].(int64)) != len(got) {
						t.Fatalf("restore.completed says %v records, the table has %d", done.Data["records"], len(got))
					}
					return
				}
				if done.Data["lost"] != false {
					t.Fatalf("restore.completed: %v, want nothing lost", done.Data)
				}
				if jr, _ := done.Data["journal_records"].(int64); jr == 0 {
					t.Fatalf("restore.completed replayed no journal record: %v", done.Data)
				}
				missing := 0
				for k, v := range acked {
					if got[k] != v {
						if missing < 3 {
							t.Errorf("acknowledged %s=%s, after the restore %q", k, v, got[k])
						}
						missing++
					}
				}
				if missing > 0 {
					t.Fatalf("%d of %d acknowledged writes missing after the restore", missing, len(acked))
				}
				t.Logf("%d acknowledged keys back; %v journal records replayed", len(acked), done.Data["journal_records"])
			})
		}
	}
}

// writeThroughABackup runs a supervisor over root: table users with 300
// records compacted into table files, then four writers putting while a
// backup is taken and after it. It returns what the writers saw
// acknowledged last per key, after a clean stop.
func writeThroughABackup(t *testing.T, root string, noSync bool) map[string]string {
	t.Helper()
	h := start(t, harnessOpt{root: root, noSync: noSync})
	tb := h.open("users")
	fill(t, tb, 300, 1)
	if e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "native"})); e.Type != events.CompactionCompleted {
		t.Fatalf("compaction: %s (%s)", e.Type, e.Error)
	}
	acked := map[string]string{}
	for i := 0; i < 300; i++ {
		acked[key(i)] = fmt.Sprintf(`{"n":%d,"v":1}`, i)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx := context.Background()
	backupAt := make(chan struct{})
	backedUp := make(chan struct{}) // writers 200 on wait for it: writes after the backup
	var release sync.Once
	defer release.Do(func() { close(backedUp) }) // also when the backup fails
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				if i == 100 && w == 0 {
					close(backupAt)
				}
				if i == 200 {
					<-backedUp
				}
				k := fmt.Sprintf("w%d-%03d", w, i%150)
				v := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
				if i%50 == 7 {
					k = key(w*50 + i%50) // overwrite a base record
				}
				if err := tb.Put(ctx, k, []byte(v)); err != nil {
					t.Errorf("put %s: %v", k, err)
					return
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
			}
		}()
	}
	<-backupAt
	if e := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{})); e.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", e.Type, e.Error)
	}
	release.Do(func() { close(backedUp) })
	wg.Wait()
	h.stop()
	return acked
}
