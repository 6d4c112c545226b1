package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// TestCommandJoiningScheduledWorkGetsAnOutcomeAtShutdown: an operator's
// command that coalesces into queued scheduled work was announced
// (command.accepted), so when the work does not run (shutdown) its outcome
// is emitted, as for any accepted command.
func TestCommandJoiningScheduledWorkGetsAnOutcomeAtShutdown(t *testing.T) {
	g := newGate(tables.FPBackupBeforeCopy)
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{ShutdownGrace: time.Millisecond}})
	defer g.open()
	fill(t, h.open("users"), 20, 1)
	b := h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)
	sched, err := h.sup.submit(context.Background(), Command{Table: "users", Verb: events.VerbVerify, Trigger: events.TriggerSchedule}, false)
	if err != nil {
		t.Fatal(err)
	}
	op := h.submit("users", events.VerbVerify, events.CommandBody{})
	if op.Coalesced() != sched.ID() {
		t.Fatalf("the operator's verify did not join the scheduled one")
	}

	stopPastGate(t, h, g, h.sup.stopping)
	<-b.Done()
	e := h.wait(op)
	if e.Data["reason"] != "shutdown" {
		t.Fatalf("joined verify at shutdown: %s %v", e.Type, e.Data)
	}
	if n := len(h.rec.of("users", events.CommandRejected)); n != 1 {
		t.Errorf("the accepted verify has %d outcome events in the stream, want 1:\n%s", n, dump(h.rec.all()))
	}
}

// TestRestoreCutByShutdownDoesNotBlameTheBackup: a restore whose verify of
// a good backup is cancelled at shutdown must not report that backup as
// failed (a final restore.failed with its backup_id would page operators
// and send them after a backup that is fine).
func TestRestoreCutByShutdownDoesNotBlameTheBackup(t *testing.T) {
	g := newGate(tables.FPRestoreAfterCopy)
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{ShutdownGrace: time.Millisecond}})
	defer g.open()
	tb := h.open("users")
	fill(t, tb, 5000, 1) // more than one ctx check (every 1024 records) in the scan
	bk := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	if bk.Type != events.BackupCompleted {
		t.Fatalf("backup: %s (%s)", bk.Type, bk.Error)
	}
	r := h.submit("users", events.VerbRestore, events.CommandBody{})
	g.await(t, 1)

	// The gate opens once the grace is over and work in flight is cancelled.
	stopPastGate(t, h, g, h.sup.workCtx.Done())
	<-r.Done()
	if r.Err() == nil {
		t.Errorf("a restore cut by shutdown ended without error")
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Errorf("ticket error %v, want the cancellation", r.Err())
	}
	for _, e := range h.rec.of("users", events.RestoreFailed) {
		if e.Data["backup_id"] == bk.Data["backup_id"] {
			t.Errorf("the good backup was reported failed: %s %v", e.Error, e.Data)
		}
	}
	if out := r.Outcome(); out.Data["reason"] != "shutdown" {
		t.Errorf("outcome %s %v, want reason shutdown", out.Type, out.Data)
	}
}

