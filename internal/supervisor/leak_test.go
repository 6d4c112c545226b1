package supervisor

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// goroutinesBack waits until no more goroutines run than base and fails the
// test with their stacks if that does not happen.
func goroutinesBack(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var ours []string
			for _, g := range strings.Split(string(buf), "\n\n") {
				if strings.Contains(g, "internal/supervisor.") && !strings.Contains(g, "testing.tRunner") {
					ours = append(ours, g)
				}
			}
			t.Fatalf("%d goroutines after Run and Close returned, %d before; the supervisor's:\n%s", n, base, strings.Join(ours, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNoGoroutineOutlivesRun: after Run returned and Close, nothing the
// supervisor started still runs: not the workers, the schedules, a
// compaction's retry timer, an incident's corruption.detected emitter, nor
// work stuck in the emitter or behind a held operation.
func TestNoGoroutineOutlivesRun(t *testing.T) {
	base := runtime.NumGoroutine()
	g := newGate(tables.FPBackupBeforeCopy)
	pol := quiet()
	pol.StatsEvery = 5 * time.Millisecond
	pol.CompactEvery = 7 * time.Millisecond
	pol.RetryDelay = time.Hour
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{Defaults: pol, ShutdownGrace: time.Millisecond}})
	for _, name := range []string{"a", "b", "c"} {
		fill(t, h.open(name), 30, 1)
	}
	h.rec.waitType(t, "c", events.TableStats, 2)

	// a: a backup held inside tables, work queued behind it.
	held := h.submit("a", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)
	queued := h.submit("a", events.VerbVerify, events.CommandBody{})
	// b: an incident whose corruption.detected is stuck in the emitter.
	stuck := make(chan struct{})
	h.rec.setFail(func(ctx context.Context, e events.Event) error {
		if e.Type == events.CorruptionDetected {
			close(stuck)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	corrupt := lerrors.NewErrCorrupted(storage.FileDesc{Type: storage.TypeTable, Num: 3}, errors.New("bad block"))
	h.sup.CorruptionHandler()("b", "get", corrupt)
	<-stuck

	stopPastGate(t, h, g, h.sup.workCtx.Done())
	for _, tk := range []*Ticket{held, queued} {
		select {
		case <-tk.Done():
		default:
			t.Errorf("command %s still open after Run returned", short(tk.ID()))
		}
	}
	goroutinesBack(t, base)
}
