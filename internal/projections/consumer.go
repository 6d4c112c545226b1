package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Consumer feeds a Projection from the event stream: it replays from the
// first message the projection has not seen (sequence 1 at startup), then
// follows the stream live. After a disconnect, a NATS restart or any other
// error it resumes from the projection's last sequence + 1, so nothing is
// missed and nothing is counted twice.
type Consumer struct {
	js     jetstream.JetStream
	stream string
	p      *Projection

	ready     chan struct{}
	readyOnce sync.Once
	// checkEvery is how often a session looks whether the stream was
	// deleted and created anew (the ordered consumer would silently go on
	// at the old sequence on the new stream).
	checkEvery time.Duration

	mu       sync.Mutex
	target   uint64    // stream's last sequence when the consumer started
	created  time.Time // creation time of the stream the projection holds
	sessions int       // consumers created (1 + restarts)
	lastErr  error
	attached bool
}

// ConsumerStatus describes the consumer for /healthz.
type ConsumerStatus struct {
	Ready     bool   `json:"ready"`
	Attached  bool   `json:"attached"`
	LastSeq   uint64 `json:"last_seq"`
	TargetSeq uint64 `json:"target_seq"`
	Sessions  int    `json:"sessions"`
	LastError string `json:"last_error,omitempty"`
}

// DefaultStreamCheck is how often a consumer looks whether its stream was
// deleted and created anew.
const DefaultStreamCheck = 10 * time.Second

// NewConsumer returns a consumer of stream (events.StreamName) into p that
// looks every checkEvery (DefaultStreamCheck when 0) whether the stream was
// deleted and created anew.
func NewConsumer(js jetstream.JetStream, stream string, p *Projection, checkEvery time.Duration) *Consumer {
	if checkEvery <= 0 {
		checkEvery = DefaultStreamCheck
	}
	return &Consumer{js: js, stream: stream, p: p, ready: make(chan struct{}), checkEvery: checkEvery}
}

// Ready is closed once the projection has caught up with the stream as it
// was when the consumer started (at once for an empty or missing stream).
func (c *Consumer) Ready() <-chan struct{} { return c.ready }

func (c *Consumer) markReady() { c.readyOnce.Do(func() { close(c.ready) }) }

// Status reports where the consumer is.
func (c *Consumer) Status() ConsumerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ConsumerStatus{
		Attached:  c.attached,
		LastSeq:   c.p.LastSeq(),
		TargetSeq: c.target,
		Sessions:  c.sessions,
	}
	if c.lastErr != nil {
		st.LastError = c.lastErr.Error()
	}
	select {
	case <-c.ready:
		st.Ready = true
	default:
	}
	return st
}

func (c *Consumer) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.attached = false
	c.mu.Unlock()
}

// Run consumes until ctx is done; errors are retried with a backoff and
// kept for Status. It returns nil when ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	for {
		err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.mu.Lock()
		if c.attached {
			backoff = minBackoff // the session worked for a while: retry soon
		}
		c.mu.Unlock()
		if err != nil {
			c.setErr(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

// session runs one ordered consumer from the projection's last sequence + 1
// until it fails.
func (c *Consumer) session(ctx context.Context) error {
	lookupCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	stream, err := c.js.Stream(lookupCtx, c.stream)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			// Nothing to replay yet: an empty dashboard is caught up.
			c.markReady()
		}
		return fmt.Errorf("stream %s: look up: %w", c.stream, err)
	}
	info := stream.CachedInfo()
	last := c.p.LastSeq()
	c.mu.Lock()
	recreated := !c.created.IsZero() && !info.Created.Equal(c.created)
	c.created = info.Created
	c.mu.Unlock()
	// A stream deleted and created anew starts its sequences over, and so
	// does the projection.
	startOver := recreated || info.State.LastSeq < last
	c.p.Attach(info.Created, startOver)
	if startOver {
		last = 0
	}
	c.mu.Lock()
	c.sessions++
	if c.target == 0 {
		c.target = info.State.LastSeq
	}
	target := c.target
	c.mu.Unlock()
	if last >= target {
		c.markReady()
	}

	ctx, endSession := context.WithCancelCause(ctx)
	defer endSession(nil)
	go c.watchStream(ctx, endSession, info.Created)

	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   last + 1,
	})
	if err != nil {
		return fmt.Errorf("stream %s: ordered consumer from %d: %w", c.stream, last+1, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("stream %s: consume from %d: %w", c.stream, last+1, err)
	}
	defer it.Stop()
	// Next can be stuck inside the ordered consumer's own reset loop (the
	// stream was deleted, the server is away), which does not watch ctx:
	// stopping the iterator is what ends it.
	defer context.AfterFunc(ctx, it.Stop)()
	dec := newDecoder()
	c.mu.Lock()
	c.attached = true
	c.lastErr = nil
	c.mu.Unlock()

	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
				err = cause
			}
			return fmt.Errorf("stream %s: next after %d: %w", c.stream, c.p.LastSeq(), err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("stream %s: metadata: %w", c.stream, err)
		}
		seq := meta.Sequence.Stream
		if e, err := dec.decode(msg.Data()); err != nil {
			c.p.Skip(seq)
		} else {
			c.p.Apply(seq, e)
		}
		if seq >= target || meta.NumPending == 0 {
			c.markReady()
		}
	}
}

// errStreamRecreated ends a session whose stream was deleted and created
// anew.
var errStreamRecreated = errors.New("stream deleted and created anew")

// watchStream ends the session (cancel) when the stream's creation time
// changes.
func (c *Consumer) watchStream(ctx context.Context, cancel context.CancelCauseFunc, created time.Time) {
	t := time.NewTicker(c.checkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := c.js.Stream(lctx, c.stream)
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
