package supervisor

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

func TestCompactSkippedBelowThresholdUnlessForced(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 200, 1) // fresh keys only: no dead records

	skip := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{}))
	if skip.Type != events.CompactionSkipped || skip.Result != events.ResultSkipped {
		t.Fatalf("unforced compaction of a clean table: got %s/%s, want compaction.skipped/skipped", skip.Type, skip.Result)
	}
	for _, k := range []string{"dead_ratio", "threshold", "reason"} {
		if _, ok := skip.Data[k]; !ok {
			t.Errorf("compaction.skipped lacks data.%s: %v", k, skip.Data)
		}
	}
	if r, _ := skip.Data["dead_ratio"].(float64); r >= DefaultThreshold {
		t.Errorf("skipped with dead_ratio %v, not below the threshold %v", r, DefaultThreshold)
	}
	if got := h.rec.of("users", events.CompactionStarted); len(got) != 0 {
		t.Errorf("a skipped compaction emitted compaction.started")
	}

	done := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Force: true}))
	if done.Type != events.CompactionCompleted || done.Result != events.ResultOK {
		t.Fatalf("forced compaction: got %s/%s (%s), want compaction.completed/ok", done.Type, done.Result, done.Error)
	}
	for _, k := range []string{"bytes_before", "bytes_after", "records", "dead_ratio", "mode"} {
		if _, ok := done.Data[k]; !ok {
			t.Errorf("compaction.completed lacks data.%s: %v", k, done.Data)
		}
	}
	started := h.rec.of("users", events.CompactionStarted)
	if len(started) != 1 || started[0].CommandID != done.CommandID {
		t.Errorf("want one compaction.started for command %s, got %v", done.CommandID, started)
	}
	if got := contents(t, tb); len(got) != 200 {
		t.Errorf("after compaction: %d records, want 200", len(got))
	}
}

func TestCompactRunsAboveThreshold(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 200, 1)
	fill(t, tb, 200, 2) // every key overwritten once: half the records are dead
	st, err := tb.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.DeadRatio < DefaultThreshold {
		t.Fatalf("stats after overwriting every key: dead ratio %v, want at least %v", st.DeadRatio, DefaultThreshold)
	}
	e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Mode: "rewrite"}))
	if e.Type != events.CompactionCompleted {
		t.Fatalf("unforced compaction above the threshold: got %s (%s)", e.Type, e.Error)
	}
	if e.Data["mode"] != string(tables.ModeRewrite) {
		t.Errorf("mode %v, want rewrite", e.Data["mode"])
	}
	got := contents(t, tb)
	if len(got) != 200 || got[key(7)] != `{"n":7,"v":2}` {
		t.Errorf("after rewrite: %d records, k0007=%s", len(got), got[key(7)])
	}
}

// TestCompactRetriedOnceThenLeft makes the rewrite fail for real: the
// tables/ directory is made immutable (chattr +i, which binds root too), so
// the rewrite cannot create its temp database or swap.
func TestCompactRetriedOnceThenLeft(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not available")
	}
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 100, 1)
	fill(t, tb, 50, 2)
	before := contents(t, tb)

	dir := filepath.Join(h.root, "tables")
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v: %s", dir, err, out)
	}
	defer exec.Command("chattr", "-i", dir).Run()

	tk := h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "rewrite"})
	out := h.wait(tk)
	if err := exec.Command("chattr", "-i", dir).Run(); err != nil {
		t.Fatal(err)
	}

	failed := h.rec.of("users", events.CompactionFailed)
	if len(failed) != 2 {
		t.Fatalf("want 2 compaction.failed, got %d:\n%s", len(failed), dump(h.rec.all()))
	}
	for i, e := range failed {
		if e.Attempt != i+1 || e.Result != events.ResultFailed || e.Error == "" || e.CommandID != tk.ID() {
			t.Errorf("failure %d: attempt %d result %s error %q command %s", i, e.Attempt, e.Result, e.Error, e.CommandID)
		}
		if r, _ := e.Data["reason"].(string); r == "" {
			t.Errorf("failure %d: no data.reason: %v", i, e.Data)
		}
	}
	if failed[0].Final() || !failed[1].Final() {
		t.Errorf("finality: first %v second %v, want false then true", failed[0].Final(), failed[1].Final())
	}
	if out.Type != events.CompactionFailed || out.Attempt != 2 || tk.Err() == nil {
		t.Errorf("ticket outcome %s attempt %d err %v, want the final failure", out.Type, out.Attempt, tk.Err())
	}
	if n := len(h.rec.of("users", events.CompactionStarted)); n != 2 {
		t.Errorf("compaction.started %d times, want 2 (one per attempt)", n)
	}
	if n := len(h.rec.of("users", events.CorruptionDetected)); n != 0 {
		t.Errorf("a failed compaction was taken for corruption")
	}

	// The table is exactly as it was and still serves.
	after := contents(t, tb)
	if len(after) != len(before) {
		t.Fatalf("after failed compactions: %d records, want %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("key %s: %s, want %s", k, after[k], v)
		}
	}
	if err := tb.Put(context.Background(), "new", []byte(`1`)); err != nil {
		t.Fatalf("put after failed compactions: %v", err)
	}
	// Left for the next schedule: a later compaction works.
	if e := h.wait(h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "rewrite"})); e.Type != events.CompactionCompleted {
		t.Fatalf("compaction after the fault cleared: %s (%s)", e.Type, e.Error)
	}
}

