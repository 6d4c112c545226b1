package projections

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

const prefix = "custodian"

// fresh gives each event a new id, so that the stream's duplicate window
// does not drop a script's events across tests.
func fresh(evs []events.Event) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		e.ID = events.NewID()
		out[i] = e
	}
	return out
}

func startConsumer(ctx context.Context, t *testing.T, js jetstream.JetStream, opts Options) (*Projection, *Consumer, chan error) {
	t.Helper()
	p := New(opts)
	c := NewConsumer(js, events.StreamName, p)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return p, c, done
}

func waitSeq(t *testing.T, p *Projection, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.LastSeq() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("projection stuck at %d, want %d", p.LastSeq(), seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitReady(t *testing.T, c *Consumer) {
	t.Helper()
	select {
	case <-c.Ready():
	case <-time.After(20 * time.Second):
		t.Fatalf("consumer not ready: %+v", c.Status())
	}
}

func stateOf(p *Projection) *State {
	var s *State
	p.Read(func(st *State) { s = st })
	return s
}

func TestConsumerReplayEqualsLive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(ctx, t, js, prefix)

	live, liveC, liveDone := startConsumer(ctx, t, js, Options{HistoryLimit: 300})
	waitReady(t, liveC) // empty stream: ready at once

	evs := fresh(script(400))
	var last uint64
	for i, e := range evs {
		last = natstest.MustPublish(ctx, t, js, prefix, e)
		if i == 100 {
			// the same event again: the stream's dedup drops it
			if dup := natstest.MustPublish(ctx, t, js, prefix, e); dup != last {
				t.Fatalf("duplicate got seq %d, want %d", dup, last)
			}
		}
	}
	if last != 400 {
		t.Fatalf("last seq %d", last)
	}
	waitSeq(t, live, last)

	replay, replayC, _ := startConsumer(ctx, t, js, Options{HistoryLimit: 300})
	waitReady(t, replayC)
	if got := replay.LastSeq(); got < last {
		t.Fatalf("ready at seq %d before reaching %d", got, last)
	}

	// Both went through the stream: the same JSON, the same state.
	var equal bool
	live.Read(func(a *State) { replay.Read(func(b *State) { equal = reflect.DeepEqual(a, b) }) })
	if !equal {
		t.Fatal("replayed state differs from live state")
	}
	// And the same as folding the events directly.
	direct := NewState(Options{HistoryLimit: 300})
	applyAll(direct, evs)
	if s := stateOf(replay); s.Applied() != 400 || len(s.Cards()) != len(direct.Cards()) {
		t.Fatalf("applied %d, cards %d want %d", s.Applied(), len(s.Cards()), len(direct.Cards()))
	}
	for _, c := range direct.Cards() {
		got := replay.TableCards(c.Table)
		found := false
		for _, g := range got {
			if g.Node == c.Node {
				found = true
				if g.State != c.State || g.Bytes != c.Bytes || g.Records != c.Records || !reflect.DeepEqual(g.Counters, c.Counters) {
					t.Fatalf("card %s/%s: stream %+v direct %+v", c.Node, c.Table, g, c)
				}
			}
		}
		if !found {
			t.Fatalf("no card %s/%s after replay", c.Node, c.Table)
		}
	}
	cancel()
	if err := <-liveDone; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestConsumerSurvivesNATSRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(ctx, t, js, prefix)
	evs := fresh(script(300))
	for _, e := range evs[:100] {
		natstest.MustPublish(ctx, t, js, prefix, e)
	}
	p, c, _ := startConsumer(ctx, t, js, Options{})
	waitReady(t, c)
	waitSeq(t, p, 100)

	srv.Restart()
	for _, e := range evs[100:200] {
		publishRetry(ctx, t, js, e)
	}
	srv.Restart()
	for _, e := range evs[200:] {
		publishRetry(ctx, t, js, e)
	}
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
	var equal bool
	p.Read(func(a *State) { replay.Read(func(b *State) { equal = reflect.DeepEqual(a, b) }) })
	if !equal {
		t.Fatal("state after restarts differs from a fresh replay")
	}
}

// publishRetry publishes through a reconnecting client: a publish that
// fails while the server restarts is retried with the same message id.
func publishRetry(ctx context.Context, t *testing.T, js jetstream.JetStream, e events.Event) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := natstest.Publish(pctx, js, prefix, e)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish %s: %v", e.Type, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConsumerWaitsForStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
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
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(ctx, t, js, prefix)
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
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(ctx, t, js, prefix)
	for _, e := range fresh(script(20)) {
		natstest.MustPublish(ctx, t, js, prefix, e)
	}
	p := New(Options{})
	c := NewConsumer(js, events.StreamName, p)
	c.checkEvery = 50 * time.Millisecond
	go func() { _ = c.Run(ctx) }()
	waitReady(t, c)
	waitSeq(t, p, 20)

	// Someone deletes the stream and creates it again, and more than the
	// old number of events arrive before the consumer looks again.
	if err := js.DeleteStream(ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(ctx, t, js, prefix)
	evs := fresh(script(30))
	for _, e := range evs {
		natstest.MustPublish(ctx, t, js, prefix, e)
	}
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
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(ctx, t, js, prefix)
	for _, e := range fresh(script(5)) {
		natstest.MustPublish(ctx, t, js, prefix, e)
	}
	p := New(Options{})
	c := NewConsumer(js, events.StreamName, p)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
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
