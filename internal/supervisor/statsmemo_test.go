package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestStatsFiguresLeaveOutTheSchedule(t *testing.T) {
	mk := func(bytes int, next string) events.Event {
		e := events.New(events.TableStats, "n1", "users")
		e.Result = events.ResultOK
		e.Data = map[string]any{"bytes": bytes, "queue": 0, "next_backup": next}
		return e
	}
	a, b := mk(10, "2026-01-01T00:00:00Z"), mk(10, "2026-01-01T00:01:00Z")
	if statsFigures(a) != statsFigures(b) {
		t.Errorf("a new next_backup and time made the figures differ")
	}
	if statsFigures(a) == statsFigures(mk(11, "2026-01-01T00:00:00Z")) {
		t.Errorf("another size gave the same figures")
	}
	failed := mk(10, "")
	failed.Result, failed.Error = events.ResultFailed, "boom"
	if statsFigures(a) == statsFigures(failed) {
		t.Errorf("a failed read gave the same figures")
	}

	var m statsMemo
	now := time.Now()
	if !m.due(statsFigures(a), now, time.Minute) {
		t.Fatal("the first stats is not due")
	}
	m.record(statsFigures(a), now)
	if m.due(statsFigures(b), now.Add(9*time.Minute), time.Minute) {
		t.Error("unchanged figures due before 10 x stats_every")
	}
	if !m.due(statsFigures(b), now.Add(10*time.Minute), time.Minute) {
		t.Error("unchanged figures not due after 10 x stats_every")
	}
	if !m.due(statsFigures(mk(11, "")), now.Add(time.Second), time.Minute) {
		t.Error("changed figures not due at once")
	}
}

// An idle table sends its periodic table.stats only every 10 x
// stats_every; a write changes its figures and the next one goes out.
func TestIdleTableStatsOnlyEveryTenIntervals(t *testing.T) {
	const every = 10 * time.Millisecond
	pol := quiet()
	pol.StatsEvery = every
	pol.Jitter = -1
	h := start(t, harnessOpt{cfg: Config{Tables: map[string]Policy{"idle": pol}}})
	tb := h.open("idle")
	fill(t, tb, 5, 1)
	periodic := func() []events.Event {
		var out []events.Event
		for _, e := range h.rec.of("idle", events.TableStats) {
			if e.Trigger == events.TriggerSchedule {
				out = append(out, e)
			}
		}
		return out
	}
	h.rec.waitFor(t, "4 periodic table.stats", func([]events.Event) bool { return len(periodic()) >= 4 })
	evs := periodic()
	same := 0
	for i := 1; i < len(evs); i++ {
		if statsFigures(evs[i]) != statsFigures(evs[i-1]) {
			continue
		}
		same++
		// Half the quiet interval: the schedule's own timing varies.
		if gap := evs[i].Time.Sub(evs[i-1].Time); gap < statsQuietFactor*every/2 {
			t.Errorf("two table.stats with the same figures %s apart (stats_every %s)", gap, every)
		}
	}
	if same == 0 {
		t.Fatalf("no two periodic table.stats with the same figures:\n%s", dump(evs))
	}

	n := len(periodic())
	if err := tb.Put(context.Background(), "new", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "a table.stats with the new record", func([]events.Event) bool {
		for _, e := range periodic()[n:] {
			if r, _ := events.Integer(e.Data, "records"); r == 6 {
				return true
			}
		}
		return false
	})
}
