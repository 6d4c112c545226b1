package projections

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// Consumer feeds a Projection from the event stream CUSTODIAN_EVENTS and
// the stats stream CUSTODIAN_STATS. It starts fast at any length of them:
// it does not replay them, it reads (see feed)
//
//   - of each stream, the newest message of every subject, for the cards:
//     <prefix>.events.<node>.<table>.<type> gives each table's last event
//     of every type (its last compaction, backup, verify, restore and
//     drill, whether it is degraded, compacting or restoring), and
//     <prefix>.stats.<node>.<table> its newest figures;
//   - the newest HistoryLimit events and StatsLimit table.stats, for the
//     history;
//
// then follows both streams live. After a disconnect, a NATS restart or
// any other error it resumes from the last sequence applied + 1, so nothing
// is missed and nothing is counted twice; a stream deleted and created anew
// is read afresh.
type Consumer struct {
	p      *Projection
	events *feed
	stats  *feed
	ready  chan struct{}
	// statsRestart tells the stats feed that the projection started over
	// on a new event stream (its state, stats included, was emptied).
	statsRestart chan struct{}
}

// ConsumerStatus describes the consumer for /healthz.
type ConsumerStatus struct {
	Ready     bool   `json:"ready"`
	Attached  bool   `json:"attached"`
	LastSeq   uint64 `json:"last_seq"`
	TargetSeq uint64 `json:"target_seq"`
	Sessions  int    `json:"sessions"`
	LastError string `json:"last_error,omitempty"`
	// Delivered counts the messages of the event stream read so far
	// (newest per subject, window and live ones).
	Delivered uint64 `json:"delivered"`
	// Stats is where the stats stream's feed is.
	Stats FeedStatus `json:"stats"`
}

// FeedStatus describes the feed of the stats stream.
type FeedStatus struct {
	Ready     bool   `json:"ready"`
	Attached  bool   `json:"attached"`
	LastSeq   uint64 `json:"last_seq"`
	Delivered uint64 `json:"delivered"`
	LastError string `json:"last_error,omitempty"`
}

// DefaultStreamCheck is how often a consumer looks whether its stream was
// deleted and created anew.
const DefaultStreamCheck = 10 * time.Second

// NewConsumer returns a consumer of stream (events.StreamName) and of
// events.StatsStreamName into p that looks every checkEvery
// (DefaultStreamCheck when 0) whether a stream was deleted and created
// anew.
func NewConsumer(js jetstream.JetStream, stream string, p *Projection, checkEvery time.Duration) *Consumer {
	if checkEvery <= 0 {
		checkEvery = DefaultStreamCheck
	}
	opts := p.opts.withDefaults()
	c := &Consumer{p: p, ready: make(chan struct{}), statsRestart: make(chan struct{}, 1)}
	c.events = newFeed(js, stream, opts.HistoryLimit, sink{
		latest:  p.ApplyLatest,
		apply:   func(seq uint64, e events.Event) { p.Apply(seq, e) },
		skip:    func(seq uint64) { p.Skip(seq) },
		lastSeq: p.LastSeq,
		attach: func(created time.Time, startOver bool) {
			if p.Attach(created, startOver) {
				select {
				case c.statsRestart <- struct{}{}:
				default:
				}
			}
		},
	}, checkEvery)
	c.stats = newFeed(js, events.StatsStreamName, opts.StatsLimit, sink{
		latest:  p.ApplyLatestStats,
		apply:   func(seq uint64, e events.Event) { p.ApplyStats(seq, e) },
		skip:    func(seq uint64) { p.SkipStats(seq) },
		lastSeq: p.StatsLastSeq,
		attach: func(_ time.Time, startOver bool) {
			if startOver {
				p.ResetStats()
			}
		},
		reset: p.ResetStats,
	}, checkEvery)
	go func() {
		<-c.events.ready
		<-c.stats.ready
		close(c.ready)
	}()
	return c
}

// Ready is closed once the projection holds both streams as they were
// when the consumer started: the cards, and the history's window (at once
// for empty or missing streams).
func (c *Consumer) Ready() <-chan struct{} { return c.ready }

// Status reports where the consumer is.
func (c *Consumer) Status() ConsumerStatus {
	f := c.events
	f.mu.Lock()
	st := ConsumerStatus{
		Attached:  f.attached,
		LastSeq:   c.p.LastSeq(),
		TargetSeq: f.target,
		Sessions:  f.sessions,
		Delivered: f.delivered.Load(),
	}
	if f.lastErr != nil {
		st.LastError = f.lastErr.Error()
	}
	f.mu.Unlock()
	select {
	case <-c.ready:
		st.Ready = true
	default:
	}
	s := c.stats
	s.mu.Lock()
	st.Stats = FeedStatus{Ready: s.isReady(), Attached: s.attached, LastSeq: c.p.StatsLastSeq(), Delivered: s.delivered.Load()}
	if s.lastErr != nil {
		st.Stats.LastError = s.lastErr.Error()
	}
	s.mu.Unlock()
	return st
}

// Run consumes until ctx is done; errors are retried with a backoff and
// kept for Status. It returns nil when ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.stats.run(ctx, c.statsRestart) }()
	c.events.run(ctx, nil)
	wg.Wait()
	return nil
}
