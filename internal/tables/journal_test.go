package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// bigVal is a value of about 4 KiB, so that a few thousand writes fill
// goleveldb's 4 MiB write buffer and its journals are flushed (and so
// archived) during a test.
func bigVal(i int, tag string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"i":%d,"tag":%q,"pad":%q}`, i, tag, strings.Repeat("x", 4000)))
}

// model is what a test's writes left in the table, key by key.
type model map[string]string

// write applies a batch to tb and to m.
func (m model) write(t *testing.T, tb *Table, ops []Op) {
	t.Helper()
	if err := tb.Batch(context.Background(), ops); err != nil {
		t.Fatalf("batch: %v", err)
	}
	for _, o := range ops {
		if o.Op == "delete" {
			delete(m, o.Key)
		} else {
			m[o.Key] = string(o.Value)
		}
	}
}

// churn writes n batches of 10 puts of big values over keys prefix0..99,
// with a delete in every batch.
func (m model) churn(t *testing.T, tb *Table, prefix, tag string, n int) {
	t.Helper()
	for b := 0; b < n; b++ {
		var ops []Op
		for i := 0; i < 10; i++ {
			k := fmt.Sprintf("%s%03d", prefix, (b*10+i)%100)
			ops = append(ops, Op{Op: "put", Key: k, Value: bigVal(b*10+i, tag)})
		}
		ops = append(ops, Op{Op: "delete", Key: fmt.Sprintf("%s%03d", prefix, (b*7)%100)})
		m.write(t, tb, ops)
	}
}

// holds checks that tb holds exactly m.
func (m model) holds(t *testing.T, tb *Table, what string) {
	t.Helper()
	got := model{}
	after := ""
	for {
		page, err := tb.Scan(context.Background(), "", after, 1000)
		if err != nil {
			t.Fatalf("%s: scan: %v", what, err)
		}
		for _, it := range page.Items {
			got[it.Key] = string(it.Value)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if !maps.Equal(got, m) {
		missing, extra, differ := 0, 0, 0
		for k, v := range m {
			g, ok := got[k]
			switch {
			case !ok:
				missing++
			case g != v:
				differ++
			}
		}
		for k := range got {
			if _, ok := m[k]; !ok {
				extra++
			}
		}
		t.Fatalf("%s: table has %d keys, want %d: %d missing, %d extra, %d with another value", what, len(got), len(m), missing, extra, differ)
	}
}

func archived(t *testing.T, s *Store, table string) []changelog.JournalFile {
	t.Helper()
	fs, err := changelog.ArchivedJournals(s.journalPath(table))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestRestoreReplaysEveryWrite: a backup, then enough writes for goleveldb
// to flush (and so remove) several journals, a rewrite (a new generation),
// more writes; the table is lost (quarantined) and restored from that
// backup: every write is back, key by key, at the same position. Then the
// same again from the restored table (a third generation).
func TestRestoreReplaysEveryWrite(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	m.churn(t, tb, "a", "first", 20)
	b1, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "second", 150) // ~6 MiB: the write buffer is flushed
	if n := len(archived(t, s, "t")); n == 0 {
		t.Fatal("no journal was archived after 6 MiB of writes")
	}
	if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "a", "third", 30)
	want, err := tb.Position()
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := changelog.SplitPosition(want); g != 1 {
		t.Fatalf("position %d after one rewrite: want generation 1", want)
	}
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, b1.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Lost || rr.Position != want || rr.JournalRecords != 180*11 || rr.RecoveredTo.IsZero() {
		t.Fatalf("restore %+v: want nothing lost, position %d", rr, want)
	}
	m.holds(t, tb, "after the restore")

	// The restored table is generation 2; its journal goes on from there.
	m.churn(t, tb, "c", "fourth", 10)
	want2, _ := tb.Position()
	if g, _ := changelog.SplitPosition(want2); g != 2 {
		t.Fatalf("position %d after a restore: want generation 2", want2)
	}
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	rr, err = tb.RestoreFrom(ctx, b1.ID, nil)
	if err != nil || rr.Lost || rr.Position != want2 {
		t.Fatalf("second restore %+v %v: want position %d, nothing lost", rr, err, want2)
	}
	m.holds(t, tb, "after the second restore")
	if lo := leftovers(t, s.Root()); len(lo) != 0 {
		t.Fatalf("leftovers %v", lo)
	}
}

// TestPointInTimeRestoreAndUndo: writes, a bad batch at a recorded time,
// more writes; a restore as of just before the bad batch brings back
// everything before it and nothing after; the replaced state is in
// quarantine, and a salvage of it undoes the restore.
func TestPointInTimeRestoreAndUndo(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	m.churn(t, tb, "a", "before-backup", 10)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "after-backup", 40)
	good := maps.Clone(m)
	time.Sleep(3 * time.Millisecond)
	at := time.Now()
	time.Sleep(3 * time.Millisecond)
	var bad []Op
	for i := 0; i < 50; i++ {
		bad = append(bad, Op{Op: "put", Key: fmt.Sprintf("a%03d", i), Value: json.RawMessage(`"bad"`)})
	}
	m.write(t, tb, bad)
	m.churn(t, tb, "c", "after-bad", 5)
	after := maps.Clone(m)

	rr, err := tb.Restore(ctx, b.ID, RestoreOptions{At: at}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Quarantined == "" || rr.JournalRecords != 40*11 || rr.RecoveredTo.After(at) || rr.RecoveredTo.IsZero() {
		t.Fatalf("restore at %s: %+v", at, rr)
	}
	good.holds(t, tb, "restored to just before the bad batch")

	// Undo: the state the restore replaced is the newest quarantined copy.
	if _, err := tb.Salvage(ctx, nil); err != nil {
		t.Fatal(err)
	}
	after.holds(t, tb, "after the undo")

	// A backup taken after a time is refused for a restore to that time.
	if _, err := tb.Restore(ctx, b.ID, RestoreOptions{At: b.Created.Add(-time.Second)}, nil); err == nil {
		t.Fatal("a restore to a time before the backup was accepted")
	}
}

// TestDamagedJournalSaysWhatWasLost: a byte flipped in an archived journal
// file after the backup's position: the restore completes with the writes
// before the damage, says lost, names the file and offset, and the table
// serves.
func TestDamagedJournalSaysWhatWasLost(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	m.churn(t, tb, "a", "one", 10)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "two", 200)
	files := archived(t, s, "t")
	if len(files) < 2 {
		t.Fatalf("%d archived journals, want at least 2", len(files))
	}
	victim := files[len(files)-1]
	fi, err := os.Stat(victim.Path)
	if err != nil {
		t.Fatal(err)
	}
	off := fi.Size() / 2
	// The archive holds a hard link of the file goleveldb removed: the
	// flip changes the one copy there is.
	flipByte(t, victim.Path, off)
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, b.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(victim.Path)
	if !rr.Lost || !strings.Contains(rr.LostReason, name) || rr.JournalRecords == 0 || rr.JournalRecords >= 200*11 {
		t.Fatalf("restore %+v: want lost naming %s, some writes replayed", rr, name)
	}
	var at int64
	if _, err := fmt.Sscanf(rr.LostReason[strings.Index(rr.LostReason, "offset"):], "offset %d", &at); err != nil || at > off || off-at > 32<<10 {
		t.Fatalf("lost reason %q: want the offset of the damaged chunk (flip at %d)", rr.LostReason, off)
	}
	if ok, _ := tb.Available(); !ok {
		t.Fatal("the restored table does not serve")
	}
	st, err := tb.Verify(ctx, nil)
	if err != nil || st.Records != rr.Records {
		t.Fatalf("verify %+v %v, restore said %d records", st, err, rr.Records)
	}
}

// TestJournalKeptFromTheOldestBackup: after the backups are pruned, the
// archive's files that end before the oldest retained backup's position go,
// the others stay, and a restore of that backup still brings back every
// write. Without a backup nothing is removed.
func TestJournalKeptFromTheOldestBackup(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	m.churn(t, tb, "a", "one", 150)
	if res, err := tb.PruneJournal(); err != nil || res.Files != 0 {
		t.Fatalf("prune without a backup: %+v %v", res, err)
	}
	before := len(archived(t, s, "t"))
	if _, err := tb.Backup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "two", 150)
	last, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "c", "three", 20)
	if _, err := s.Prune("t", 1); err != nil {
		t.Fatal(err)
	}
	all := archived(t, s, "t")
	res, err := tb.PruneJournal()
	if err != nil {
		t.Fatal(err)
	}
	if before == 0 || res.Files < before || res.Files >= len(all) || res.Keep != *last.Position || res.Bytes == 0 {
		t.Fatalf("prune: %+v; %d files archived before the first backup, %d in all", res, before, len(all))
	}
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, last.ID, nil)
	if err != nil || rr.Lost {
		t.Fatalf("restore after the journal was pruned: %+v %v", rr, err)
	}
	m.holds(t, tb, "after the prune and a restore")
}

// TestRecreatedTableStartsItsOwnHistory: a table whose directory was
// removed by hand (and that has no backup) is created anew under the same
// name: it gets a generation of its own, its journals never take the old
// table's archived names, and its journal holds only its own writes.
func TestRecreatedTableStartsItsOwnHistory(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	old := model{}
	old.churn(t, tb, "a", "old", 150)
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.tableDir("t")); err != nil {
		t.Fatal(err)
	}
	tb = mustOpen(t, s, "t")
	if p, _ := tb.Position(); p < changelog.GenerationStride {
		t.Fatalf("recreated table at position %d: want a generation of its own", p)
	}
	m := model{}
	m.churn(t, tb, "b", "new", 150)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "c", "newer", 20)
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, b.ID, nil)
	if err != nil || rr.Lost {
		t.Fatalf("restore %+v %v", rr, err)
	}
	m.holds(t, tb, "the recreated table restored")
}
