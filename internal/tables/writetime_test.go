package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/changelog"
)

// TestWritesCarryTheirTimeIntoTheJournal: writes through a table reach the
// change journal with their time (a write at least 1 ms after the last
// timed one carries it; the others inherit it), and the reserved time key
// is never in the table: not in a scan, not in a verify's count, and the
// table's digest is the one of the client's keys alone.
func TestWritesCarryTheirTimeIntoTheJournal(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "users")
	type write struct {
		key    string
		before time.Time
	}
	var writes []write
	for i := 0; i < 20; i++ {
		w := write{key: fmt.Sprintf("k%02d", i), before: time.Now()}
		var err error
		switch i % 4 {
		case 3:
			err = tb.Batch(ctx, []Op{{Op: "put", Key: w.key, Value: json.RawMessage(`1`)}, {Op: "delete", Key: "k00"}})
		default:
			err = tb.Put(ctx, w.key, json.RawMessage(fmt.Sprint(i)))
		}
		if err != nil {
			t.Fatal(err)
		}
		writes = append(writes, w)
		if i%2 == 0 {
			time.Sleep(2 * time.Millisecond) // the next write carries its own time
		}
	}
	after := time.Now()

	res, err := tb.Scan(ctx, "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Items {
		if len(it.Key) > 0 && it.Key[0] == 0 {
			t.Fatalf("a reserved key is in the table: %q", it.Key)
		}
	}
	v, err := tb.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Records != int64(len(res.Items)) || v.Records != 19 {
		t.Fatalf("verify counts %d records, the scan %d, want 19", v.Records, len(res.Items))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	files, err := changelog.Journals(filepath.Join(root, "tables", "users"))
	if err != nil {
		t.Fatal(err)
	}
	var ops []changelog.Op
	for _, f := range files {
		if _, err := changelog.ReadFile(f, 0, func(op changelog.Op) error { ops = append(ops, op); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// Times as a reader sees them: carried, or inherited from the last.
	var last time.Time
	timed := 0
	seen := map[string]time.Time{}
	for _, op := range ops {
		if !op.Time.IsZero() {
			last = op.Time
			timed++
		}
		if last.IsZero() {
			t.Fatalf("the first write carries no time: %+v", op)
		}
		if op.Kind == "put" {
			seen[string(op.Key)] = last
		}
	}
	for _, w := range writes {
		got, ok := seen[w.key]
		if !ok {
			t.Fatalf("write %s is not in the journal", w.key)
		}
		if got.Before(w.before.Add(-timeEvery)) || got.After(after) {
			t.Fatalf("write %s: journal time %s, written between %s and %s", w.key, got, w.before, after)
		}
	}
	if timed < 10 {
		t.Fatalf("only %d writes carried their time; the 10 after a pause must", timed)
	}
}

// TestReservedKeysAreRefused: a key in the prefix Custodian writes for
// itself is refused on put, delete, get and batch, and changes nothing.
func TestReservedKeysAreRefused(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "users")
	k := changelog.TimeKey
	for name, err := range map[string]error{
		"put":    tb.Put(ctx, k, json.RawMessage(`1`)),
		"delete": tb.Delete(ctx, k),
		"batch":  tb.Batch(ctx, []Op{{Op: "put", Key: "fine", Value: json.RawMessage(`1`)}, {Op: "put", Key: k, Value: json.RawMessage(`1`)}}),
	} {
		if apierr.CodeOf(err) != apierr.InvalidRequest {
			t.Fatalf("%s of a reserved key: %v, want invalid_request", name, err)
		}
	}
	if _, err := tb.Get(ctx, k); apierr.CodeOf(err) != apierr.InvalidRequest {
		t.Fatalf("get of a reserved key: %v", err)
	}
	if _, err := tb.Get(ctx, "fine"); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("the refused batch wrote: %v", err)
	}
}