// TestRetryWaitDoesNotHoldTheTable: while a failed compaction waits for its
// retry, other work on the table runs; a shutdown during the wait ends the
// command with its first failure, and the retry is not attempted.
func TestRetryWaitDoesNotHoldTheTable(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not available")
	}
	pol := quiet()
	pol.RetryDelay = time.Hour
	h := start(t, harnessOpt{cfg: Config{Defaults: pol}})
	tb := h.open("users")
	fill(t, tb, 50, 1)
	dir := filepath.Join(h.root, "tables")
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v: %s", dir, err, out)
	}
	defer exec.Command("chattr", "-i", dir).Run()

	c := h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "rewrite"})
	first := h.rec.waitType(t, "users", events.CompactionFailed, 1)[0]
	if first.Attempt != 1 || first.Data["retry_in_ms"] != time.Hour.Milliseconds() {
		t.Errorf("first failure: attempt %d data %v", first.Attempt, first.Data)
	}
	if err := exec.Command("chattr", "-i", dir).Run(); err != nil {
		t.Fatal(err)
	}
	if e := h.wait(h.submit("users", events.VerbVerify, events.CommandBody{})); e.Type != events.VerifyCompleted {
		t.Fatalf("verify during the retry wait: %s (%s)", e.Type, e.Error)
	}
	select {
	case <-c.Done():
		t.Fatalf("the compaction ended before its retry: %s", c.Outcome().Type)
	default:
	}
	h.stop()
	<-c.Done()
	// The command ends with a final failure that says the retry was
	// abandoned: the audit log has the command's end, the notifier pages.
	failed := h.rec.of("users", events.CompactionFailed)
	out := c.Outcome()
	if len(failed) != 2 || out.ID != failed[1].ID || out.ID == first.ID || c.Err() == nil {
		t.Fatalf("after shutdown: %d compaction.failed, the command ends with %s %s, want a second, final one", len(failed), out.Type, out.ID)
	}
	if out.Attempt != 1 || out.CommandID != first.CommandID || out.Error != first.Error || out.Data["final"] != true || !out.Final() ||
		out.Data["retry"] != "abandoned: shutdown" || out.Data["retry_in_ms"] != nil || out.Data["reason"] != first.Data["reason"] {
		t.Errorf("abandoned retry: attempt %d command %s error %q data %v; first failure: command %s error %q data %v",
			out.Attempt, out.CommandID, out.Error, out.Data, first.CommandID, first.Error, first.Data)
	}
	if n := len(h.rec.of("users", events.CompactionStarted)); n != 1 {
		t.Errorf("%d compaction attempts, want 1 (retry abandoned at shutdown)", n)
	}
}

// TestQueuedRetryAbandonedAtShutdown: the retry's delay has passed but the
// retry waits in the queue behind a backup when the supervisor stops: the
// command still ends with a final compaction.failed that says so.
func TestQueuedRetryAbandonedAtShutdown(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not available")
	}
	g := newGate(tables.FPBackupBeforeCopy)
	defer g.open()
	pol := quiet()
	pol.RetryDelay = 10 * time.Millisecond
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{Defaults: pol, ShutdownGrace: time.Millisecond}})
	fill(t, h.open("users"), 50, 1)
	dir := filepath.Join(h.root, "tables")
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v: %s", dir, err, out)
	}
	defer exec.Command("chattr", "-i", dir).Run()
	queued := func(n int) func(TableStatus) bool { return func(st TableStatus) bool { return st.Queue == n } }

	// Queue: a backup held at the gate, then the compaction, then another
	// backup. Once the first backup passes, the compaction fails (the
	// table's directory is immutable) and the second backup is held while
	// the retry's delay passes: the retry waits in the queue.
	h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)
	c := h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "rewrite"})
	h.submit("users", events.VerbBackup, events.CommandBody{})
	statusOf(t, h, "users", queued(2))
	g.pass()
	first := h.rec.waitType(t, "users", events.CompactionFailed, 1)[0]
	g.await(t, 1)
	statusOf(t, h, "users", queued(1))
	stopPastGate(t, h, g, h.sup.stopping)
	<-c.Done()

	out := c.Outcome()
	if out.Type != events.CompactionFailed || out.ID == first.ID || !out.Final() || out.Data["retry"] != "abandoned: shutdown" {
		t.Fatalf("the command ends with %s %v, want a final compaction.failed with retry abandoned:\n%s", out.Type, out.Data, dump(h.rec.all()))
	}
	if n := len(h.rec.of("users", events.CompactionStarted)); n != 1 {
		t.Errorf("%d compaction attempts, want 1", n)
	}
}
