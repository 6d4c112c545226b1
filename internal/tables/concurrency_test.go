package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
)

// writer writes seq keys w<id>-<n> in order, overwrites its own hot keys
// and deletes every 7th seq key it wrote, recording what it acknowledged.
type writer struct {
	id      int
	seq     int            // seq keys acknowledged: w<id>-000000 .. seq-1
	hot     map[string]int // hot key -> last acknowledged counter
	deleted map[string]bool
	err     error
}

func (w *writer) run(ctx context.Context, tb *Table, stop <-chan struct{}, deletes bool) {
	w.hot = map[string]int{}
	w.deleted = map[string]bool{}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		k := fmt.Sprintf("w%d-%06d", w.id, n)
		if err := tb.Put(ctx, k, json.RawMessage(fmt.Sprintf(`{"w":%d,"n":%d}`, w.id, n))); err != nil {
			w.err = err
			return
		}
		w.seq = n + 1
		hk := fmt.Sprintf("hot%d-%02d", w.id, n%10)
		if err := tb.Put(ctx, hk, json.RawMessage(fmt.Sprint(n))); err != nil {
			w.err = err
			return
		}
		w.hot[hk] = n
		if deletes && n%7 == 3 {
			dk := fmt.Sprintf("w%d-%06d", w.id, n-3)
			if err := tb.Delete(ctx, dk); err != nil {
				w.err = err
				return
			}
			w.deleted[dk] = true
		}
	}
}

// checkAcked checks that every acknowledged write of ws is readable.
func checkAcked(t *testing.T, tb *Table, ws []*writer) {
	t.Helper()
	ctx := context.Background()
	for _, w := range ws {
		if w.err != nil {
			t.Fatalf("writer %d: %v", w.id, w.err)
		}
		if w.seq == 0 {
			t.Fatalf("writer %d acknowledged nothing", w.id)
		}
		for n := 0; n < w.seq; n++ {
			k := fmt.Sprintf("w%d-%06d", w.id, n)
			v, err := tb.Get(ctx, k)
			if w.deleted[k] {
				if err == nil {
					t.Fatalf("%s was deleted (acknowledged) but reads %s", k, v)
				}
				continue
			}
			if err != nil || string(v) != fmt.Sprintf(`{"w":%d,"n":%d}`, w.id, n) {
				t.Fatalf("acknowledged %s: %s %v", k, v, err)
			}
		}
		for hk, n := range w.hot {
			v, err := tb.Get(ctx, hk)
			if err != nil || string(v) != fmt.Sprint(n) {
				t.Fatalf("hot key %s: %s %v, want %d", hk, v, err, n)
			}
		}
	}
}

func startWriters(ctx context.Context, tb *Table, n int, deletes bool) ([]*writer, func()) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ws := make([]*writer, n)
	for i := range ws {
		ws[i] = &writer{id: i}
		wg.Add(1)
		go func(w *writer) {
			defer wg.Done()
			w.run(ctx, tb, stop, deletes)
		}(ws[i])
	}
	return ws, func() { close(stop); wg.Wait() }
}

func TestRewriteWithFourWriters(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 20000)
	fillBatch(t, tb, "k", 0, 10000) // overwrites: dead records
	st, _ := tb.Stats(ctx)
	if st.DeadRecords != 10000 || st.Records != 20000 {
		t.Fatalf("stats before %+v", st)
	}
	ws, stop := startWriters(ctx, tb, 4, true)
	res, err := tb.Compact(ctx, ModeAuto, nil)
	stop()
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	if res.Mode != ModeRewrite || res.DeadRatio < 0.28 || res.BytesBefore <= 0 || res.BytesAfter <= 0 || res.PauseMS <= 0 {
		t.Fatalf("compact result %+v", res)
	}
	t.Logf("rewrite: %+v; writers acked %d %d %d %d", res, ws[0].seq, ws[1].seq, ws[2].seq, ws[3].seq)
	checkAcked(t, tb, ws)
	for i := 0; i < 20000; i += 997 {
		if v, err := tb.Get(ctx, fmt.Sprintf("k%06d", i)); err != nil || string(v) != string(val(i)) {
			t.Fatalf("k%06d after rewrite: %s %v", i, v, err)
		}
	}
	// The estimate was reset to what is live, and is right.
	vr, err := tb.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _ = tb.Stats(ctx)
	if st.Records != vr.Records || st.DeadRecords > 500 { // writers went on after the swap
		t.Fatalf("stats after rewrite %+v, verify counted %d", st, vr.Records)
	}
	if lo := leftovers(t, root); len(lo) != 0 {
		t.Fatalf("leftovers %v", lo)
	}
	// After a restart everything is still there.
	s.Close()
	s2 := openTestStore(t, root, nil)
	tb2, err := s2.Open(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	checkAcked(t, tb2, ws)
	st2, _ := tb2.Stats(ctx)
	if st2.Records != vr.Records {
		t.Fatalf("records after restart %d want %d", st2.Records, vr.Records)
	}
}

