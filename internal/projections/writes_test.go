package projections

import (
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestCardShowsDiskFull: a table whose writes fail for lack of space is
// shown as disk_full (not failed, not degraded), above a running
// operation, with the code, error and time; another write error is
// writes_failing; writes "ok" brings the card back; the metric
// custodian_table_writes_failing follows.
func TestCardShowsDiskFull(t *testing.T) {
	p := New(Options{})
	apply := func(seq uint64, e events.Event) { p.Apply(seq, e) }
	apply(1, ev(1, events.TableStats, "users", data("bytes", 10.0, "writes", "ok")))
	apply(2, ev(2, events.VerifyCompleted, "users", result("ok", 3)))
	apply(3, ev(3, events.CompactionStarted, "users"))
	apply(4, ev(4, events.TableStats, "users", data("writes", "failing", "writes_code", "no_space",
		"writes_error", "no space left on device", "writes_since", "2026-11-26T10:00:03Z")))
	c := card(t, stateOf(p), "n1", "users")
	if c.State != StateDiskFull || c.WritesCode != "no_space" || c.WritesError == "" || c.WritesSince.IsZero() {
		t.Fatalf("card while the disk is full: %+v", c)
	}
	mfs := gather(t, p)
	if v := metricValue(t, mfs, "custodian_table_writes_failing", map[string]string{"table": "users", "reason": "no_space"}); v != 1 {
		t.Fatalf("custodian_table_writes_failing = %v, want 1", v)
	}
	if v := metricValue(t, mfs, "custodian_table_state", map[string]string{"table": "users", "state": StateDiskFull}); v != 1 {
		t.Fatalf("custodian_table_state{disk_full} = %v", v)
	}
	apply(5, ev(5, events.TableStats, "users", data("writes", "failing", "writes_code", "internal", "writes_error", "input/output error")))
	if c := card(t, stateOf(p), "n1", "users"); c.State != StateWritesFailing {
		t.Fatalf("card with an I/O error: %s", c.State)
	}
	apply(6, ev(6, events.TableStats, "users", data("writes", "ok")))
	c = card(t, stateOf(p), "n1", "users")
	if c.State != StateCompacting || c.Writes != "ok" || c.WritesCode != "" || c.WritesError != "" {
		t.Fatalf("card after the writes work again (a compaction still runs): %+v", c)
	}
	if v := metricValue(t, gather(t, p), "custodian_table_writes_failing", map[string]string{"table": "users"}); v != 0 {
		t.Fatalf("custodian_table_writes_failing = %v after the heal, want 0", v)
	}
}
