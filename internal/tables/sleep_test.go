package tables

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

func openBoundedStore(t *testing.T, root string, maxOpen int, det *detections) *Store {
	t.Helper()
	opts := Options{MaxOpen: maxOpen}
	if det != nil {
		opts.OnCorruption = det.record
	}
	s, err := OpenStore(root, opts)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A sleeping table answers every request after opening again, holds no
// open file meanwhile, and its journal goes on: a restore of a backup taken
// before the sleeps brings back every write made across them.
func TestSleepingTableWakesOnRequest(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	m.churn(t, tb, "a", "first", 5)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lastWrite uint64
	for round := 0; round < 3; round++ {
		m.churn(t, tb, "b", fmt.Sprint("round", round), 5)
		before, err := tb.Position()
		if err != nil {
			t.Fatal(err)
		}
		lastWrite = before
		stBefore, err := tb.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slept, err := tb.Sleep(0)
		if err != nil || !slept {
			t.Fatalf("round %d: sleep: %v, %v", round, slept, err)
		}
		if !tb.Asleep() || s.Awake() != 0 {
			t.Fatalf("round %d: asleep %v, %d awake: want asleep, 0", round, tb.Asleep(), s.Awake())
		}
		if ok, why := tb.Available(); !ok {
			t.Fatalf("round %d: a sleeping table is available, got %q", round, why)
		}
		if p, err := tb.Position(); err != nil || p != before {
			t.Fatalf("round %d: position asleep %d (%v), want %d", round, p, err, before)
		}
		st, err := tb.Stats(ctx)
		if err != nil || st.Records != stBefore.Records || st.DeadRecords != stBefore.DeadRecords {
			t.Fatalf("round %d: stats asleep %+v (%v): want %+v", round, st, err, stBefore)
		}
		if tb.Asleep() == false {
			t.Fatalf("round %d: Stats or Position woke the table", round)
		}
		m.holds(t, tb, fmt.Sprint("round ", round, " after waking")) // Scan wakes it
		if tb.Asleep() || s.Awake() != 1 {
			t.Fatalf("round %d: a scan did not wake the table", round)
		}
		// goleveldb's open leaves its sequence one past the last write
		// (see changelog.Journal.WantSlack).
		if p, _ := tb.Position(); p != before && p != before+1 {
			t.Fatalf("round %d: position after waking %d, want %d or one more", round, p, before)
		}
	}
	want := lastWrite
	if _, err := tb.Sleep(0); err != nil {
		t.Fatal(err)
	}
	rr, err := tb.RestoreFrom(ctx, b.ID, nil) // restores a sleeping table
	if err != nil {
		t.Fatal(err)
	}
	if rr.Lost || rr.Position != want {
		t.Fatalf("restore %+v: want nothing lost, position %d", rr, want)
	}
	m.holds(t, tb, "after the restore")
}

// Sleep leaves a table alone while it was used lately, while maintenance
// holds it, and while it does not serve.
func TestSleepLeavesBusyTablesAwake(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "k", 0, 10)
	if slept, err := tb.Sleep(time.Hour); slept || err != nil {
		t.Fatalf("a table used just now slept: %v %v", slept, err)
	}
	tb.opMu.Lock()
	slept, err := tb.Sleep(0)
	tb.opMu.Unlock()
	if slept || err != nil {
		t.Fatalf("a table under maintenance slept: %v %v", slept, err)
	}
	tb.SetUnavailable("degraded")
	if slept, _ := tb.Sleep(0); slept {
		t.Fatal("an unavailable table slept")
	}
	if err := tb.SetAvailable(); err != nil {
		t.Fatal(err)
	}
	if slept, _ := tb.Sleep(0); !slept {
		t.Fatal("an idle table did not sleep")
	}
	tb.SetUnavailable("degraded")
	if _, err := tb.Get(context.Background(), "k000001"); apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Fatalf("get on a sleeping unavailable table: %v, want table_unavailable", err)
	}
	if !tb.Asleep() {
		t.Fatal("a refused request woke the table")
	}
}

// MaxOpen bounds the awake tables while requests go to every table, and a
// store reopened with many tables registers those beyond the bound asleep
// (without opening them) from what their clean close saved.
func TestMaxOpenBoundsAwakeTables(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	const n, bound = 24, 4
	s := openBoundedStore(t, root, bound, nil)
	pos := map[string]uint64{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("t%02d", i)
		tb := mustOpen(t, s, name)
		fill(t, tb, "k", 0, 3+i)
		if a := s.Awake(); a > bound {
			t.Fatalf("after opening %s: %d tables awake, bound %d", name, a, bound)
		}
	}
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("t%02d", i)
			tb := mustOpen(t, s, name)
			if _, err := tb.Get(ctx, fmt.Sprintf("k%06d", 2+i)); err != nil {
				t.Fatalf("%s: get: %v", name, err)
			}
			if a := s.Awake(); a > bound {
				t.Fatalf("round %d, %s: %d tables awake, bound %d", round, name, a, bound)
			}
			pos[name], _ = tb.Position()
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openBoundedStore(t, root, bound, nil)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("t%02d", i)
		tb := mustOpen(t, s2, name)
		if i >= bound && !tb.Asleep() {
			t.Fatalf("%s opened beyond the bound: want it registered asleep", name)
		}
		if p, err := tb.Position(); err != nil || p != pos[name] {
			t.Fatalf("%s: position %d (%v) after a restart, want %d", name, p, err, pos[name])
		}
		st, err := tb.Stats(ctx)
		if err != nil || st.Records != int64(3+i) {
			t.Fatalf("%s: stats %+v (%v), want %d records", name, st, err, 3+i)
		}
	}
	if a := s2.Awake(); a != bound {
		t.Fatalf("%d tables awake after the restart, want %d", a, bound)
	}
	for i := 0; i < n; i++ {
		tb := mustOpen(t, s2, fmt.Sprintf("t%02d", i))
		for k := 0; k < 3+i; k++ {
			if _, err := tb.Get(ctx, fmt.Sprintf("k%06d", k)); err != nil {
				t.Fatalf("t%02d: get k%06d after a restart: %v", i, k, err)
			}
		}
	}
}

