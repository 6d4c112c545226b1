package tables

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// Environment of the helper process.
const (
	envHelper    = "CUSTODIAN_TABLES_HELPER"
	envRoot      = "CUSTODIAN_TABLES_ROOT"
	envFailpoint = "CUSTODIAN_TABLES_FAILPOINT"
	envNoSync    = "CUSTODIAN_TABLES_NOSYNC" // "1": the child writes with Options.NoSync
)

// TestHelperProcess is the child of TestCrashAtEveryFailpoint: it writes and
// acknowledges records (a line "ack <key> <value>" on stdout after each Put
// returns), runs the operation the failpoint belongs to, and SIGKILLs itself
// when the failpoint is reached.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("helper process")
	}
	fp := os.Getenv(envFailpoint)
	var outMu sync.Mutex
	ack := func(k string, v json.RawMessage) {
		outMu.Lock()
		fmt.Fprintf(os.Stdout, "ack %s %s\n", k, v)
		outMu.Unlock()
	}
	// Armed when the operation starts (a journal is archived at every open
	// too: that is not the crash this child is for).
	var armed atomic.Bool
	tb := childTable(os.Getenv(envRoot), Options{NoSync: os.Getenv(envNoSync) == "1", Failpoint: func(name string) {
		if name == fp && armed.Load() {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never returns
		}
	}})
	ctx := context.Background()
	put := func(k string, v json.RawMessage) {
		outMu.Lock()
		fmt.Fprintf(os.Stdout, "try %s %s\n", k, v)
		outMu.Unlock()
		if err := tb.Put(ctx, k, v); err != nil {
			fmt.Fprintln(os.Stderr, "put:", err)
			os.Exit(3)
		}
		ack(k, v)
	}
	var ops []Op
	for i := 0; i < 5000; i++ {
		ops = append(ops, Op{Op: "put", Key: fmt.Sprintf("k%06d", i), Value: val(i)})
		if len(ops) == 500 {
			if err := tb.Batch(ctx, ops); err != nil {
				os.Exit(3)
			}
			for _, o := range ops {
				ack(o.Key, o.Value)
			}
			ops = nil
		}
	}
	kind := strings.SplitN(fp, ".", 2)[0]
	// A backup, then writes that only the journal holds: a restore (here,
	// or after the crash) must bring them back. (The backup failpoints
	// crash in the operation's own backup.)
	var backupID string
	var err error
	if kind != "backup" {
		m, err := tb.Backup(ctx, nil)
		if err != nil {
			os.Exit(3)
		}
		backupID = m.ID
	}
	for i := 0; i < 2000; i++ { // overwrites: dead records
		put(fmt.Sprintf("k%06d", i), val(i+1))
	}
	// Writers during the operation (not for a restore: the table takes no
	// writes while it is restored; not for a salvage: it runs on a
	// quarantined table that takes no writes).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if kind != "restore" && kind != "salvage" {
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
					put(fmt.Sprintf("w%d-%06d", w, n), json.RawMessage(fmt.Sprint(n)))
					// Each writer overwrites its own keys, so that the last
					// acknowledged value of a key is well defined.
					put(fmt.Sprintf("k%06d", (2*n+w)%5000), json.RawMessage(fmt.Sprintf(`{"w":%d,"n":%d}`, w, n)))
				}
			}(w)
		}
	}
	if kind == "salvage" {
		if _, err := tb.Quarantine(ctx); err != nil {
			os.Exit(3)
		}
	}
	armed.Store(true)
	switch kind {
	case "salvage":
		_, err = tb.Salvage(ctx, nil)
	case "rewrite":
		_, err = tb.Compact(ctx, ModeRewrite, nil)
	case "backup":
		_, err = tb.Backup(ctx, nil)
	case "restore":
		_, err = tb.RestoreFrom(ctx, backupID, nil)
	case "drill":
		_, err = tb.Drill(ctx, nil)
	case "journal":
		// Writes until goleveldb flushes its write buffer and removes
		// (archives) a journal.
		for i := 0; i < 4000; i++ {
			put(fmt.Sprintf("big%06d", i%500), json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("p", 4000))))
		}
	}
	close(stop)
	wg.Wait()
	fmt.Fprintf(os.Stderr, "failpoint %s not reached (err %v)\n", fp, err)
	os.Exit(4)
}

// TestCrashAtEveryFailpoint SIGKILLs a child at every failpoint, once with
// the default fsynced writes and once with Options.NoSync (maintenance must
// not depend on the writes it copies having been fsynced).
func TestCrashAtEveryFailpoint(t *testing.T) {
	if os.Getenv(envHelper) == "1" {
		t.Skip("in the helper")
	}
	for _, noSync := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "nosync"}[noSync], func(t *testing.T) {
			crashAtEveryFailpoint(t, noSync)
		})
	}
}

