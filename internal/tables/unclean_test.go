package tables

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// envCountHelper, set to a record count, makes TestCountHelperProcess the
// child of TestRecordCountAfterSIGKILL.
const envCountHelper = "CUSTODIAN_TABLES_COUNT_HELPER"

// countWorkload is what the child writes to table "t": n keys, a tenth of
// them overwritten, every seventh deleted (batches, then a few single puts
// and deletes through the single-op path). It returns the live records and
// live bytes it leaves.
func countWorkload(ctx context.Context, tb *Table, n int) (int64, int64, error) {
	key := func(i int) string { return fmt.Sprintf("k%06d", i) }
	live := map[string]int{}
	var ops []Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		err := tb.Batch(ctx, ops)
		ops = nil
		return err
	}
	add := func(o Op) error {
		ops = append(ops, o)
		if o.Op == "put" {
			live[o.Key] = len(o.Key) + len(o.Value)
		} else {
			delete(live, o.Key)
		}
		if len(ops) == 100 {
			return flush()
		}
		return nil
	}
	single := n / 50
	for i := 0; i < n-single; i++ {
		if err := add(Op{Op: "put", Key: key(i), Value: val(i)}); err != nil {
			return 0, 0, err
		}
	}
	for i := 0; i < (n-single)/10; i++ {
		if err := add(Op{Op: "put", Key: key(i), Value: val(i + 1)}); err != nil {
			return 0, 0, err
		}
	}
	for i := 3; i < n-single; i += 7 {
		if err := add(Op{Op: "delete", Key: key(i)}); err != nil {
			return 0, 0, err
		}
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	for i := n - single; i < n; i++ {
		if err := tb.Put(ctx, key(i), val(i)); err != nil {
			return 0, 0, err
		}
		live[key(i)] = len(key(i)) + len(val(i))
	}
	for i := 4; i < n && i < 4+7*single; i += 7 {
		if err := tb.Delete(ctx, key(i)); err != nil {
			return 0, 0, err
		}
		delete(live, key(i))
	}
	var b int64
	for _, l := range live {
		b += int64(l)
	}
	return int64(len(live)), b, nil
}

// TestCountHelperProcess is the child of TestRecordCountAfterSIGKILL: it
// writes countWorkload, prints "live <records> <bytes>" and SIGKILLs itself
// with the table open.
func TestCountHelperProcess(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv(envCountHelper))
	if err != nil {
		t.Skip("helper process")
	}
	tb := childTable(os.Getenv(envRoot), Options{NoSync: os.Getenv(envNoSync) == "1"})
	ctx := context.Background()
	live, lb, err := countWorkload(ctx, tb, n)
	if err != nil {
		childExit(err)
	}
	fmt.Fprintf(os.Stdout, "live %d %d\n", live, lb)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestRecordCountAfterSIGKILL: a child writes records and is SIGKILLed with
// the table open; reopened, the table's live-record estimate is what the
// child left (the sidecar it saved was behind), before any Verify.
func TestRecordCountAfterSIGKILL(t *testing.T) {
	if os.Getenv(envCountHelper) != "" || os.Getenv(envHelper) == "1" {
		t.Skip("in a helper")
	}
	for _, noSync := range []bool{false, true} {
		for _, n := range []int{5, 3000} {
			name := fmt.Sprintf("%s-%d", map[bool]string{false: "sync", true: "nosync"}[noSync], n)
			t.Run(name, func(t *testing.T) {
				root := t.TempDir()
				cmd := childCmd("TestCountHelperProcess", envCountHelper+"="+strconv.Itoa(n), envRoot+"="+root)
				if noSync {
					cmd.Env = append(cmd.Env, envNoSync+"=1")
				}
				stdout := runChildUntilKilled(t, cmd, "")
				var want, wantBytes int64
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					fmt.Sscanf(sc.Text(), "live %d %d", &want, &wantBytes)
				}
				if want == 0 {
					t.Fatalf("child reported no count; stdout %q", stdout.String())
				}
				// The premise: the sidecar the crash left is stale and not clean.
				dir := filepath.Join(root, tablesDir, "t")
				sd, ok, err := readDead(dir)
				if err != nil || !ok {
					t.Fatalf("sidecar after the crash: %v %v", ok, err)
				}
				if sd.Clean || sd.Live == want {
					t.Fatalf("sidecar after the crash %+v: want not clean and behind %d live records", sd, want)
				}

				ctx := context.Background()
				s := openTestStore(t, root, nil)
				tb, err := s.Open(ctx, "t", false)
				if err != nil {
					t.Fatal(err)
				}
				st, err := tb.Stats(ctx)
				if err != nil || st.Records != want {
					t.Fatalf("after reopen: stats %+v %v, want %d records", st, err, want)
				}
				if lb := tb.deadSnapshot().LiveBytes; lb != wantBytes {
					t.Fatalf("after reopen: live bytes %d, want %d", lb, wantBytes)
				}
				// Dead records keep the last saved figure.
				if st.DeadRecords != sd.Dead {
					t.Fatalf("after reopen: dead %d, want the saved %d", st.DeadRecords, sd.Dead)
				}
				vr, err := tb.Verify(ctx, nil)
				if err != nil || vr.Records != want {
					t.Fatalf("verify %+v %v, want %d records", vr, err, want)
				}
				if st, _ := tb.Stats(ctx); st.Records != want {
					t.Fatalf("after verify: %d records, want %d", st.Records, want)
				}
			})
		}
	}
}

