package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// sink is where a feed puts what it reads from its stream.
type sink struct {
	// latest folds one of the newest messages per subject (read at start,
	// before the window) into the cards.
	latest func(seq uint64, e events.Event)
	apply  func(seq uint64, e events.Event)
	skip   func(seq uint64)
	// lastSeq is the sequence last applied (0: start afresh).
	lastSeq func() uint64
	// attach says which stream the state comes from; startOver: it was
	// created anew or its sequences went back (the state starts over).
	attach func(created time.Time, startOver bool)
	// reset, when set, forgets what the feed applied: the other feed
	// emptied the state (see feed.run's restart).
	reset func()
}

// feed reads one stream into a projection. Afresh (nothing applied yet)
// it reads, instead of the whole stream:
//
//  1. the newest message of every subject (a consumer with
//     DeliverLastPerSubject, up to the last one there is), folded into the
//     cards: each table's state and last outcomes;
//  2. the newest window messages (an ordered consumer from the last
//     sequence - window + 1), for the history, then every new message as
//     it comes.
//
// After a disconnect or another error it goes on from the last sequence
// applied + 1, so nothing is missed and nothing is counted twice.
type feed struct {
	js         jetstream.JetStream
	stream     string
	window     int
	sink       sink
	checkEvery time.Duration

	ready     chan struct{}
	readyOnce sync.Once
	// delivered counts the messages the feed's consumers delivered.
	delivered atomic.Uint64

	mu       sync.Mutex
	target   uint64    // stream's last sequence when the feed started
	created  time.Time // creation time of the stream the state holds
	sessions int
	lastErr  error
	attached bool
}

func newFeed(js jetstream.JetStream, stream string, window int, s sink, checkEvery time.Duration) *feed {
	return &feed{js: js, stream: stream, window: max(window, 1), sink: s, checkEvery: checkEvery, ready: make(chan struct{})}
}

func (f *feed) markReady() { f.readyOnce.Do(func() { close(f.ready) }) }

func (f *feed) isReady() bool {
	select {
	case <-f.ready:
		return true
	default:
		return false
	}
}

func (f *feed) setErr(err error) {
	f.mu.Lock()
	f.lastErr = err
	f.attached = false
	f.mu.Unlock()
}

// run runs sessions until ctx ends; errors are retried with a backoff.
// A session also ends when restart receives (the state was emptied under
// it: a new session starts afresh).
func (f *feed) run(ctx context.Context, restart <-chan struct{}) {
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	for {
		sctx, cancel := context.WithCancelCause(ctx)
		stop := make(chan struct{})
		go func() {
			select {
			case <-restart:
				cancel(errStateReset)
			case <-stop:
			}
		}()
		err := f.session(sctx)
		close(stop)
		cancel(nil)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStateReset) {
			// Whatever the ended session applied after the state was
			// emptied goes too: the next one reads afresh.
			if f.sink.reset != nil {
				f.sink.reset()
			}
			continue
		}
		f.mu.Lock()
		if f.attached {
			backoff = minBackoff // the session worked for a while: retry soon
		}
		f.mu.Unlock()
		if err != nil {
			f.setErr(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

// errStateReset ends a session whose state was emptied by the other feed.
var errStateReset = errors.New("the projection started over")

// session reads the stream (afresh: its newest message per subject, then
// its window) and follows it until it fails.
func (f *feed) session(ctx context.Context) error {
	lookupCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	stream, err := f.js.Stream(lookupCtx, f.stream)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			f.markReady() // nothing to read yet: an empty view is caught up
		}
		return fmt.Errorf("stream %s: look up: %w", f.stream, err)
	}
	info := stream.CachedInfo()
	last := f.sink.lastSeq()
	f.mu.Lock()
	recreated := !f.created.IsZero() && !info.Created.Equal(f.created)
	f.created = info.Created
	f.mu.Unlock()
	startOver := recreated || info.State.LastSeq < last
	f.sink.attach(info.Created, startOver)
	if startOver {
		last = 0
	}
	f.mu.Lock()
	f.sessions++
	if f.target == 0 {
		f.target = info.State.LastSeq
	}
	target := f.target
	f.mu.Unlock()

	ctx, endSession := context.WithCancelCause(ctx)
	defer endSession(nil)
	go f.watchStream(ctx, endSession, info.Created)

	start := last + 1
	if last == 0 && info.State.Msgs == 0 {
		start = info.State.LastSeq + 1 // everything aged out: nothing to read
	}
	if last == 0 && info.State.Msgs > 0 {
		if err := f.readLatest(ctx, stream, info); err != nil {
			return err
		}
		start = max(info.State.FirstSeq, info.State.LastSeq-min(info.State.LastSeq, uint64(f.window))+1)
	}
	if start > target {
		f.markReady()
	}
	return f.follow(ctx, stream, start, target)
}

// readLatest folds the newest message of every subject of the stream
// into the cards, in sequence order, up to the last one there is.
func (f *feed) readLatest(ctx context.Context, stream jetstream.Stream, info *jetstream.StreamInfo) error {
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: info.Config.Subjects,
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("stream %s: newest per subject: %w", f.stream, err)
	}
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("stream %s: newest per subject: %w", f.stream, err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	dec := newDecoder()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("stream %s: newest per subject: %w", f.stream, causeOf(ctx, err))
		}
		f.delivered.Add(1)
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("stream %s: metadata: %w", f.stream, err)
		}
		if e, err := dec.decode(msg.Data()); err == nil {
			f.sink.latest(meta.Sequence.Stream, e)
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}

// follow reads the stream from start on, marking the feed ready at target.
func (f *feed) follow(ctx context.Context, stream jetstream.Stream, start, target uint64) error {
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
	})
	if err != nil {
		return fmt.Errorf("stream %s: ordered consumer from %d: %w", f.stream, start, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("stream %s: consume from %d: %w", f.stream, start, err)
	}
	defer it.Stop()
	// Next can be stuck inside the ordered consumer's own reset loop (the
	// stream was deleted, the server is away), which does not watch ctx:
	// stopping the iterator is what ends it.
	defer context.AfterFunc(ctx, it.Stop)()
	dec := newDecoder()
	f.mu.Lock()
	f.attached = true
	f.lastErr = nil
	f.mu.Unlock()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("stream %s: next after %d: %w", f.stream, f.sink.lastSeq(), causeOf(ctx, err))
		}
		f.delivered.Add(1)
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("stream %s: metadata: %w", f.stream, err)
		}
		seq := meta.Sequence.Stream
		if e, err := dec.decode(msg.Data()); err != nil {
			f.sink.skip(seq)
		} else {
			f.sink.apply(seq, e)
		}
		if seq >= target || meta.NumPending == 0 {
			f.markReady()
		}
	}
}

// causeOf is the reason ctx ended a session, when it did, else err.
func causeOf(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return cause
	}
	return err
}

// errStreamRecreated ends a session whose stream was deleted and created
// anew.
var errStreamRecreated = errors.New("stream deleted and created anew")

// watchStream ends the session (cancel) when the stream's creation time
// changes.
func (f *feed) watchStream(ctx context.Context, cancel context.CancelCauseFunc, created time.Time) {
	t := time.NewTicker(f.checkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := f.js.Stream(lctx, f.stream)
		lcancel()
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			cancel(errStreamRecreated)
			return
		case err != nil:
			continue // NATS is away: the ordered consumer copes or fails
		case !st.CachedInfo().Created.Equal(created):
			cancel(errStreamRecreated)
			return
		}
	}
}
