package projections

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

func applyAll(s *State, evs []events.Event) {
	for i, e := range evs {
		s.Apply(uint64(i+1), e)
	}
}

func card(t *testing.T, s *State, node, table string) Card {
	t.Helper()
	for _, c := range s.Cards() {
		if c.Node == node && c.Table == table {
			return c
		}
	}
	t.Fatalf("no card for %s/%s", node, table)
	return Card{}
}

func TestCardReducer(t *testing.T) {
	next := baseTime.Add(3 * time.Hour)
	cases := []struct {
		name  string
		evs   []events.Event
		check func(t *testing.T, c Card)
	}{
		{
			name: "created then stats",
			evs: []events.Event{
				ev(0, events.TableCreated, "users"),
				ev(1, events.TableStats, "users", data("bytes", 4096.0, "records", 100.0, "dead_records", 25.0, "dead_ratio", 0.2, "dead_bytes", 512.0)),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateOK || c.Bytes != 4096 || c.Records != 100 || c.DeadRecords != 25 || c.DeadRatio != 0.2 || c.DeadBytes != 512 {
					t.Fatalf("card %+v", c)
				}
				if !c.Created.Equal(baseTime) || c.Counters[events.TableStats] != 1 || c.LastSeq != 2 {
					t.Fatalf("created %v counters %v last seq %d", c.Created, c.Counters, c.LastSeq)
				}
			},
		},
		{
			name: "compaction running",
			evs:  []events.Event{ev(0, events.CompactionStarted, "users")},
			check: func(t *testing.T, c Card) {
				if c.State != StateCompacting || !c.StateSince.Equal(baseTime) {
					t.Fatalf("state %s since %v", c.State, c.StateSince)
				}
			},
		},
		{
			name: "compaction completed reclaims bytes",
			evs: []events.Event{
				ev(0, events.CompactionStarted, "users"),
				ev(1, events.CompactionCompleted, "users", result(events.ResultOK, 1234), trigger(events.TriggerSchedule),
					data("bytes_before", 10000.0, "bytes_after", 4000.0, "records", 77.0, "mode", "rewrite", "next_compaction", next.Format(time.RFC3339Nano))),
			},
			check: func(t *testing.T, c Card) {
				lc := c.LastCompaction
				if c.State != StateOK || lc == nil || lc.Result != "ok" || lc.DurationMS != 1234 || lc.BytesReclaimed != 6000 || lc.Mode != "rewrite" || lc.Trigger != "schedule" {
					t.Fatalf("state %s last compaction %+v", c.State, lc)
				}
				if c.Bytes != 4000 || c.Records != 77 || !c.Next["compaction"].Equal(next) {
					t.Fatalf("bytes %d records %d next %v", c.Bytes, c.Records, c.Next)
				}
			},
		},
		{
			name: "compaction skipped keeps size",
			evs: []events.Event{
				ev(0, events.TableStats, "users", data("bytes", 500.0)),
				ev(1, events.CompactionSkipped, "users", data("reason", "below threshold")),
			},
			check: func(t *testing.T, c Card) {
				if c.LastCompaction.Result != events.ResultSkipped || c.LastCompaction.Reason != "below threshold" || c.Bytes != 500 {
					t.Fatalf("%+v bytes %d", c.LastCompaction, c.Bytes)
				}
			},
		},
		{
			name: "failed compaction records the error",
			evs: []events.Event{
				ev(0, events.CompactionStarted, "users"),
				ev(1, events.CompactionFailed, "users", failed("disk full")),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateOK || c.LastCompaction.Result != "failed" || c.LastCompaction.Error != "disk full" {
					t.Fatalf("state %s %+v", c.State, c.LastCompaction)
				}
			},
		},
		{
			name: "backup ok then failed keeps the last good one",
			evs: []events.Event{
				ev(0, events.BackupStarted, "users"),
				ev(1, events.BackupCompleted, "users", result(events.ResultOK, 50), data("backup_id", "20261126T100001Z", "records", 9.0, "bytes", 300.0)),
				ev(2, events.BackupStarted, "users"),
				ev(3, events.BackupFailed, "users", failed("no space")),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateOK || c.LastBackup == nil || c.LastBackup.BackupID != "20261126T100001Z" || c.LastBackup.Records != 9 || c.LastBackup.Bytes != 300 {
					t.Fatalf("state %s backup %+v", c.State, c.LastBackup)
				}
				if c.LastBackupError == nil || c.LastBackupError.Error != "no space" {
					t.Fatalf("backup failure %+v", c.LastBackupError)
				}
			},
		},
		{
			name: "backing up",
			evs:  []events.Event{ev(0, events.BackupStarted, "users")},
			check: func(t *testing.T, c Card) {
				if c.State != StateBackingUp {
					t.Fatalf("state %s", c.State)
				}
			},
		},
		{
			name: "verify outcome",
			evs:  []events.Event{ev(0, events.VerifyCompleted, "users", result(events.ResultOK, 9), data("records", 12.0))},
			check: func(t *testing.T, c Card) {
				if c.LastVerify == nil || c.LastVerify.Result != "ok" || c.LastVerify.Records != 12 {
					t.Fatalf("%+v", c.LastVerify)
				}
			},
		},
		{
			name: "corruption then auto restore",
			evs: []events.Event{
				ev(0, events.CorruptionDetected, "users", data("reason", "bad block")),
				ev(1, events.RestoreStarted, "users", trigger(events.TriggerAuto)),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateRestoring || c.Reason != "bad block" {
					t.Fatalf("state %s reason %q", c.State, c.Reason)
				}
			},
		},
		{
			name: "restore completed clears degraded",
			evs: []events.Event{
				ev(0, events.TableDegraded, "users", data("reason", "corruption")),
				ev(1, events.RestoreStarted, "users", trigger(events.TriggerAuto)),
				ev(2, events.RestoreCompleted, "users", trigger(events.TriggerAuto), result(events.ResultOK, 80),
					data("records", 42.0, "backup_id", "b7", "backup_age_ms", 60000.0)),
			},
			check: func(t *testing.T, c Card) {
				r := c.LastRestore
				if c.State != StateOK || c.Reason != "" || r == nil || r.Trigger != "auto" || r.Result != "ok" || r.Records != 42 || r.BackupAgeMS != 60000 || r.BackupID != "b7" || c.Records != 42 {
					t.Fatalf("state %s restore %+v records %d", c.State, r, c.Records)
				}
			},
		},
		{
			name: "a bad backup during a restore: still restoring",
			evs: []events.Event{
				ev(0, events.CorruptionDetected, "users", failed("bad block")),
				ev(1, events.RestoreStarted, "users", trigger(events.TriggerAuto)),
				ev(2, events.RestoreFailed, "users", failed("backup b2 does not verify"), data("backup_id", "b2", "trying_next", true)),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateRestoring || c.LastRestore.Result != "failed" || c.LastRestore.BackupID != "b2" {
					t.Fatalf("state %s %+v", c.State, c.LastRestore)
				}
			},
		},
		{
			name: "a manual restore that fails and keeps the current data: ok again",
			evs: []events.Event{
				ev(0, events.RestoreStarted, "users", trigger(events.TriggerManual)),
				ev(1, events.RestoreFailed, "users", failed("no backup; the table keeps its current data"), data("final", true)),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateOK || c.LastRestore == nil || c.LastRestore.Result != "failed" {
					t.Fatalf("state %s %+v", c.State, c.LastRestore)
				}
			},
		},
		{
			name: "restore without a good backup ends degraded",
			evs: []events.Event{
				ev(0, events.CorruptionDetected, "users", failed("bad block")),
				ev(1, events.RestoreStarted, "users"),
				ev(2, events.RestoreFailed, "users", failed("no backup")),
				ev(3, events.TableDegraded, "users", data("reason", "no good backup")),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateDegraded || c.Reason != "no good backup" || c.LastRestore.Error != "no backup" {
					t.Fatalf("state %s reason %q %+v", c.State, c.Reason, c.LastRestore)
				}
			},
		},
		{
			name: "salvage recovers",
			evs: []events.Event{
				ev(0, events.TableDegraded, "users", data("reason", "no good backup")),
				ev(1, events.TableRecovered, "users", data("records", 17.0, "source", "salvage")),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateOK || c.Records != 17 || c.Reason != "" {
					t.Fatalf("state %s records %d reason %q", c.State, c.Records, c.Reason)
				}
			},
		},
		{
			name: "stats carry the queue and next work",
			evs: []events.Event{
				ev(0, events.TableStats, "users", data("queue", 3.0, "next_backup", next.Format(time.RFC3339Nano), "next_verify", "not a time")),
			},
			check: func(t *testing.T, c Card) {
				if c.Queue != 3 || !c.Next["backup"].Equal(next) || len(c.Next) != 1 {
					t.Fatalf("queue %d next %v", c.Queue, c.Next)
				}
			},
		},
		{
			name: "degraded hides other work, recovered clears",
			evs: []events.Event{
				ev(0, events.TableDegraded, "users"),
				ev(1, events.VerifyFailed, "users", failed("x")),
				ev(2, events.TableRecovered, "users"),
			},
			check: func(t *testing.T, c Card) {
				if c.State != StateOK || c.Counters[events.TableDegraded] != 1 || c.Counters[events.VerifyFailed] != 1 || !c.StateSince.Equal(baseTime.Add(2*time.Second)) {
					t.Fatalf("state %s since %v counters %v", c.State, c.StateSince, c.Counters)
				}
			},
		},
		{
			name: "result implied by type",
			evs:  []events.Event{ev(0, events.CompactionCompleted, "users")},
			check: func(t *testing.T, c Card) {
				if c.LastCompaction.Result != events.ResultOK {
					t.Fatalf("%+v", c.LastCompaction)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState(Options{})
			applyAll(s, tc.evs)
			tc.check(t, card(t, s, "n1", "users"))
		})
	}
}

func TestNodeEventsMakeNoCard(t *testing.T) {
	s := NewState(Options{})
	applyAll(s, []events.Event{ev(0, events.NotificationSent, ""), ev(1, events.NotificationFailed, events.NodeTable, failed("503"))})
	if n := len(s.Cards()); n != 0 {
		t.Fatalf("%d cards from node events", n)
	}
	if got := s.History(Filter{}); len(got) != 2 {
		t.Fatalf("history has %d rows", len(got))
	}
	if c := s.Counts()[CountKey{Type: events.NotificationFailed, Result: "failed"}]; c != 1 {
		t.Fatalf("notification.failed counted %d", c)
	}
}

func TestRedeliveryChangesNothing(t *testing.T) {
	evs := script(200)
	once := NewState(Options{})
	applyAll(once, evs)

	twice := NewState(Options{})
	for i, e := range evs {
		seq := uint64(i + 1)
		if !twice.Apply(seq, e) {
			t.Fatalf("first apply of %d refused", seq)
		}
		if twice.Apply(seq, e) {
			t.Fatalf("second apply of %d accepted", seq)
		}
		// an older event redelivered late
		if seq > 3 && twice.Apply(seq-3, evs[i-3]) {
			t.Fatalf("late redelivery of %d accepted", seq-3)
		}
	}
	if !reflect.DeepEqual(once, twice) {
		t.Fatal("redelivered events changed the state")
	}
	if once.Applied() != 200 || once.LastSeq() != 200 {
		t.Fatalf("applied %d last %d", once.Applied(), once.LastSeq())
	}
}

func TestReplayEqualsLiveInterleaved(t *testing.T) {
	// Live: events arrive one by one, with reads in between. Replay: the
	// same sequence from 1 in one go, after a restart that redelivers the
	// last 50 messages.
	evs := script(500)
	live := NewState(Options{HistoryLimit: 100, SeriesLimit: 10})
	for i, e := range evs {
		live.Apply(uint64(i+1), e)
		_ = live.Cards()
		_ = live.History(Filter{Limit: 5})
	}
	replay := NewState(Options{HistoryLimit: 100, SeriesLimit: 10})
	applyAll(replay, evs[:300])
	for i := 250; i < len(evs); i++ {
		replay.Apply(uint64(i+1), evs[i])
	}
	if !reflect.DeepEqual(live, replay) {
		t.Fatal("replay differs from live")
	}
}

func TestSkipCountsInvalidOnce(t *testing.T) {
	s := NewState(Options{})
	s.Apply(1, ev(0, events.TableCreated, "users"))
	if !s.Skip(2) || s.Skip(2) || s.Skip(1) {
		t.Fatal("skip is not idempotent")
	}
	if s.Invalid() != 1 || s.LastSeq() != 2 || s.Applied() != 1 {
		t.Fatalf("invalid %d last %d applied %d", s.Invalid(), s.LastSeq(), s.Applied())
	}
}

func TestSeriesBounded(t *testing.T) {
	s := NewState(Options{SeriesLimit: 5})
	for i := 0; i < 12; i++ {
		s.Apply(uint64(i+1), ev(i, events.TableStats, "users", data("bytes", float64(100*i), "records", float64(i))))
	}
	pts := s.Series("n1", "users", 0)
	if len(pts) != 5 {
		t.Fatalf("%d points", len(pts))
	}
	for j, p := range pts {
		want := int64(100 * (7 + j))
		if p.Bytes != want || p.Records != int64(7+j) {
			t.Fatalf("point %d = %+v, want bytes %d", j, p, want)
		}
	}
	if got := s.Series("n1", "nope", 0); len(got) != 0 {
		t.Fatalf("unknown series has %d points", len(got))
	}
	// Thinned (the ring has wrapped: it holds bytes 700..1100): evenly
	// spread, always the first and the last.
	for max, want := range map[int][]int64{1: {1100}, 2: {700, 1100}, 3: {700, 900, 1100}, 4: {700, 800, 1000, 1100}, 5: {700, 800, 900, 1000, 1100}, 9: {700, 800, 900, 1000, 1100}} {
		pts := s.Series("n1", "users", max)
		var got []int64
		for _, p := range pts {
			got = append(got, p.Bytes)
		}
		if !slices.Equal(got, want) {
			t.Errorf("series thinned to %d: %v, want %v", max, got, want)
		}
	}
}

// The supervisor also sends table.stats as progress reports of a running
// operation and as failed reads: neither carries sizes, and neither may
// draw a point or zero the card's figures.
func TestStatsWithoutSizesDrawNoPoint(t *testing.T) {
	s := NewState(Options{})
	s.Apply(1, ev(0, events.TableStats, "users", data("bytes", float64(4096), "records", float64(10))))
	s.Apply(2, ev(1, events.TableStats, "users", data("progress_done", float64(5), "progress_total", float64(10), "progress_unit", "records")))
	failed := ev(2, events.TableStats, "users")
	failed.Result, failed.Error = events.ResultFailed, "stats: disk on fire"
	s.Apply(3, failed)
	if pts := s.Series("n1", "users", 0); len(pts) != 1 || pts[0].Bytes != 4096 {
		t.Fatalf("series = %+v, want the one point with sizes", pts)
	}
	if c := card(t, s, "n1", "users"); c.Bytes != 4096 || c.Records != 10 {
		t.Fatalf("card figures changed by a stats event without sizes: %+v", c)
	}
}

// The notifier's events name the table they notified about but carry the
// notifier's name as node: no card of their own, no change to the table's.
func TestNotificationEventsMakeNoCard(t *testing.T) {
	s := NewState(Options{})
	s.Apply(1, ev(0, events.TableStats, "users", data("bytes", float64(10))))
	sent := ev(1, events.NotificationSent, "users", data("sink", "webhook-1"))
	sent.Node = "notifier"
	s.Apply(2, sent)
	own := ev(2, events.NotificationSent, "users")
	s.Apply(3, own) // a notifier named like the node: n1
	cards := s.Cards()
	if len(cards) != 1 || cards[0].Node != "n1" || cards[0].Counters[events.NotificationSent] != 0 {
		t.Fatalf("cards %+v", cards)
	}
	if rows := s.History(Filter{Type: "notification"}); len(rows) != 2 {
		t.Fatalf("notification rows in history: %d", len(rows))
	}
}
