package bus

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

func openOutbox(t testing.TB, dir string) *Outbox {
	t.Helper()
	o, err := OpenOutbox(dir, OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() }) // after runOutbox's cleanup (LIFO)
	return o
}

// checkStream asserts that the stream holds exactly want, in order, each
// with Nats-Msg-Id = event id.
func checkStream(t testing.TB, js jetstream.JetStream, want []events.Event) {
	t.Helper()
	got, ids := streamEvents(t, js)
	if len(got) != len(want) {
		t.Fatalf("stream has %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("stream position %d: event %s (index %d), want %s (index %d)", i, got[i].ID, eventIndex(t, got[i]), want[i].ID, eventIndex(t, want[i]))
		}
		if ids[i] != want[i].ID {
			t.Fatalf("stream position %d: Nats-Msg-Id %q, want %q", i, ids[i], want[i].ID)
		}
		if !got[i].Time.Equal(want[i].Time) || got[i].Type != want[i].Type || got[i].Node != want[i].Node || got[i].Table != want[i].Table {
			t.Fatalf("stream position %d: envelope changed: %+v vs %+v", i, got[i], want[i])
		}
	}
}

func TestOutboxPublishesInOrderWithMsgID(t *testing.T) {
	js := startStream(t)
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))

	var mu sync.Mutex
	var seen []string
	o.OnPublished(func(e events.Event, seq uint64, dup bool) {
		mu.Lock()
		defer mu.Unlock()
		if dup {
			t.Errorf("event %s reported duplicate", e.ID)
		}
		if int(seq) != len(seen)+1 {
			t.Errorf("event %s at stream seq %d, want %d", e.ID, seq, len(seen)+1)
		}
		seen = append(seen, e.ID)
	})
	ctx := withTimeout(t, 30*time.Second)
	var want []events.Event
	for i := range 50 {
		e := testEvent(i)
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	if d := o.Depth(); d != 50 {
		t.Fatalf("depth %d before run, want 50", d)
	}
	runOutbox(t, o, js)
	for i := 50; i < 100; i++ { // more while the publisher runs
		e := testEvent(i)
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := o.Depth(); d != 0 {
		t.Fatalf("depth %d after flush", d)
	}
	checkStream(t, js, want)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(want) {
		t.Fatalf("watcher saw %d events, want %d", len(seen), len(want))
	}
	for i := range want {
		if seen[i] != want[i].ID {
			t.Fatalf("watcher order differs at %d", i)
		}
	}
	if st := o.Stats(); st.Published != 100 || st.Depth != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutboxKeepsEventsAndSequenceAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	ctx := withTimeout(t, 30*time.Second)
	var want []events.Event
	o := openOutbox(t, dir)
	for i := range 10 {
		e := testEvent(i)
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Emit(ctx, testEvent(99)); !errors.Is(err, ErrOutboxClosed) {
		t.Fatalf("emit after close: %v", err)
	}

	o = openOutbox(t, dir)
	if d := o.Depth(); d != 10 {
		t.Fatalf("depth after reopen %d, want 10", d)
	}
	for i := 10; i < 15; i++ {
		e := testEvent(i)
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	js := startStream(t)
	runOutbox(t, o, js)
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkStream(t, js, want)
}

func TestOutboxSequenceSurvivesEmptyRestart(t *testing.T) {
	// After every event is published the queue is empty; the next run must
	// still number new events after the old ones.
	dir := filepath.Join(t.TempDir(), "outbox")
	js := startStream(t)
	ctx := withTimeout(t, 30*time.Second)

	o := openOutbox(t, dir)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx, js) }()
	for i := range 3 {
		if err := o.Emit(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	next := o.next
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = openOutbox(t, dir)
	if o.next != next {
		t.Fatalf("sequence restarted at %d, want %d", o.next, next)
	}
}

func TestOutboxRefusesEventsItCouldNeverPublish(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	ctx := withTimeout(t, 10*time.Second)
	noID := testEvent(1)
	noID.ID = ""
	badNode := testEvent(2)
	badNode.Node = "a.b"
	emptyNode := testEvent(3)
	emptyNode.Node = ""
	badTable := testEvent(4)
	badTable.Table = "../etc"
	wildType := testEvent(5)
	wildType.Type = "x.>"
	huge := testEvent(6)
	huge.Data = map[string]any{"blob": strings.Repeat("x", MaxEventBytes)}
	for name, e := range map[string]events.Event{"no id": noID, "bad node": badNode, "empty node": emptyNode, "bad table": badTable, "wildcard type": wildType, "huge": huge} {
		if err := o.Emit(ctx, e); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := o.Emit(canceled, testEvent(7)); err == nil {
		t.Error("emit with a canceled context: accepted")
	}
	if d := o.Depth(); d != 0 {
		t.Fatalf("depth %d after refused events", d)
	}
	node := testEvent(8)
	node.Table = "" // node-level events are fine
	if err := o.Emit(ctx, node); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxRepublishIsDeduplicated(t *testing.T) {
	// A crash between the PubAck and the delete republishes the event on
	// the next run: the stream keeps one copy.
	js := startStream(t)
	ctx := withTimeout(t, 30*time.Second)
	first := testEvent(0)
	b, _ := first.Marshal()
	if _, err := js.Publish(ctx, events.Subject("custodian", first), b, jetstream.WithMsgID(first.ID)); err != nil {
		t.Fatal(err)
	}
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	dups := make(chan bool, 2)
	o.OnPublished(func(e events.Event, seq uint64, dup bool) { dups <- dup })
	second := testEvent(1)
	for _, e := range []events.Event{first, second} {
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	runOutbox(t, o, js)
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d1, d2 := <-dups, <-dups; !d1 || d2 {
		t.Fatalf("duplicate flags %v %v, want true false", d1, d2)
	}
	checkStream(t, js, []events.Event{first, second})
}

func TestOutboxFlushReportsWaitingEventsWhileNATSIsDown(t *testing.T) {
	port := natstest.FreePorts(t, 1)[0]
	s := runJS(t, t.TempDir(), port)
	js := newJS(t, connectTCP(t, s.ClientURL()))
	ensureStream(t, js)
	s.Shutdown()
	s.WaitForShutdown()

	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	runOutbox(t, o, js)
	ctx := withTimeout(t, 10*time.Second)
	if err := o.Emit(ctx, testEvent(1)); err != nil {
		t.Fatalf("emit while NATS is down: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	err := o.Flush(short)
	if err == nil || !strings.Contains(err.Error(), "1 events still waiting") {
		t.Fatalf("flush while down: %v", err)
	}
	if o.Depth() != 1 {
		t.Fatalf("depth %d", o.Depth())
	}
}

func TestOutboxCollector(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	ctx := withTimeout(t, 10*time.Second)
	for i := range 4 {
		if err := o.Emit(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(o.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "custodian_outbox_depth" {
			found = true
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 4 {
				t.Fatalf("custodian_outbox_depth = %v, want 4", v)
			}
		}
	}
	if !found {
		t.Fatal("custodian_outbox_depth not gathered")
	}
}

func TestOutboxConcurrentEmittersKeepEachOnesOrder(t *testing.T) {
	js := startStream(t)
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	runOutbox(t, o, js)
	ctx := withTimeout(t, 60*time.Second)
	const emitters, each = 8, 100
	var wg sync.WaitGroup
	for g := range emitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := o.Emit(ctx, testEvent(g*each+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, ids := streamEvents(t, js)
	if len(got) != emitters*each {
		t.Fatalf("%d events in the stream, want %d", len(got), emitters*each)
	}
	last := map[int]int{}
	seen := map[int]bool{}
	for i, e := range got {
		if ids[i] != e.ID {
			t.Fatalf("Nats-Msg-Id %q for %s", ids[i], e.ID)
		}
		idx := eventIndex(t, e)
		if seen[idx] {
			t.Fatalf("event %d twice", idx)
		}
		seen[idx] = true
		g := idx / each
		if prev, ok := last[g]; ok && idx <= prev {
			t.Fatalf("emitter %d: event %d after %d", g, idx, prev)
		}
		last[g] = idx
	}
}

func TestOutboxParksAnUndecodableEntryAndGoesOn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	ctx := withTimeout(t, 30*time.Second)
	o := openOutbox(t, dir)
	first, second := testEvent(1), testEvent(2)
	if err := o.Emit(ctx, first); err != nil {
		t.Fatal(err)
	}
	// Damage: an entry between the two that is not an event.
	if err := o.db.Put(eventKey(o.next), []byte("{not an event"), nil); err != nil {
		t.Fatal(err)
	}
	o.next++
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = openOutbox(t, dir)
	if err := o.Emit(ctx, second); err != nil {
		t.Fatal(err)
	}
	if d := o.Depth(); d != 3 {
		t.Fatalf("depth %d, want 3", d)
	}
	js := startStream(t)
	runOutbox(t, o, js)
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkStream(t, js, []events.Event{first, second})
	if st := o.Stats(); st.Parked != 1 || st.Depth != 0 {
		t.Fatalf("stats %+v", st)
	}
	if v, err := o.db.Get(append([]byte(keyParkedPrefix), eventKey(2)[1:]...), nil); err != nil || string(v) != "{not an event" {
		t.Fatalf("parked entry not kept: %q %v", v, err)
	}
}

func TestOutboxPublishesOnlyToTheEventStream(t *testing.T) {
	js := startJS(t)
	ctx := withTimeout(t, 30*time.Second)
	other, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"custodian.events.>"}})
	if err != nil {
		t.Fatal(err)
	}
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	runOutbox(t, o, js)
	if err := o.Emit(ctx, testEvent(1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, func() bool { return o.Stats().Failures >= 2 })
	info, err := other.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 || o.Depth() != 1 {
		t.Fatalf("event went to another stream (%d msgs) or left the outbox (depth %d)", info.State.Msgs, o.Depth())
	}
	if st := o.Stats(); !strings.Contains(st.LastError, "stream") {
		t.Fatalf("last error %q", st.LastError)
	}
}
