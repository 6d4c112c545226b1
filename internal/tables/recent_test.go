package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The dead estimate is exact through puts and deletes of one key, whether
// the key's previous state comes from the recent writes or from a read.
func TestRecentWritesKeepTheEstimateExact(t *testing.T) {
	ctx := context.Background()
	tb := mustOpen(t, openTestStore(t, t.TempDir(), nil), "t")
	ten := json.RawMessage(`"12345678"`)              // 10 bytes
	twenty := json.RawMessage(`"123456789012345678"`) // 20 bytes
	want := deadState{}
	check := func(step string) {
		t.Helper()
		d := tb.deadSnapshot()
		if d.Live != want.Live || d.LiveBytes != want.LiveBytes || d.Dead != want.Dead || d.DeadBytes != want.DeadBytes {
			t.Fatalf("%s: live %d (%d bytes), dead %d (%d bytes); want live %d (%d bytes), dead %d (%d bytes)",
				step, d.Live, d.LiveBytes, d.Dead, d.DeadBytes, want.Live, want.LiveBytes, want.Dead, want.DeadBytes)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tb.Put(ctx, "k", ten)) // new: read says absent
	want.Live, want.LiveBytes = 1, 11
	check("first put")
	must(tb.Put(ctx, "k", twenty)) // overwrite of 10 bytes
	want.LiveBytes, want.Dead, want.DeadBytes = 21, 1, 11
	check("overwrite")
	must(tb.Delete(ctx, "k")) // delete of 20 bytes
	want.Live, want.LiveBytes, want.Dead, want.DeadBytes = 0, 0, 2, 32
	check("delete")
	must(tb.Delete(ctx, "k")) // tombstone of an absent key
	want.Dead, want.DeadBytes = 3, 33
	check("delete of an absent key")
	must(tb.Put(ctx, "k", ten)) // new again
	want.Live, want.LiveBytes = 1, 11
	check("put after delete")
	must(tb.Batch(ctx, []Op{{Op: "put", Key: "k", Value: twenty}, {Op: "put", Key: "b", Value: ten}}))
	want.LiveBytes, want.Dead, want.DeadBytes = 21+11, 4, 44
	want.Live = 2
	check("batch")
	must(tb.Put(ctx, "b", twenty)) // the batch's write of b is known
	want.LiveBytes, want.Dead, want.DeadBytes = 21+21, 5, 55
	check("put after batch")
}

// A restore brings back older values: the recent writes made before it
// must not be taken for what the restored database holds.
func TestRecentWritesForgottenAfterRestore(t *testing.T) {
	ctx := context.Background()
	tb := mustOpen(t, openTestStore(t, t.TempDir(), nil), "t")
	if err := tb.Put(ctx, "k", json.RawMessage(`"12345678"`)); err != nil { // 10 bytes
		t.Fatal(err)
	}
	m, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Put(ctx, "k", json.RawMessage(`"`+strings.Repeat("x", 98)+`"`)); err != nil { // 100 bytes
		t.Fatal(err)
	}
	if err := tb.Put(ctx, "gone", json.RawMessage(`1`)); err != nil { // not in the backup
		t.Fatal(err)
	}
	if _, err := tb.Restore(ctx, m.ID, RestoreOptions{At: m.Created}, nil); err != nil { // the backup's state
		t.Fatal(err)
	}
	before := tb.deadSnapshot()
	if err := tb.Put(ctx, "k", json.RawMessage(`"123456789012345678"`)); err != nil { // 20 bytes over 10
		t.Fatal(err)
	}
	if err := tb.Put(ctx, "gone", json.RawMessage(`2`)); err != nil { // new again
		t.Fatal(err)
	}
	d := tb.deadSnapshot()
	if got, want := d.DeadBytes-before.DeadBytes, int64(1+10); got != want {
		t.Errorf("dead bytes added by the overwrite after restore: %d, want %d (the restored value's 10 bytes + key)", got, want)
	}
	if got, want := d.Dead-before.Dead, int64(1); got != want {
		t.Errorf("dead records added after restore: %d, want %d (gone was not in the backup)", got, want)
	}
	if got, want := d.Live-before.Live, int64(1); got != want {
		t.Errorf("live records added after restore: %d, want %d", got, want)
	}
}

// The cache stays within its bound of key bytes however many keys are
// written, and still answers for the keys written since it started over.
func TestRecentLensBounded(t *testing.T) {
	var r recentLens
	key := func(i int) string { return fmt.Sprintf("%0100d", i) }
	n := 3 * recentMaxKeyBytes / 100
	for i := range n {
		r.set(nil, key(i), i%50)
		if r.keyBytes > recentMaxKeyBytes {
			t.Fatalf("after %d keys: %d key bytes held, bound %d", i+1, r.keyBytes, recentMaxKeyBytes)
		}
	}
	if existed, l, ok := r.lookup(nil, key(n-1)); !ok || !existed || l != (n-1)%50 {
		t.Errorf("last key: existed %v, len %d, known %v", existed, l, ok)
	}
	if _, _, ok := r.lookup(nil, key(0)); ok {
		t.Errorf("the first key is still held after %d keys of 100 bytes", n)
	}
	r.set(nil, "d", -1)
	if existed, _, ok := r.lookup(nil, "d"); !ok || existed {
		t.Errorf("deleted key: existed %v, known %v", existed, ok)
	}
}
