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
	if _, open := <-early.C; open || !early.Restarted() {
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
	for seq := uint64(1); seq <= 2; seq++ {
		if row := <-sub.C; row.Seq != seq {
			t.Fatalf("got seq %d, want %d", row.Seq, seq)
		}
	}

	// A stream created anew: the state is empty, the subscription ends as
	// restarted (not lagged), a new one has the new generation.
	second := first.Add(time.Second)
	p.Attach(second, true)
	if _, open := <-sub.C; open {
		t.Fatal("subscription still open after the stream started over")
	}
	if !sub.Restarted() || sub.Lagged() {
		t.Fatalf("restarted %v lagged %v, want true false", sub.Restarted(), sub.Lagged())
	}
	if p.LastSeq() != 0 || len(p.History(Filter{})) != 0 {
		t.Fatalf("state kept: last seq %d, %d rows", p.LastSeq(), len(p.History(Filter{})))
	}
	next := p.Subscribe(4)
	if next.Gen != second.UnixNano() {
		t.Fatalf("new subscription has generation %d, want %d", next.Gen, second.UnixNano())
	}

	// The same stream's sequences went back (a server restored from an
	// older copy): its creation time is the same, the generation is not.
	p.Attach(second, true)
	if _, open := <-next.C; open || !next.Restarted() || p.Generation() == second.UnixNano() {
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
	if row, open := <-last.C; !open || row.Seq != 1 {
		t.Fatal("a reconnect ended the subscription")
	}
}
