package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/tables"
)

// journalRun runs "supervisor journal" and returns its exit code, stdout
// and stderr.
func journalRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := realMain(append([]string{"journal"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestJournalPrintsEveryWrite: a real table written through tables (puts,
// a delete, an atomic batch), closed; "supervisor journal" prints each
// write as a JSON line in order with its position, and --from skips the
// ones before it.
func TestJournalPrintsEveryWrite(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s, tb := openUsers(t, root)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tb.Put(ctx, "alice", json.RawMessage(`{"age":41}`)))
	must(tb.Put(ctx, "bob", json.RawMessage(`2`)))
	must(tb.Delete(ctx, "bob"))
	must(tb.Batch(ctx, []tables.Op{{Op: "put", Key: "carol", Value: json.RawMessage(`"c"`)}, {Op: "delete", Key: "alice"}}))
	must(s.Close())

	code, out, errs := journalRun("--data", root, "users")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var lines []journalLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var j journalLine
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, j)
	}
	want := []struct{ op, key, value string }{
		{"put", "alice", `{"age":41}`}, {"put", "bob", "2"}, {"delete", "bob", ""}, {"put", "carol", `"c"`}, {"delete", "alice", ""},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		l := lines[i]
		if l.Op != w.op || l.Key == nil || *l.Key != w.key || string(l.Value) != w.value {
			t.Fatalf("line %d: %+v, want %+v", i, l, w)
		}
		// Positions go up; a batch that carried its time used two more.
		if i > 0 && l.Position <= lines[i-1].Position {
			t.Fatalf("line %d: position %d after %d", i, l.Position, lines[i-1].Position)
		}
	}
	from := lines[3].Position
	code, out, _ = journalRun("--data", root, "--from", fmt.Sprint(from), "users")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"key":"carol"`) {
		t.Fatalf("--from %d: exit %d, want the last 2 writes\n%s", from, code, out)
	}
}

// TestJournalRefusesAndReportsDamage: bad arguments exit 2, a missing table
// 1, and a damaged journal 1 naming the file and offset after printing what
// precedes the damage.
func TestJournalRefusesAndReportsDamage(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{{"--data", root}, {"--data", root, "../x"}, {"--data", root, "--from", "-1", "users"}, {"--data", root, "a", "b"}} {
		if code, _, errs := journalRun(args...); code != 2 || errs == "" {
			t.Fatalf("%v: exit %d (%q), want 2", args, code, errs)
		}
	}
	if code, _, errs := journalRun("--data", root, "nosuch"); code != 1 || !strings.Contains(errs, "no table") {
		t.Fatalf("missing table: exit %d %q", code, errs)
	}
	ctx := context.Background()
	s, tb := openUsers(t, root)
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := tb.Put(ctx, k, json.RawMessage(`"`+strings.Repeat("v", 100)+`"`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(root, "tables", "users", "*.log"))
	if len(logs) == 0 {
		t.Fatal("no journal")
	}
	b, err := os.ReadFile(logs[len(logs)-1])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x80
	if err := os.WriteFile(logs[len(logs)-1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := journalRun("--data", root, "users")
	if code != 1 || !strings.Contains(errs, filepath.Base(logs[len(logs)-1])) || !strings.Contains(errs, "damaged at offset") {
		t.Fatalf("damaged journal: exit %d, stderr %q", code, errs)
	}
	if n := strings.Count(out, "\n"); n < 1 || n > 3 {
		t.Fatalf("printed %d writes before the damage in the middle of 4", n)
	}
}

// openUsers opens (creating) the store at root and its table users.
func openUsers(t *testing.T, root string) (*tables.Store, *tables.Table) {
	t.Helper()
	s, err := tables.OpenStore(root, tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := s.Open(context.Background(), "users", true)
	if err != nil {
		t.Fatal(err)
	}
	return s, tb
}

// TestJournalFollowsTheArchiveAndGenerations: enough writes for goleveldb
// to flush (and archive) its journals, a rewrite (generation 1), more
// writes: "supervisor journal" prints every write once, in order, with
// positions that grow, the last ones in generation 1.
func TestJournalFollowsTheArchiveAndGenerations(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s, tb := openUsers(t, root)
	pad := strings.Repeat("x", 4000)
	n := 0
	put := func(count int) {
		for i := 0; i < count; i++ {
			if err := tb.Put(ctx, fmt.Sprintf("k%05d", n), json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, n, pad))); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	put(1500) // ~6 MiB: past the 4 MiB write buffer
	if _, err := tb.Compact(ctx, tables.ModeRewrite, nil); err != nil {
		t.Fatal(err)
	}
	put(100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "journal", "users")); len(ents) < 2 {
		t.Fatalf("archive holds %d entries, want journals and a generation record", len(ents))
	}
	code, out, errs := journalRun("--data", root, "users")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	var prev uint64
	for i, l := range lines {
		var j journalLine
		if err := json.Unmarshal([]byte(l), &j); err != nil || j.Key == nil || *j.Key != fmt.Sprintf("k%05d", i) || j.Position <= prev {
			t.Fatalf("line %d %q (previous position %d): %v", i, l, prev, err)
		}
		prev = j.Position
	}
	if prev/10_000_000_000_000 != 1 {
		t.Fatalf("last position %d: want generation 1", prev)
	}
}