// TestOpenTableWaitsWithItsContext: OpenTable waiting for another
// OpenTable (here: stuck emitting table.created) gives up when its own
// context ends.
func TestOpenTableWaitsWithItsContext(t *testing.T) {
	h := start(t, harnessOpt{})
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	h.rec.setFail(func(ctx context.Context, e events.Event) error {
		if e.Type == events.TableCreated && e.Table == "slow" {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	first := make(chan error, 1)
	go func() { first <- h.sup.OpenTable(context.Background(), "slow", true) }()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- h.sup.OpenTable(ctx, "other", true) }()
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("OpenTable with a cancelled context: %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("OpenTable ignored its context while another OpenTable held the lock")
	}
	open()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := h.sup.Table("other"); err == nil {
		t.Errorf("a cancelled OpenTable opened its table")
	}
}

// TestOutcomeOfWorkCutAtShutdownIsRecorded: when the shutdown grace ends
// and work in flight is cancelled, its outcome still reaches the emitter (a
// context that is not the cancelled work's): the stream must not show a
// backup.started with no end.
func TestOutcomeOfWorkCutAtShutdownIsRecorded(t *testing.T) {
	g := newGate(tables.FPBackupBeforeCopy)
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{ShutdownGrace: time.Millisecond}})
	defer g.open()
	fill(t, h.open("users"), 5000, 1) // the copy checks its context every 1024 records
	b := h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)

	stopPastGate(t, h, g, h.sup.workCtx.Done())
	<-b.Done()
	if !errors.Is(b.Err(), context.Canceled) {
		t.Fatalf("backup cut at shutdown: %v, want the cancellation", b.Err())
	}
	out := h.rec.of("users", events.BackupFailed)
	if len(out) != 1 || out[0].CommandID != b.ID() || out[0].Error == "" {
		t.Errorf("want the cut backup's backup.failed in the stream, got:\n%s", dump(h.rec.all()))
	}
	if ns := h.sup.NodeStatus(context.Background()); ns.EmitErrors != 0 {
		t.Errorf("%d events could not be emitted: %s", ns.EmitErrors, ns.LastEmitError)
	}
}

// TestStatsFailureIsReported: when the table's size cannot be read (its
// directory moved away underneath it), Status says so instead of answering
// zero figures as if they were true, and the stats schedule emits a
// table.stats with result failed and the error instead of dropping it.
func TestStatsFailureIsReported(t *testing.T) {
	pol := quiet()
	pol.StatsEvery = 5 * time.Millisecond
	h := start(t, harnessOpt{cfg: Config{Defaults: pol}})
	fill(t, h.open("users"), 20, 1)
	h.rec.waitType(t, "users", events.TableStats, 1)

	dir := filepath.Join(h.root, "tables", "users")
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	st, err := h.sup.Status(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	failed := func([]events.Event) bool {
		for _, e := range h.rec.of("users", events.TableStats) {
			if e.Result == events.ResultFailed {
				return true
			}
		}
		return false
	}
	h.rec.waitFor(t, "a failed table.stats", failed)
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	if st.StatsError == "" || st.Stats.Bytes != 0 {
		t.Errorf("status with an unreadable table directory: stats %+v, stats_error %q", st.Stats, st.StatsError)
	}
	for _, e := range h.rec.of("users", events.TableStats) {
		if e.Result != events.ResultFailed {
			continue
		}
		if e.Error == "" || e.Data["bytes"] != nil || e.Data["records"] != nil || e.Data["reason"] == nil {
			t.Errorf("failed table.stats: error %q data %v, want the error and no figures", e.Error, e.Data)
		}
		break
	}
	if n := len(h.rec.of("users", events.CorruptionDetected)); n != 0 {
		t.Errorf("a missing directory was taken for corruption")
	}

	// Once the directory is back, the figures return.
	got := statusOf(t, h, "users", func(st TableStatus) bool { return st.StatsError == "" && st.Stats.Bytes > 0 })
	if got.Stats.Records != 20 {
		t.Errorf("records %d after the fault, want 20", got.Stats.Records)
	}
}

// TestRestoreThatCannotListBackupsSaysSo: when the backups cannot even be
// listed, the degraded table's reason says that, not "no backup" (which
// would send operators to check a backup schedule that works).
func TestRestoreThatCannotListBackupsSaysSo(t *testing.T) {
	h := start(t, harnessOpt{})
	fill(t, h.open("users"), 20, 1)
	// backups/users is a file: listing it fails.
	if err := os.MkdirAll(filepath.Join(h.root, "backups"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.root, "backups", "users"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := lerrors.NewErrCorrupted(storage.FileDesc{Type: storage.TypeTable, Num: 5}, errors.New("bad block"))
	h.sup.CorruptionHandler()("users", "get", corrupt)
	deg := h.rec.waitType(t, "users", events.TableDegraded, 1)[0]
	r, _ := deg.Data["reason"].(string)
	if !strings.Contains(r, "list backups") || !strings.Contains(deg.Error, "not a directory") {
		t.Errorf("table.degraded reason %q error %q, want the listing failure", r, deg.Error)
	}
}
