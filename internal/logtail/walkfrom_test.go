package logtail

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWalkFromEveryRecordBoundary: for every record boundary of a real
// journal (records that cross blocks included), a walk of the window from
// that boundary's block on yields exactly the records a whole walk yields
// after it, at the same offsets, and the same tail.
func TestWalkFromEveryRecordBoundary(t *testing.T) {
	j := makeJournalDB(t, 60, 70_000)
	b, err := os.ReadFile(filepath.Join(j.dir, j.log))
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		off int64
		b   []byte
	}
	var all []rec
	whole, err := Walk(b, func(off int64, r []byte) error {
		all = append(all, rec{off, append([]byte(nil), r...)})
		return nil
	})
	if err != nil || !whole.Whole() || len(all) != 61 {
		t.Fatalf("whole walk: %+v %v, %d records", whole, err, len(all))
	}
	bounds := []int64{0}
	for _, r := range all[1:] {
		bounds = append(bounds, r.off)
	}
	bounds = append(bounds, whole.Valid)
	for i, from := range bounds {
		base := from &^ (blockSize - 1)
		var got []rec
		tail, err := WalkFrom(b[base:], base, from, func(off int64, r []byte) error {
			got = append(got, rec{off, append([]byte(nil), r...)})
			return nil
		})
		if err != nil || tail != whole {
			t.Fatalf("from %d: tail %+v %v, want %+v", from, tail, err, whole)
		}
		want := all[min(i, len(all)):]
		if len(got) != len(want) {
			t.Fatalf("from %d: %d records, want %d", from, len(got), len(want))
		}
		for k := range got {
			if got[k].off != want[k].off || !bytes.Equal(got[k].b, want[k].b) {
				t.Fatalf("from %d: record %d at %d, want at %d", from, k, got[k].off, want[k].off)
			}
		}
	}
	if _, err := WalkFrom(b, 1, 1, nil); err == nil {
		t.Fatal("a window not at a block boundary was accepted")
	}
}
