package tables

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

const (
	envSleepHelper = "CUSTODIAN_TABLES_SLEEP_HELPER"
	envSleepKillAt = "CUSTODIAN_TABLES_SLEEP_KILL_AT"
	sleepTablesN   = 4
)

// TestReviewSleepCrashHelper is the child of TestReviewSleepCrash: writers
// on every table of a store bounded to one awake table, with sweeps that
// put them to sleep and maintenance (backup, rewrite, verify) meanwhile;
// it SIGKILLs itself after killAt acknowledged writes.
func TestReviewSleepCrashHelper(t *testing.T) {
	if os.Getenv(envSleepHelper) != "1" {
		t.Skip("helper process")
	}
	ctx := context.Background()
	killAt, _ := strconv.Atoi(os.Getenv(envSleepKillAt))
	s, err := OpenStore(os.Getenv(envRoot), Options{MaxOpen: 1, BusyBytes: 32 << 10, NoSync: os.Getenv(envNoSync) == "1"})
	if err != nil {
		childExit(err)
	}
	tbs := make([]*Table, sleepTablesN)
	for i := range tbs {
		if tbs[i], err = s.Open(ctx, fmt.Sprintf("t%d", i), true); err != nil {
			childExit(err)
		}
		if _, err := tbs[i].Backup(ctx, nil); err != nil {
			childExit(err)
		}
	}
	var outMu sync.Mutex
	say := func(kind, k string, v json.RawMessage) {
		outMu.Lock()
		fmt.Fprintf(os.Stdout, "%s %s %s\n", kind, k, v)
		outMu.Unlock()
	}
	var acks atomic.Int64
	go func() {
		for {
			if _, err := s.SleepIdle(ctx, 0); err != nil {
				childExit(err)
			}
		}
	}()
	for i, tb := range tbs {
		go func() {
			for n := 0; ; n++ {
				var err error
				switch n % 3 {
				case 0:
					_, err = tb.Backup(ctx, nil)
				case 1:
					_, err = tb.Compact(ctx, ModeRewrite, nil)
				case 2:
					_, err = tb.Verify(ctx, nil)
				}
				if err != nil {
					childExit(fmt.Errorf("t%d: %w", i, err))
				}
			}
		}()
	}
	for w := 0; w < 4; w++ {
		go func() {
			for n := 0; ; n++ {
				ti := (n + w) % sleepTablesN
				k := fmt.Sprintf("w%d-%06d", w, n)
				v := json.RawMessage(fmt.Sprintf(`{"w":%d,"n":%d}`, w, n))
				key := fmt.Sprintf("t%d/%s", ti, k)
				say("try", key, v)
				if err := tbs[ti].Put(ctx, k, v); err != nil {
					childExit(err)
				}
				say("ack", key, v)
				if n%5 == 4 { // an overwrite of an own key
					hk := fmt.Sprintf("hot%d-%d", w, n%7)
					hv := json.RawMessage(strconv.Itoa(n))
					hkey := fmt.Sprintf("t%d/%s", ti, hk)
					say("try", hkey, hv)
					if err := tbs[ti].Batch(ctx, []Op{{Op: "put", Key: hk, Value: hv}}); err != nil {
						childExit(err)
					}
					say("ack", hkey, hv)
				}
				if acks.Add(1) == int64(killAt) {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
			}
		}()
	}
	select {}
}

// A SIGKILL while tables sleep and wake under a bound (and maintenance
// runs): after a restart every acknowledged write reads back (also from
// tables registered asleep from their sidecar), each table's live count
// from its sidecar is what a scan counts, and the first backup plus the
// journal (across every wake's flush into the archive) is the table.
func TestReviewSleepCrash(t *testing.T) {
	if os.Getenv(envSleepHelper) == "1" {
		t.Skip("in the helper")
	}
	for _, noSync := range []bool{false, true} {
		for round, killAt := range []int{500, 1500} {
			t.Run(fmt.Sprintf("nosync=%v/%d", noSync, round), func(t *testing.T) {
				sleepCrash(t, noSync, killAt)
			})
		}
	}
}

func sleepCrash(t *testing.T, noSync bool, killAt int) {
	ctx := context.Background()
	root := t.TempDir()
	cmd := childCmd("TestReviewSleepCrashHelper", envSleepHelper+"=1", envRoot+"="+root, envSleepKillAt+"="+strconv.Itoa(killAt))
	if noSync {
		cmd.Env = append(cmd.Env, envNoSync+"=1")
	}
	stdout := runChildUntilKilled(t, cmd, "")
	acks := newAckLog()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		acks.add(sc.Text())
	}
	if len(acks.acked) < killAt/2 {
		t.Fatalf("only %d keys acknowledged", len(acks.acked))
	}
	for _, maxOpen := range []int{1, 0} { // registered asleep, then all opened
		s, err := OpenStore(root, Options{MaxOpen: maxOpen})
		if err != nil {
			t.Fatal(err)
		}
		tbs := map[string]*Table{}
		for i := 0; i < sleepTablesN; i++ {
			name := fmt.Sprintf("t%d", i)
			if tbs[name], err = s.Open(ctx, name, false); err != nil {
				t.Fatal(err)
			}
		}
		for key, v := range acks.acked {
			name, k := key[:2], key[3:]
			got, err := tbs[name].Get(ctx, k)
			if err != nil || !acks.holds(key, string(got)) {
				t.Fatalf("max open %d: acknowledged %s=%s reads %s %v", maxOpen, key, v, got, err)
			}
		}
		for name, tb := range tbs {
			st, err := tb.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			vr, err := tb.Verify(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.Records != vr.Records {
				t.Fatalf("max open %d: %s: the estimate says %d live records, a scan counts %d", maxOpen, name, st.Records, vr.Records)
			}
			if _, err := tb.Drill(ctx, nil); err != nil {
				t.Fatalf("max open %d: %s: drill: %v", maxOpen, name, err)
			}
		}
		if maxOpen == 0 {
			for name, tb := range tbs {
				bs, err := s.Backups(name)
				if err != nil || len(bs) == 0 {
					t.Fatalf("%s: backups %v %v", name, bs, err)
				}
				rr, err := tb.RestoreFrom(ctx, bs[len(bs)-1].ID, nil)
				if err != nil || rr.Lost {
					t.Fatalf("%s: restore of the first backup: %+v %v", name, rr, err)
				}
				for key := range acks.acked {
					if key[:2] != name {
						continue
					}
					got, err := tb.Get(ctx, key[3:])
					if err != nil || !acks.holds(key, string(got)) {
						t.Fatalf("%s: after the restore %s reads %s %v", name, key, got, err)
					}
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
