package supervisor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/logtail"
)

// newestLog is the path of the highest-numbered journal of a table
// directory.
func newestLog(t *testing.T, dir string) string {
	t.Helper()
	name, err := logtail.NewestJournal(dir)
	if err != nil || name == "" {
		t.Fatalf("no journal in %s (%v)", dir, err)
	}
	return filepath.Join(dir, name)
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestTornJournalTailIsCutNotRestored is issue 13's defect 1: a table whose
// newest journal ends in half a record (a SIGKILL between the write() calls
// of a put that crosses a 32 KiB block) was taken for corrupted, quarantined
// and restored from its backup, losing every write acknowledged since. Now
// the tail is cut, the table serves with every acknowledged write, and a
// table.recovered event says how many bytes were dropped.
func TestTornJournalTailIsCutNotRestored(t *testing.T) {
	root, _ := prepared(t, 100, 1)
	h := start(t, harnessOpt{root: root})
	tb := h.open("users")
	fill(t, tb, 100, 2) // acknowledged after the backup: only in the journal
	dir := filepath.Join(root, "tables", "users")
	log := newestLog(t, dir)
	from := fileSize(t, log)
	big, _ := json.Marshal(strings.Repeat("x", 50_000))
	if err := tb.Put(context.Background(), "big", big); err != nil {
		t.Fatal(err)
	}
	if newestLog(t, dir) != log {
		t.Fatalf("the journal rotated during the test")
	}
	h.stop()
	// What a kill between the first and second write() of the big put
	// leaves: the record cut at the end of the first 32 KiB block after it.
	cut := (from/32768 + 1) * 32768
	if err := os.Truncate(log, cut); err != nil {
		t.Fatal(err)
	}

	h = start(t, harnessOpt{root: root})
	tb = h.open("users")
	evs := h.rec.waitType(t, "users", events.TableRecovered, 1)
	d := evs[0].Data
	if d["method"] != "torn_tail" || d["file"] != filepath.Base(log) || d["offset"] != from || d["bytes_dropped"] != cut-from {
		t.Fatalf("table.recovered data %v, want method torn_tail, file %s, offset %d, bytes_dropped %d", d, filepath.Base(log), from, cut-from)
	}
	if evs[0].Trigger != events.TriggerStartup || evs[0].Result != events.ResultOK {
		t.Fatalf("table.recovered trigger %q result %q", evs[0].Trigger, evs[0].Result)
	}
	if bad := h.rec.of("users", events.CorruptionDetected, events.RestoreStarted, events.RestoreCompleted); len(bad) != 0 {
		t.Fatalf("a torn tail was handled as corruption:\n%s", dump(bad))
	}
	if ok, reason := tb.Available(); !ok {
		t.Fatalf("table not serving: %s", reason)
	}
	got := contents(t, tb)
	if len(got) != 100 {
		t.Fatalf("%d records after the cut, want 100 (big must be gone, every acknowledged write there)", len(got))
	}
	for i := 0; i < 100; i++ {
		var v map[string]int
		if err := json.Unmarshal([]byte(got[key(i)]), &v); err != nil || v["v"] != 2 {
			t.Fatalf("%s = %s: the write acknowledged after the backup was lost", key(i), got[key(i)])
		}
	}
}
