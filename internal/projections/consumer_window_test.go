package projections

import (
	"context"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// A consumer that starts on long streams reads the newest message of each
// subject and the history's window, not the whole streams, and still
// shows every table's state and last outcomes, however old.
func TestConsumerStartsWithoutAReplay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, js := natstest.StartWithStream(ctx, t, prefix)

	// Long ago: table old was backed up, then found degraded; table gone
	// was compacted.
	backup := ev(0, events.BackupCompleted, "old", result(events.ResultOK, 5), data("backup_id", "b1", "bytes", 10.0))
	var evs []events.Event
	evs = append(evs,
		backup,
		ev(1, events.CompactionCompleted, "gone", result(events.ResultOK, 5), data("bytes_before", 200.0, "bytes_after", 100.0)),
		ev(2, events.TableDegraded, "old", data("reason", "corruption")),
		ev(3, events.TableStats, "old", data("bytes", 77.0, "records", 7.0)),
	)
	// Then a long history of busy tables.
	const busy = 3000
	for i := range busy {
		table := []string{"a", "b", "c"}[i%3]
		switch i % 3 {
		case 0:
			evs = append(evs, ev(4+i, events.CompactionStarted, table))
		case 1:
			evs = append(evs, ev(4+i, events.CompactionSkipped, table, data("reason", "below threshold")))
		case 2:
			evs = append(evs, ev(4+i, events.TableStats, table, data("bytes", float64(i))))
		}
	}
	evs = fresh(evs)
	natstest.PublishAll(ctx, t, js, prefix, evs)

	const window, statsWindow = 50, 20
	p, c, _ := startConsumer(ctx, t, js, Options{HistoryLimit: window, StatsLimit: statsWindow})
	waitReady(t, c)
	st := c.Status()
	// Read: one message per subject of the event stream (old: 2, gone: 1,
	// a b c: 2 each = 9) plus the window, a little more if events came
	// while it started; the same for the stats stream (4 tables + window).
	if st.Delivered > 9+window+5 || st.Stats.Delivered > 4+statsWindow+5 {
		t.Fatalf("read %d events and %d stats at start, want about %d and %d (not the %d and %d in the streams)",
			st.Delivered, st.Stats.Delivered, 9+window, 4+statsWindow, busy*2/3+3, busy/3+1)
	}

	old := p.TableCards("old")
	if len(old) != 1 || old[0].State != StateDegraded || old[0].LastBackup == nil || old[0].LastBackup.EventID != evs[0].ID ||
		old[0].Bytes != 77 || old[0].Reason != "corruption" {
		t.Fatalf("card of old: %+v", old)
	}
	if gone := p.TableCards("gone"); len(gone) != 1 || gone[0].LastCompaction == nil || gone[0].Bytes != 100 {
		t.Fatalf("card of gone: %+v", gone)
	}
	if a := p.TableCards("a"); len(a) != 1 || a[0].State != StateCompacting {
		t.Fatalf("card of a: %+v", a)
	}
	if rows := p.History(Filter{Limit: 1000}); len(rows) != window || rows[0].ID != evs[len(evs)-2].ID {
		t.Fatalf("history: %d rows, want the newest %d", len(rows), window)
	}
	if rows := p.History(Filter{Type: events.TableStats, Limit: 1000}); len(rows) != statsWindow || rows[0].ID != evs[len(evs)-1].ID || rows[0].Stream != StatsStream {
		t.Fatalf("stats history: %d rows, want the newest %d", len(rows), statsWindow)
	}

	// Then it follows both streams live.
	natstest.MustPublish(ctx, t, js, prefix, ev(10000, events.TableRecovered, "old"))
	natstest.MustPublish(ctx, t, js, prefix, ev(10001, events.TableStats, "old", data("bytes", 88.0)))
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs := p.TableCards("old")
		if cs[0].State == StateOK && cs[0].Bytes == 88 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live events not applied: %+v", cs[0])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