// TestSidecarCleanFlag: the sidecar says clean only after a clean close; an
// open table's sidecar says not clean on disk.
func TestSidecarCleanFlag(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	dir := tb.Dir()
	fill(t, tb, "k", 0, 10)
	if d, ok, err := readDead(dir); err != nil || !ok || d.Clean {
		t.Fatalf("sidecar of an open table: %+v %v %v", d, ok, err)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	d, ok, err := readDead(dir)
	if err != nil || !ok || !d.Clean || d.Live != 10 {
		t.Fatalf("sidecar after close: %+v %v %v", d, ok, err)
	}
	// A clean sidecar is trusted (no recount): a wrong one shows.
	d.Live = 3
	if err := writeDead(dir, d, true); err != nil {
		t.Fatal(err)
	}
	tb = mustOpen(t, s, "t")
	if st, _ := tb.Stats(ctx); st.Records != 3 {
		t.Fatalf("a clean sidecar was not trusted: %d records", st.Records)
	}
	if d, _, _ := readDead(dir); d.Clean {
		t.Fatal("sidecar still says clean after open")
	}
	// The same wrong figure marked not clean is recounted.
	tb.Close()
	d.Clean = false
	if err := writeDead(dir, d, true); err != nil {
		t.Fatal(err)
	}
	tb = mustOpen(t, s, "t")
	if st, _ := tb.Stats(ctx); st.Records != 10 {
		t.Fatalf("an unclean sidecar was not recounted: %d records", st.Records)
	}
}

// TestVerifyCorrectsLiveCount: a wrong (clean) sidecar is trusted at open,
// and Verify corrects the live figures while writers add keys.
func TestVerifyCorrectsLiveCount(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 20000)
	wantBytes := tb.deadSnapshot().LiveBytes
	dir := tb.Dir()
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	d, _, err := readDead(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Live, d.LiveBytes = 7, 1
	if err := writeDead(dir, d, true); err != nil {
		t.Fatal(err)
	}
	tb = mustOpen(t, s, "t")
	if st, _ := tb.Stats(ctx); st.Records != 7 {
		t.Fatalf("premise: the wrong sidecar reads %d records", st.Records)
	}
	// Writers add new keys (and overwrite old ones) while Verify runs.
	var added sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d-%06d", w, n)
				v := json.RawMessage(`{"x":1}`)
				if err := tb.Put(ctx, k, v); err != nil {
					t.Errorf("put: %v", err)
					return
				}
				added.Store(k, len(k)+len(v))
				if err := tb.Put(ctx, fmt.Sprintf("k%06d", n%20000), val(n%20000)); err != nil {
					t.Errorf("put: %v", err)
					return
				}
			}
		}(w)
	}
	vr, err := tb.Verify(ctx, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var nAdded, bAdded int64
	added.Range(func(_, v any) bool {
		nAdded++
		bAdded += int64(v.(int))
		return true
	})
	if vr.Records < 20000 || vr.Records > 20000+nAdded {
		t.Fatalf("verify counted %d records, want 20000..%d", vr.Records, 20000+nAdded)
	}
	st, _ := tb.Stats(ctx)
	if st.Records != 20000+nAdded {
		t.Fatalf("after verify: %d records, want %d (%d added during it)", st.Records, 20000+nAdded, nAdded)
	}
	if lb := tb.deadSnapshot().LiveBytes; lb != wantBytes+bAdded {
		t.Fatalf("after verify: %d live bytes, want %d", lb, wantBytes+bAdded)
	}
	t.Logf("%d keys added during verify (%d counted by it)", nAdded, vr.Records-20000)
	// The correction is saved: it survives an unclean stop's reopen as the
	// last saved figure (and a recount would find it anyway).
	if d, _, _ := readDead(dir); d.Live < 20000 {
		t.Fatalf("corrected estimate not saved: %+v", d)
	}
}
