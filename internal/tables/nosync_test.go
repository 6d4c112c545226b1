package tables

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Environment of the NoSync writer process.
const (
	envNoSyncWriter = "CUSTODIAN_TABLES_NOSYNC_WRITER"
	envNoSyncRoot   = "CUSTODIAN_TABLES_NOSYNC_ROOT"
)

// noSyncKeys is the key space of the NoSync writer: small, so that keys are
// overwritten and deleted many times.
const noSyncKeys = 300

// TestNoSyncWriterProcess is the child of TestNoSyncSurvivesSIGKILL: with
// Options.NoSync it writes until it is killed. Each writer owns the keys
// k<w>-*, so that the lines of a key are in order; before each write it
// prints "try <key> <value>" and after it returns "ack <key> <value>" (a
// delete is the value "-"). A batch prints one line per op. A maintenance
// goroutine rewrites and backs up the table meanwhile, so that a kill can
// land in any of them.
func TestNoSyncWriterProcess(t *testing.T) {
	if os.Getenv(envNoSyncWriter) != "1" {
		t.Skip("helper process")
	}
	fail := childExit
	tb := childTable(os.Getenv(envNoSyncRoot), Options{NoSync: true})
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	say := func(kind string, ops []Op) {
		outMu.Lock()
		for _, o := range ops {
			v := "-"
			if o.Op == "put" {
				v = string(o.Value)
			}
			fmt.Fprintf(out, "%s %s %s\n", kind, o.Key, v)
		}
		// Each line reaches the pipe before the write it announces starts
		// (try) or before the next write (ack): a kill never hides an ack.
		if err := out.Flush(); err != nil {
			os.Exit(3)
		}
		outMu.Unlock()
	}
	go func() {
		for {
			if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil {
				fail(fmt.Errorf("compact: %w", err))
			}
			if _, err := tb.Backup(ctx, nil); err != nil {
				fail(fmt.Errorf("backup: %w", err))
			}
			time.Sleep(20 * time.Millisecond) // leave the shared CPU to the writers
		}
	}()
	for w := 0; w < 4; w++ {
		go func(w int) {
			for n := 0; ; n++ {
				key := func(i int) string { return fmt.Sprintf("k%d-%04d", w, i%noSyncKeys) }
				var ops []Op
				switch n % 5 {
				case 0: // a batch of puts and a delete
					for j := 0; j < 20; j++ {
						ops = append(ops, Op{Op: "put", Key: key(n + j), Value: json.RawMessage(fmt.Sprintf(`{"w":%d,"n":%d,"j":%d}`, w, n, j))})
					}
					ops = append(ops, Op{Op: "delete", Key: key(n + 20)})
				case 1:
					ops = []Op{{Op: "delete", Key: key(n * 7)}}
				default:
					ops = []Op{{Op: "put", Key: key(n * 7), Value: json.RawMessage(fmt.Sprintf(`{"w":%d,"n":%d}`, w, n))}}
				}
				say("try", ops)
				var err error
				switch {
				case len(ops) > 1:
					err = tb.Batch(ctx, ops)
				case ops[0].Op == "put":
					err = tb.Put(ctx, ops[0].Key, ops[0].Value)
				default:
					err = tb.Delete(ctx, ops[0].Key)
				}
				if err != nil {
					fail(err)
				}
				say("ack", ops)
			}
		}(w)
	}
	select {}
}

// TestNoSyncSurvivesSIGKILL starts a child process that writes with
// Options.NoSync (no fsync before the acknowledgement) while it rewrites
// and backs up its table, SIGKILLs it at an arbitrary moment, and reopens
// the store: every acknowledged write is there (or a later write of the same
// key that was tried before the kill), the table verifies, and every backup
// is whole. A SIGKILL does not lose what the process wrote to the kernel.
func TestNoSyncSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(envNoSyncWriter) == "1" {
		t.Skip("in the helper")
	}
	for round := 0; round < 3; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			root := t.TempDir()
			cmd := childCmd("TestNoSyncWriterProcess", envNoSyncWriter+"=1", envNoSyncRoot+"="+root)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Kill after a number of acknowledgements that differs between
			// rounds, so that the kill lands at different points.
			killAt := 3000 + 2500*round
			written := newAckLog() // last acknowledged value ("-": deleted), values tried after it
			acks, killed := 0, false
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if written.add(sc.Text()) == "ack" {
					acks++
				}
				if acks >= killAt && !killed {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					killed = true // read on: the lines already in the pipe count
				}
			}
			if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			err = cmd.Wait()
			if !killed {
				t.Fatalf("child ended before our SIGKILL: %v; stderr: %s", err, stderr.String())
			}
			requireSIGKILL(t, err, stderr.String(), "")

			ctx := context.Background()
			s := openTestStore(t, root, nil) // default options: the reader fsyncs
			tb, err := s.Open(ctx, "t", false)
			if err != nil {
				t.Fatalf("open after SIGKILL: %v", err)
			}
			present := 0
			acked := written.acked
			for k, v := range acked {
				got, err := tb.Get(ctx, k)
				have := string(got)
				switch {
				case apiNotFound(err):
					have = "-"
				case err != nil:
					t.Fatalf("get %s after SIGKILL: %v", k, err)
				default:
					present++
				}
				if !written.holds(k, have) {
					t.Fatalf("acknowledged %s=%s reads %s after SIGKILL (tried later: %v)", k, v, have, written.later[k])
				}
			}
			if present == 0 {
				t.Fatalf("no acknowledged key is present (%d acknowledged)", len(acked))
			}
			if _, err := tb.Verify(ctx, nil); err != nil {
				t.Fatalf("verify after SIGKILL: %v", err)
			}
			bs := checkBackupsWhole(t, ctx, s, "t", "after SIGKILL")
			t.Logf("%d acknowledgements, %d keys (%d present), %d backups", acks, len(acked), present, len(bs))
		})
	}
}