func crashAtEveryFailpoint(t *testing.T, noSync bool) {
	for _, fp := range FailpointNames() {
		t.Run(fp, func(t *testing.T) {
			root := t.TempDir()
			cmd := childCmd("TestHelperProcess", envHelper+"=1", envRoot+"="+root, envFailpoint+"="+fp)
			if noSync {
				cmd.Env = append(cmd.Env, envNoSync+"=1")
			}
			stdout := runChildUntilKilled(t, cmd, " at "+fp)
			acks := newAckLog()
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				acks.add(sc.Text())
			}
			acked := acks.acked
			if len(acked) < 5000 {
				t.Fatalf("only %d keys acknowledged", len(acked))
			}
			// The crash left the work of its step behind (so that the
			// cleanup below is really exercised).
			before := strings.Join(leftovers(t, root), " ")
			if want, ok := crashLeftovers()[fp]; ok && !strings.Contains(before, want) {
				t.Fatalf("after a crash at %s want a leftover %q, have %q", fp, want, before)
			}
			ctx := context.Background()
			s := openTestStore(t, root, nil)
			if lo := leftovers(t, root); len(lo) != 0 {
				t.Fatalf("leftovers after OpenStore: %v", lo)
			}
			tb, err := s.Open(ctx, "t", false)
			if strings.HasPrefix(fp, "salvage.") && IsCorruption(err) && tb != nil {
				// A salvage interrupted before its commit point leaves the
				// table as it was: quarantined. Salvage again.
				if _, err := tb.Salvage(ctx, nil); err != nil {
					t.Fatalf("salvage again after the crash at %s: %v", fp, err)
				}
			} else if err != nil {
				t.Fatalf("open after the crash at %s: %v", fp, err)
			}
			for k, v := range acked {
				got, err := tb.Get(ctx, k)
				if err != nil || !acks.holds(k, string(got)) {
					t.Fatalf("acknowledged %s=%s reads %s %v after a crash at %s", k, v, got, err, fp)
				}
			}
			vr, err := tb.Verify(ctx, nil)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			st, _ := tb.Stats(ctx)
			t.Logf("%s: %d keys acknowledged, %d records, estimate %d live %d dead", fp, len(acked), vr.Records, st.Records, st.DeadRecords)
			// Every backup listed is whole.
			bs := checkBackupsWhole(t, ctx, s, "t", "after the crash")
			// The journal survived the crash too: the oldest backup plus
			// the journal is every acknowledged write (a salvage starts a
			// new history: the backups before it are not in it).
			if !strings.HasPrefix(fp, "salvage.") && len(bs) > 0 {
				if _, err := tb.Quarantine(ctx); err != nil {
					t.Fatal(err)
				}
				rr, err := tb.RestoreFrom(ctx, bs[len(bs)-1].ID, nil)
				if err != nil || rr.Lost {
					t.Fatalf("restore of the oldest backup after the crash at %s: %+v %v", fp, rr, err)
				}
				for k, v := range acked {
					got, err := tb.Get(ctx, k)
					if err != nil || !acks.holds(k, string(got)) {
						t.Fatalf("acknowledged %s=%s reads %s %v after a crash at %s and a restore", k, v, got, err, fp)
					}
				}
			}
			// And the table keeps working: a rewrite and a backup succeed.
			if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil {
				t.Fatalf("rewrite after the crash: %v", err)
			}
			if _, err := tb.Backup(ctx, nil); err != nil {
				t.Fatalf("backup after the crash: %v", err)
			}
		})
	}
}

// crashLeftovers is what a crash at a failpoint must leave for OpenStore to
// clean up or finish.
func crashLeftovers() map[string]string {
	return map[string]string{
		FPRewriteAfterCopy:       "tables/.tmp-rewrite-t-",
		FPRewriteAfterVerify:     "tables/.tmp-rewrite-t-",
		FPRewriteAfterCatchUp:    "tables/.tmp-rewrite-t-",
		FPRewritePaused:          "tables/.tmp-rewrite-t-",
		FPRewriteAfterAside:      "tables/.old-t",
		FPRewriteAfterSwap:       "tables/.old-t",
		FPBackupAfterCopy:        "backups/t/.tmp-",
		FPBackupAfterManifest:    "backups/t/.tmp-",
		FPRestoreAfterCopy:       "tables/.tmp-restore-t-",
		FPRestoreBeforeReplay:    "tables/.tmp-restore-t-",
		FPRestoreAfterReplay:     "tables/.tmp-restore-t-",
		FPDrillAfterCopy:         "tables/.tmp-drill-t-",
		FPDrillAfterReplay:       "tables/.tmp-drill-t-",
		FPRestoreAfterVerify:     "tables/.tmp-restore-t-",
		FPRestoreReady:           "tables/.ready-t",
		FPRestoreAfterQuarantine: "tables/.ready-t",
		FPSalvageAfterCopy:       "tables/.tmp-salvage-t-",
		FPSalvageAfterRecover:    "tables/.tmp-salvage-t-",
		FPSalvageReady:           "tables/.ready-t",
		FPSalvageAfterQuarantine: "tables/.ready-t",
	}
}
