package projections

import (
	"context"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

func TestConsumerReplayEqualsLive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, js := natstest.StartWithStream(ctx, t, prefix)

	live, liveC, liveDone := startConsumer(ctx, t, js, Options{HistoryLimit: 300})
	waitReady(t, liveC) // empty stream: ready at once

	evs := fresh(script(400))
	audit := withoutStats(evs)
	for i, e := range audit {
		seq := natstest.MustPublish(ctx, t, js, prefix, e)
		if i == 100 {
			// the same event again: the stream's dedup drops it
			if dup := natstest.MustPublish(ctx, t, js, prefix, e); dup != seq {
				t.Fatalf("duplicate got seq %d, want %d", dup, seq)
			}
		}
	}
	last := uint64(len(audit))
	stats := publishStats(ctx, t, js, evs)
	waitSeq(t, live, last)
	waitStatsSeq(t, live, stats)

	restarted, restartedC, _ := startConsumer(ctx, t, js, Options{HistoryLimit: 300})
	waitReady(t, restartedC)
	if got := restarted.LastSeq(); got < last {
		t.Fatalf("ready at seq %d before reaching %d", got, last)
	}
	if got := restarted.StatsLastSeq(); got < stats {
		t.Fatalf("ready at stats seq %d before reaching %d", got, stats)
	}
	// The one that started on the full streams shows what the one that
	// followed them live shows, and what folding the events directly
	// gives: the same cards, the same history window.
	if msg := sameView(live, restarted); msg != "" {
		t.Fatalf("started on the streams vs live: %s", msg)
	}
	direct := New(Options{HistoryLimit: 300})
	seq, sseq := uint64(0), uint64(0)
	for _, e := range evs {
		if events.IsStats(e) {
			sseq++
			direct.ApplyStats(sseq, e)
		} else {
			seq++
			direct.Apply(seq, e)
		}
	}
	if msg := sameView(direct, restarted); msg != "" {
		t.Fatalf("started on the streams vs folded directly: %s", msg)
	}
	cancel()
	if err := <-liveDone; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestConsumerSurvivesNATSRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, _, js := natstest.StartWithStream(ctx, t, prefix)
	evs := withoutStats(fresh(script(330)))[:300]
	natstest.PublishAll(ctx, t, js, prefix, evs[:100])
	p, c, _ := startConsumer(ctx, t, js, Options{})
	waitReady(t, c)
	waitSeq(t, p, 100)

	srv.Restart()
	publishAllRetry(ctx, t, js, evs[100:200])
	srv.Restart()
	publishAllRetry(ctx, t, js, evs[200:])
	waitSeq(t, p, 300)
	time.Sleep(200 * time.Millisecond) // let anything extra arrive, if it would

	s := stateOf(p)
	var total uint64
	for _, n := range s.Counts() {
		total += n
	}
	if s.Applied() != 300 || total != 300 || s.LastSeq() != 300 {
		t.Fatalf("applied %d counted %d last %d, want 300", s.Applied(), total, s.LastSeq())
	}
	rows := p.History(Filter{Limit: 1000})
	if len(rows) != 300 {
		t.Fatalf("%d history rows", len(rows))
	}
	for i, r := range rows {
		if r.Seq != uint64(300-i) || r.ID != evs[299-i].ID {
			t.Fatalf("row %d: seq %d id %s, want seq %d id %s", i, r.Seq, r.ID, 300-i, evs[299-i].ID)
		}
	}
	if st := c.Status(); st.Sessions < 1 || !st.Ready {
		t.Fatalf("status %+v", st)
	}

	replay, rc, _ := startConsumer(ctx, t, js, Options{})
	waitReady(t, rc)
	if msg := sameView(p, replay); msg != "" {
		t.Fatalf("state after restarts differs from a fresh start: %s", msg)
	}
}

func TestConsumerWaitsForStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, js := natstest.Start(t).JetStream(t)
	p, c, _ := startConsumer(ctx, t, js, Options{})
	waitReady(t, c) // no stream yet: nothing to replay
	natstest.CreateStream(ctx, t, js, prefix)
	natstest.MustPublish(ctx, t, js, prefix, events.New(events.TableCreated, "n1", "users"))
	waitSeq(t, p, 1)
	if cards := p.TableCards("users"); len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
}

func TestConsumerSkipsGarbage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, js := natstest.StartWithStream(ctx, t, prefix)
	if _, err := js.Publish(ctx, prefix+".events.n1.users.table.stats", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	natstest.MustPublish(ctx, t, js, prefix, events.New(events.TableCreated, "n1", "users"))
	p, c, _ := startConsumer(ctx, t, js, Options{})
	waitReady(t, c)
	waitSeq(t, p, 2)
	s := stateOf(p)
	if s.Invalid() != 1 || s.Applied() != 1 {
		t.Fatalf("invalid %d applied %d", s.Invalid(), s.Applied())
	}
}

func TestConsumerStartsOverOnANewStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, js := natstest.StartWithStream(ctx, t, prefix)
	natstest.PublishAll(ctx, t, js, prefix, withoutStats(fresh(script(30)))[:20])
	p, c, _ := startConsumer(ctx, t, js, Options{}, func(c *Consumer) { c.events.checkEvery, c.stats.checkEvery = 50*time.Millisecond, 50*time.Millisecond })
	waitReady(t, c)
	waitSeq(t, p, 20)

	// Someone deletes the stream and creates it again, and more than the
	// old number of events arrive before the consumer looks again.
	if err := js.DeleteStream(ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(ctx, t, js, prefix)
	evs := withoutStats(fresh(script(40)))[:30]
	natstest.PublishAll(ctx, t, js, prefix, evs)
	// Until the watch notices (checkEvery), the ordered consumer may go on
	// at sequence 21 of the new stream: applied 30, last 30 can be seen
	// with the old 20 events still in. Wait for the projection to hold
	// exactly the new stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var applied, last uint64
		p.Read(func(s *State) { applied, last = s.Applied(), s.LastSeq() })
		rows := p.History(Filter{Limit: 100})
		same := len(rows) == len(evs)
		for i := 0; same && i < len(rows); i++ {
			same = rows[i].ID == evs[len(evs)-1-i].ID && rows[i].Seq == uint64(len(evs)-i)
		}
		if applied == 30 && last == 30 && same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the new stream: applied %d last %d, %d rows (the new stream's only: %v), want 30 30 and its 30 events", applied, last, len(rows), same)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When the stream is deleted, the ordered consumer inside the iterator
// retries its reset on its own and does not watch ctx: Run must still end
// when ctx ends (a dashboard that cannot stop blocks the supervisor's
// SIGTERM in the one-command mode).
func TestConsumerStopsWhileTheStreamIsGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, js := natstest.StartWithStream(ctx, t, prefix)
	natstest.PublishAll(ctx, t, js, prefix, fresh(script(5)))
	runCtx, stop := context.WithCancel(ctx)
	_, c, done := startConsumer(runCtx, t, js, Options{})
	waitReady(t, c)
	if err := js.DeleteStream(ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the ordered consumer notices and starts resetting
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30 s after its context ended, with the stream deleted")
	}
}
