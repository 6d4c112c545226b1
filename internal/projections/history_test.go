package projections

import (
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestHistoryFilters(t *testing.T) {
	evs := []events.Event{
		ev(0, events.TableCreated, "users"),                                      // 1
		ev(1, events.CompactionStarted, "users"),                                 // 2
		ev(2, events.CompactionCompleted, "users", result("ok", 5)),              // 3
		ev(3, events.CompactionFailed, "orders", failed("boom")),                 // 4
		ev(4, events.BackupCompleted, "orders", result("ok", 7)),                 // 5
		ev(5, events.CompactionSkipped, "users", result("skipped", 0)),           // 6
		ev(6, events.NotificationSent, "", node("n2")),                           // 7
		ev(7, events.CompactionCompleted, "orders", result("ok", 3), node("n2")), // 8
	}
	s := NewState(Options{})
	applyAll(s, evs)
	cases := []struct {
		name string
		f    Filter
		want []uint64
	}{
		{"all newest first", Filter{}, []uint64{8, 7, 6, 5, 4, 3, 2, 1}},
		{"table", Filter{Table: "users"}, []uint64{6, 3, 2, 1}},
		{"type prefix", Filter{Type: "compaction"}, []uint64{8, 6, 4, 3, 2}},
		{"type prefix with dot", Filter{Type: "compaction."}, []uint64{8, 6, 4, 3, 2}},
		{"exact type", Filter{Type: events.CompactionCompleted}, []uint64{8, 3}},
		{"partial word is no prefix", Filter{Type: "comp"}, nil},
		{"result failed", Filter{Result: "failed"}, []uint64{4}},
		{"result implied", Filter{Result: "ok", Table: "orders"}, []uint64{8, 5}},
		{"since", Filter{Since: baseTime.Add(5e9)}, []uint64{8, 7, 6}},
		{"limit", Filter{Limit: 3}, []uint64{8, 7, 6}},
		{"page before", Filter{Before: 6, Limit: 3}, []uint64{5, 4, 3}},
		{"node", Filter{Node: "n2"}, []uint64{8, 7}},
		{"combined", Filter{Table: "users", Type: "compaction", Before: 6}, []uint64{3, 2}},
		{"exclude one type", Filter{Exclude: []string{events.CompactionStarted}}, []uint64{8, 7, 6, 5, 4, 3, 1}},
		{"exclude families", Filter{Exclude: []string{"compaction", "notification."}}, []uint64{5, 1}},
		{"exclude partial word is no prefix", Filter{Exclude: []string{"comp"}}, []uint64{8, 7, 6, 5, 4, 3, 2, 1}},
		{"exclude with type", Filter{Type: "compaction", Exclude: []string{events.CompactionCompleted}}, []uint64{6, 4, 2}},
		{"exclude with table and paging", Filter{Table: "users", Exclude: []string{"table"}, Before: 6, Limit: 1}, []uint64{3}},
		{"after", Filter{After: 5}, []uint64{8, 7, 6}},
		{"after with table", Filter{Table: "users", After: 2}, []uint64{6, 3}},
		{"after and before", Filter{After: 2, Before: 6}, []uint64{5, 4, 3}},
		{"after the last", Filter{After: 8}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := s.History(tc.f)
			var got []uint64
			for _, r := range rows {
				got = append(got, r.Seq)
				if r.ID != evs[r.Seq-1].ID {
					t.Fatalf("row %d carries event %s", r.Seq, r.ID)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v want %v", got, tc.want)
				}
			}
		})
	}
}

func TestHistoryBounded(t *testing.T) {
	s := NewState(Options{HistoryLimit: 10, StatsLimit: 2})
	evs := script(25)
	applyAll(s, evs)
	// The newest 10 rows that are not table.stats, and the newest 2 that are.
	var want []uint64
	others, stats := 0, 0
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == events.TableStats {
			if stats < 2 {
				want = append(want, uint64(i+1))
			}
			stats++
			continue
		}
		if others < 10 {
			want = append(want, uint64(i+1))
		}
		others++
	}
	rows := s.History(Filter{Limit: 100})
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if rows[i].Seq != want[i] {
			t.Fatalf("row %d has seq %d, want %d", i, rows[i].Seq, want[i])
		}
	}
	// After walks both rings: the rows newer than the 4th newest kept one.
	after := s.History(Filter{Limit: 100, After: want[3]})
	if len(after) != 3 || after[0].Seq != want[0] || after[2].Seq != want[2] {
		t.Fatalf("after %d: %d rows, want %v", want[3], len(after), want[:3])
	}
	if def := NewState(Options{}); def.opts.HistoryLimit != DefaultHistoryLimit {
		t.Fatalf("default history limit %d", def.opts.HistoryLimit)
	}
}

func TestKnownTypePrefix(t *testing.T) {
	for _, p := range []string{"table.stats", "table", "table.", "command.accepted", "compaction", events.NotificationFailed} {
		if !KnownTypePrefix(p) {
			t.Errorf("%q is a known type or family", p)
		}
	}
	for _, p := range []string{"", ".", "tab", "table.stat", "table.stats.", "TABLE.STATS", "nope", "compaction.*", " table"} {
		if KnownTypePrefix(p) {
			t.Errorf("%q is no type nor family", p)
		}
	}
}

// Periodic table.stats must not push compactions, backups and restores out
// of the log: they are kept within their own bound, and queries merge both
// newest first.
func TestStatsDoNotPushOtherRowsOut(t *testing.T) {
	s := NewState(Options{HistoryLimit: 5, StatsLimit: 3})
	seq := uint64(0)
	apply := func(typ string) {
		seq++
		s.Apply(seq, ev(int(seq), typ, "users", data("bytes", float64(seq))))
	}
	for i := 0; i < 4; i++ {
		apply(events.CompactionCompleted) // seqs 1..4
	}
	for i := 0; i < 20; i++ {
		apply(events.TableStats) // seqs 5..24
	}
	apply(events.BackupCompleted) // seq 25
	rows := s.History(Filter{Limit: 100})
	var got []uint64
	for _, r := range rows {
		got = append(got, r.Seq)
	}
	want := []uint64{25, 24, 23, 22, 4, 3, 2, 1}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("rows %v, want %v", got, want)
		}
	}
	if r := s.History(Filter{Exclude: []string{events.TableStats}, Limit: 2}); len(r) != 2 || r[0].Seq != 25 || r[1].Seq != 4 {
		t.Fatalf("exclude stats with limit: %+v", r)
	}
}
