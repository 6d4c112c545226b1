package projections

import (
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestAttachStartsOverOnlyOnANewStream(t *testing.T) {
	p := New(Options{})
	early := p.Subscribe(4) // before the consumer found the stream
	first := time.Unix(100, 5)
	p.Attach(first, false)
	if _, open := next(t, early); open || !early.Restarted() {
		t.Fatal("a subscription of generation 0 goes on in generation 1")
	}
	sub := p.Subscribe(4)
	if sub.Gen != first.UnixNano() || p.Generation() != first.UnixNano() {
		t.Fatalf("generation %d, subscription %d, want %d", p.Generation(), sub.Gen, first.UnixNano())
	}
	p.Apply(1, events.New(events.TableCreated, "n1", "users"))

	// The same stream again (a session after a NATS restart): nothing ends.
	p.Attach(first, false)
	p.Apply(2, events.New(events.TableStats, "n1", "users"))
	if rows, open := next(t, sub); !open || len(rows) != 2 || rows[0].Seq != 1 || rows[1].Seq != 2 {
		t.Fatalf("got %v (open %v), want seqs 1 and 2", rows, open)
	}

	// A stream created anew: the state is empty, the subscription ends as
	// restarted (not lagged), a new one has the new generation.
	second := first.Add(time.Second)
	p.Attach(second, true)
	if _, open := next(t, sub); open {
		t.Fatal("subscription still open after the stream started over")
	}
	if !sub.Restarted() || sub.Lagged() {
		t.Fatalf("restarted %v lagged %v, want true false", sub.Restarted(), sub.Lagged())
	}
	if p.LastSeq() != 0 || len(p.History(Filter{})) != 0 {
		t.Fatalf("state kept: last seq %d, %d rows", p.LastSeq(), len(p.History(Filter{})))
	}
	nextSub := p.Subscribe(4)
	if nextSub.Gen != second.UnixNano() {
		t.Fatalf("new subscription has generation %d, want %d", nextSub.Gen, second.UnixNano())
	}

	// The same stream's sequences went back (a server restored from an
	// older copy): its creation time is the same, the generation is not.
	p.Attach(second, true)
	if _, open := next(t, nextSub); open || !nextSub.Restarted() || p.Generation() == second.UnixNano() {
		t.Fatalf("start over on the same stream: subscription open %v, generation %d (was %d)", open, p.Generation(), second.UnixNano())
	}
	// A later session on that stream (a reconnect) keeps the generation
	// and the subscriptions.
	moved := p.Generation()
	last := p.Subscribe(4)
	p.Attach(second, false)
	if p.Generation() != moved || last.Gen != moved {
		t.Fatalf("a reconnect changed the generation: %d, subscription %d, want %d", p.Generation(), last.Gen, moved)
	}
	p.Apply(1, events.New(events.TableCreated, "n1", "users"))
	if rows, open := next(t, last); !open || len(rows) != 1 || rows[0].Seq != 1 {
		t.Fatal("a reconnect ended the subscription")
	}
}

// next waits for the subscription to be ready and takes its rows.
func next(t *testing.T, s *Subscription) ([]Row, bool) {
	t.Helper()
	waitTake(t, s)
	return s.Take(nil)
}

func waitTake(t *testing.T, s *Subscription) {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("subscription not ready")
	}
}

// TestSubscriptionQueueGrowsToItsBound: an idle subscription holds no
// rows; its queue grows with a burst, up to the bound, and one row more
// ends it as lagged (not restarted).
func TestSubscriptionQueueGrowsToItsBound(t *testing.T) {
	p := New(Options{})
	p.Attach(time.Unix(100, 0), false)
	sub := p.Subscribe(100)
	if rows, open := sub.Take(nil); len(rows) != 0 || cap(rows) != 0 || !open {
		t.Fatalf("idle subscription: %d rows, capacity %d, open %v", len(rows), cap(rows), open)
	}
	seq := uint64(0)
	apply := func(n int) {
		for range n {
			seq++
			p.Apply(seq, events.New(events.TableStats, "n1", "users"))
		}
	}
	apply(100)
	rows, open := next(t, sub)
	if !open || len(rows) != 100 || rows[0].Seq != 1 || rows[99].Seq != 100 {
		t.Fatalf("after a burst of 100: %d rows, open %v", len(rows), open)
	}
	// The emptied slice handed back to Take is where the next rows queue.
	clear(rows)
	apply(3)
	waitTake(t, sub)
	if again, open := sub.Take(rows); !open || len(again) != 3 || again[0].Seq != 101 {
		t.Fatalf("after 3 more: %v, open %v", again, open)
	}
	apply(1)
	if reused, _ := next(t, sub); len(reused) != 1 || &reused[0] != &rows[0] {
		t.Fatalf("the handed back slice was not reused (%d rows)", len(reused))
	}
	apply(101)
	if rows, open := next(t, sub); open || len(rows) != 0 || !sub.Lagged() || sub.Restarted() {
		t.Fatalf("101 rows behind a bound of 100: open %v, %d rows, lagged %v, restarted %v", open, len(rows), sub.Lagged(), sub.Restarted())
	}
}