func apiNotFound(err error) bool { return err != nil && apierr.CodeOf(err) == apierr.NotFound }

// TestNoSyncWrites: with Options.NoSync the data plane writes without
// fsync, every write reads back at once and after a close and reopen (Close
// fsyncs the journal), and maintenance keeps its own durability: a backup
// taken under NoSync holds the writes, checks whole, and restores them; a
// rewrite keeps them. The default store still fsyncs its writes.
func TestNoSyncWrites(t *testing.T) {
	if os.Getenv(envNoSyncWriter) == "1" || os.Getenv(envHelper) == "1" {
		t.Skip("in a helper")
	}
	ctx := context.Background()
	root := t.TempDir()
	s, err := OpenStore(root, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	tb := mustOpen(t, s, "t")

	// The option reaches the write path, and only there.
	if wo := dataWrite(tb.store.opts.NoSync); wo.Sync {
		t.Fatalf("NoSync store writes with Sync=true")
	}
	if wo := dataWrite(false); !wo.Sync {
		t.Fatalf("default data-plane writes are not synced")
	}
	if def := openTestStore(t, t.TempDir(), nil); def.opts.NoSync {
		t.Fatalf("default Options have NoSync")
	}

	fill(t, tb, "p", 0, 200)
	fillBatch(t, tb, "b", 0, 300)
	for i := 0; i < 50; i++ {
		if err := tb.Delete(ctx, fmt.Sprintf("p%06d", i)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(tb *Table, when string) {
		t.Helper()
		for i := 0; i < 200; i++ {
			k := fmt.Sprintf("p%06d", i)
			got, err := tb.Get(ctx, k)
			if i < 50 {
				if !apiNotFound(err) {
					t.Fatalf("%s: deleted %s reads %s %v", when, k, got, err)
				}
				continue
			}
			if err != nil || string(got) != string(val(i)) {
				t.Fatalf("%s: %s reads %s %v, want %s", when, k, got, err, val(i))
			}
		}
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("b%06d", i)
			if got, err := tb.Get(ctx, k); err != nil || string(got) != string(val(i)) {
				t.Fatalf("%s: %s reads %s %v, want %s", when, k, got, err, val(i))
			}
		}
	}
	check(tb, "after the writes")

	// A backup taken while the writes are only in the page cache holds
	// them, and is whole (its files were fsynced by the backup itself).
	m, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Records != 450 {
		t.Fatalf("backup under NoSync has %d records, want 450", m.Records)
	}
	dir, err := s.BackupDir("t", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkBackup(ctx, dir, m); err != nil {
		t.Fatalf("backup under NoSync: %v", err)
	}
	// A rewrite keeps every write.
	if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil {
		t.Fatal(err)
	}
	check(tb, "after a rewrite")
	// Writes after the backup are gone after restoring it as of its time,
	// the backup's are back.
	fill(t, tb, "late", 0, 10)
	if _, err := tb.Restore(ctx, m.ID, RestoreOptions{At: m.Created}, nil); err != nil {
		t.Fatal(err)
	}
	check(tb, "after restoring the backup")
	if _, err := tb.Get(ctx, "late000000"); !apiNotFound(err) {
		t.Fatalf("a write after the backup survives its restore: %v", err)
	}
	fill(t, tb, "late", 0, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with the default options: everything is there.
	s2 := openTestStore(t, root, nil)
	tb2 := mustOpen(t, s2, "t")
	check(tb2, "after close and reopen")
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("late%06d", i)
		if got, err := tb2.Get(ctx, k); err != nil || string(got) != string(val(i)) {
			t.Fatalf("after reopen: %s reads %s %v", k, got, err)
		}
	}
	if _, err := tb2.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
}