// A table damaged while it sleeps is found when it wakes: the request
// answers table_unavailable and the corruption is reported (the supervisor
// restores it), nothing is served from the damaged files.
func TestWakeFindsDamage(t *testing.T) {
	ctx := context.Background()
	det := &detections{}
	s := openTestStore(t, t.TempDir(), det)
	s.opts.OnCorruption = det.record
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 3000)
	if _, err := tb.Compact(ctx, ModeNative, nil); err != nil { // into table files
		t.Fatal(err)
	}
	if _, err := tb.Sleep(0); err != nil {
		t.Fatal(err)
	}
	manifests, err := filepath.Glob(filepath.Join(tb.Dir(), "MANIFEST-*"))
	if err != nil || len(manifests) != 1 {
		t.Fatalf("manifests %v (%v)", manifests, err)
	}
	flipByte(t, manifests[0], 20)
	_, err = tb.Get(ctx, "k000001")
	if apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Fatalf("get on a damaged sleeping table: %v, want table_unavailable", err)
	}
	if len(det.list()) == 0 {
		t.Fatal("the damage found by the wake was not reported")
	}
	if ok, why := tb.Available(); ok || why != ReasonCorrupted {
		t.Fatalf("after the damaged wake: available %v %q, want corrupted", ok, why)
	}
}

// Many goroutines reading and writing tables beyond the bound while an
// idle sweep puts them to sleep: every acknowledged write is read back.
func TestSleepUnderLoad(t *testing.T) {
	ctx := context.Background()
	s := openBoundedStore(t, t.TempDir(), 2, nil)
	const tablesN, writers, puts = 6, 6, 60
	for i := 0; i < tablesN; i++ {
		mustOpen(t, s, fmt.Sprintf("t%d", i))
	}
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Add(1)
	go func() {
		defer sweeps.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.SleepIdle(ctx, 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < puts; i++ {
				tb := mustOpen(t, s, fmt.Sprintf("t%d", (w+i)%tablesN))
				key := fmt.Sprintf("w%d-%03d", w, i)
				if err := tb.Put(ctx, key, val(i)); err != nil {
					errs <- fmt.Errorf("put %s: %w", key, err)
					return
				}
				if _, err := tb.Get(ctx, key); err != nil {
					errs <- fmt.Errorf("get %s: %w", key, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	sweeps.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < puts; i++ {
			tb := mustOpen(t, s, fmt.Sprintf("t%d", (w+i)%tablesN))
			if _, err := tb.Get(ctx, fmt.Sprintf("w%d-%03d", w, i)); err != nil {
				t.Fatalf("w%d-%03d: %v", w, i, err)
			}
		}
	}
	if a := s.Awake(); a > 2 {
		t.Fatalf("%d awake, bound 2", a)
	}
}

// Marks: a sleeping table with no write since a mark is unchanged for it;
// a write (which wakes it) changes it.
func TestMarksSayWhatChanged(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "k", 0, 5)
	pos, _ := tb.Position()
	tb.Mark("backup", pos)
	if tb.Unchanged("backup") {
		t.Fatal("an awake table counts as unchanged")
	}
	if _, err := tb.Sleep(0); err != nil {
		t.Fatal(err)
	}
	if !tb.Unchanged("backup") || tb.Unchanged("verify") {
		t.Fatalf("asleep: unchanged backup %v verify %v, want true false", tb.Unchanged("backup"), tb.Unchanged("verify"))
	}
	fill(t, tb, "k", 5, 6)
	if _, err := tb.Sleep(0); err != nil {
		t.Fatal(err)
	}
	if tb.Unchanged("backup") {
		t.Fatal("a table written after its mark counts as unchanged")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = ctx
}

// A table that writes fast is reopened with the big write buffer by the
// idle sweep; its data stays whole.
func TestBusyTableGetsTheBigBuffer(t *testing.T) {
	root := t.TempDir()
	s, err := OpenStore(root, Options{BusyBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 1000) // ~100 KiB
	if tb.isBusySized() {
		t.Fatal("busy-sized before the sweep")
	}
	if _, err := s.SleepIdle(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if !tb.isBusySized() || tb.Asleep() {
		t.Fatalf("after the sweep: busy %v asleep %v, want busy and awake", tb.isBusySized(), tb.Asleep())
	}
	for i := 0; i < 1000; i++ {
		if _, err := tb.Get(context.Background(), fmt.Sprintf("k%06d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

var _ = errors.Is