func TestNativeCompaction(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 5000)
	ws, stop := startWriters(ctx, tb, 4, true)
	res, err := tb.Compact(ctx, ModeNative, nil)
	stop()
	if err != nil || res.Mode != ModeNative {
		t.Fatalf("native: %+v %v", res, err)
	}
	checkAcked(t, tb, ws)
	if _, err := tb.Compact(ctx, "bogus", nil); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if m := ChooseMode(0.05, 0.9); m != ModeNative {
		t.Fatalf("auto at 5%%: %s", m)
	}
	if m := ChooseMode(0.15, 0.9); m != ModeRewrite {
		t.Fatalf("auto at 15%% with a deep level of 90%%: %s", m)
	}
	if m := ChooseMode(0.15, 0.5); m != ModeNative {
		t.Fatalf("auto at 15%% with a deep level of 50%%: %s", m)
	}
}

func TestBackupWithFourWriters(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 20000)
	ws, stop := startWriters(ctx, tb, 4, false)
	var progressCalls int
	m, err := tb.Backup(ctx, func(done, total int64, unit string) { progressCalls++ })
	stop()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if m.Records < 20000 || m.Position == nil {
		t.Fatalf("manifest %+v", m)
	}
	if progressCalls == 0 {
		t.Fatal("no progress reported")
	}
	checkAcked(t, tb, ws)
	// The backup on disk digests to its manifest, and it is a consistent
	// cut: every writer's seq keys in it form a prefix 0..k-1.
	dir, _ := s.BackupDir("t", m.ID)
	vr, err := VerifyDir(ctx, dir)
	if err != nil || vr.Digest != m.Digest || vr.Records != m.Records {
		t.Fatalf("backup on disk %+v %v, manifest %+v", vr, err, m)
	}
	db, err := leveldb.OpenFile(dir, dbOptions(true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, w := range ws {
		n := 0
		for ; ; n++ {
			_, err := db.Get([]byte(fmt.Sprintf("w%d-%06d", w.id, n)), nil)
			if errors.Is(err, leveldb.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for m := n + 1; m < w.seq; m++ {
			if _, err := db.Get([]byte(fmt.Sprintf("w%d-%06d", w.id, m)), nil); err == nil {
				t.Fatalf("backup holds w%d-%06d but not w%d-%06d: not a consistent cut", w.id, m, w.id, n)
			}
		}
	}
	for i := 0; i < 20000; i += 501 {
		v, err := db.Get([]byte(fmt.Sprintf("k%06d", i)), nil)
		if err != nil || string(v) != string(val(i)) {
			t.Fatalf("backup k%06d: %s %v", i, v, err)
		}
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	var ids []string
	for i := 0; i < 4; i++ {
		fill(t, tb, "k", i, i+1)
		m, err := tb.Backup(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	pruned, err := s.Prune("t", 2)
	if err != nil || len(pruned) != 2 || pruned[0].ID != ids[1] || pruned[1].ID != ids[0] {
		t.Fatalf("pruned %+v %v (ids %v)", pruned, err, ids)
	}
	bs, _ := s.Backups("t")
	if len(bs) != 2 || bs[0].ID != ids[3] || bs[1].ID != ids[2] || bs[0].Records != 4 {
		t.Fatalf("kept %+v", bs)
	}
	if p, err := s.Prune("t", 0); err != nil || len(p) != 0 {
		t.Fatalf("prune with the default retention (7) pruned %+v %v", p, err)
	}
}

func TestFailedRewriteLeavesTableAsItWas(t *testing.T) {
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 5000)
	fillBatch(t, tb, "k", 0, 3000)
	before, err := tb.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stBefore, _ := tb.Stats(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the copy has been made: the rewrite must give up, remove
	// its copy and leave the live table serving as it was.
	_, err = tb.Compact(ctx, ModeRewrite, func(done, total int64, unit string) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled rewrite: %v", err)
	}
	if lo := leftovers(t, root); len(lo) != 0 {
		t.Fatalf("leftovers %v", lo)
	}
	after, err := tb.Verify(context.Background(), nil)
	if err != nil || after != before {
		t.Fatalf("after a failed rewrite %+v %v, before %+v", after, err, before)
	}
	if st, _ := tb.Stats(context.Background()); st.DeadRecords != stBefore.DeadRecords || st.Records != stBefore.Records {
		t.Fatalf("estimate changed by a failed rewrite: %+v, before %+v", st, stBefore)
	}
	if err := tb.Put(context.Background(), "after", val(1)); err != nil {
		t.Fatalf("put after a failed rewrite: %v", err)
	}
}
