package notifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// notifier is one running notifier process (or in-process instance).
type notifier struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	ledger  *ledger
	sinks   []Sink
	workers map[string]*worker

	wg       sync.WaitGroup
	mu       sync.Mutex
	inflight map[string]*delivery // by event id
	instance string               // this process: host:pid, in notification.* data
	closing  bool                 // Run is returning: start no delivery
}

// Run reads the notifying events of the stream through the durable consumer
// cfg.Name and delivers them to the configured sinks until ctx is done. It
// waits for the stream to exist and rides out NATS outages. It returns an
// error only for a bad configuration or a closed connection; on ctx's end
// it returns nil.
func Run(ctx context.Context, nc *nats.Conn, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("notifier: jetstream: %w", err)
	}
	client := &http.Client{Timeout: cfg.HTTPTimeout}
	n := &notifier{cfg: cfg, nc: nc, js: js, instance: instanceID(), workers: map[string]*worker{}, inflight: map[string]*delivery{}}
	for _, u := range cfg.Webhooks {
		n.addSink(NewWebhook(u, cfg.WebhookSecret, client))
	}
	for _, u := range cfg.Ntfys {
		n.addSink(NewNtfy(u, cfg.NtfyToken, client))
	}

	var stream jetstream.Stream
	if !n.retry(ctx, "find stream "+events.StreamName, func(ctx context.Context) error {
		var err error
		stream, err = js.Stream(ctx, events.StreamName)
		return err
	}) {
		return n.exit(ctx, nc)
	}
	if !n.retry(ctx, "open delivered set", func(ctx context.Context) error {
		var err error
		n.ledger, err = openLedger(ctx, js, cfg.Prefix, cfg.DeliveredTTL, stream.CachedInfo().Config.Replicas)
		return err
	}) {
		return n.exit(ctx, nc)
	}

	// Everything Run starts stops with rctx, and Run returns only after it
	// has stopped, whatever ends Run.
	rctx, stopAll := context.WithCancel(ctx)
	defer func() {
		n.mu.Lock()
		n.closing = true
		n.mu.Unlock()
		stopAll()
		n.wg.Wait()
	}()
	for _, w := range n.workers {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			w.run(rctx)
		}()
	}

	cfg.Log.Info("notifier: running", "name", cfg.Name, "sinks", len(n.sinks), "prefix", cfg.Prefix)
	for {
		var cons jetstream.Consumer
		if !n.retry(ctx, "open consumer "+cfg.Name, func(ctx context.Context) error {
			var err error
			cons, err = n.consumer(ctx, stream)
			return err
		}) {
			return n.exit(ctx, nc)
		}
		cc, err := cons.Consume(func(msg jetstream.Msg) { n.handle(rctx, msg) }, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			cfg.Log.Info("notifier: consumer", "name", cfg.Name, "err", err)
		}))
		if err != nil {
			cfg.Log.Warn("notifier: consume", "name", cfg.Name, "err", err)
			if !sleep(ctx, time.Second) {
				return n.exit(ctx, nc)
			}
			continue
		}
		select {
		case <-ctx.Done():
			cc.Stop()
			return n.exit(ctx, nc)
		case <-cc.Closed():
			// The consumer went away (deleted, or the connection closed):
			// open it again.
			if nc.IsClosed() {
				return errors.New("notifier: NATS connection closed")
			}
			if !sleep(ctx, time.Second) {
				return n.exit(ctx, nc)
			}
		}
	}
}

func (n *notifier) exit(ctx context.Context, nc *nats.Conn) error {
	if ctx.Err() != nil {
		return nil
	}
	if nc.IsClosed() {
		return errors.New("notifier: NATS connection closed")
	}
	return nil
}

func (n *notifier) addSink(s Sink) {
	if _, dup := n.workers[s.Key()]; dup {
		return // the same URL twice is one sink
	}
	n.sinks = append(n.sinks, s)
	n.workers[s.Key()] = newWorker(s, n.cfg)
}

// consumer opens the durable consumer, creating it on first use. A new
// consumer starts GiveUp before now: events older than that would be given
// up at once anyway, and a fresh notifier does not page for old history.
func (n *notifier) consumer(ctx context.Context, stream jetstream.Stream) (jetstream.Consumer, error) {
	filters := make([]string, 0, len(notifyingTypes()))
	for _, t := range notifyingTypes() {
		filters = append(filters, events.TypeFilter(n.cfg.Prefix, t))
	}
	c, err := stream.Consumer(ctx, n.cfg.Name)
	if err == nil {
		return n.refilter(ctx, stream, c, filters)
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("notifier: consumer %s: %w", n.cfg.Name, err)
	}
	start := time.Now().Add(-n.cfg.GiveUp)
	c, err = stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:        n.cfg.Name,
		Description:    "custodian notifier: notifying events",
		FilterSubjects: filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        n.cfg.AckWait,
		MaxAckPending:  n.cfg.MaxPending,
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return stream.Consumer(ctx, n.cfg.Name) // another replica won the race
	}
	if err != nil {
		return nil, fmt.Errorf("notifier: create consumer %s: %w", n.cfg.Name, err)
	}
	return c, nil
}

// refilter gives a consumer created by an older notifier the filters of
// this one (a type that notifies now, drill.failed, would never reach it
// otherwise); the consumer keeps its position.
func (n *notifier) refilter(ctx context.Context, stream jetstream.Stream, c jetstream.Consumer, filters []string) (jetstream.Consumer, error) {
	cfg := c.CachedInfo().Config
	have := slices.Clone(cfg.FilterSubjects)
	if cfg.FilterSubject != "" {
		have = append(have, cfg.FilterSubject)
	}
	missing := false
	for _, f := range filters {
		missing = missing || !slices.Contains(have, f)
	}
	if !missing {
		return c, nil
	}
	cfg.FilterSubject = ""
	cfg.FilterSubjects = filters
	u, err := stream.UpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("notifier: consumer %s: update its filters: %w", n.cfg.Name, err)
	}
	n.cfg.Log.Info("notifier: consumer filters updated", "consumer", n.cfg.Name, "filters", filters)
	return u, nil
}

// handle takes one message from the consumer. It never blocks.
func (n *notifier) handle(ctx context.Context, msg jetstream.Msg) {
	ev, err := events.Unmarshal(msg.Data())
	if err != nil {
		n.cfg.Log.Warn("notifier: dropping a message that is not an event", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("not an event")
		return
	}
	severity, ok := Notifies(ev)
	if !ok {
		_ = msg.Ack()
		return
	}
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return // not acked: redelivered to whoever runs next
	}
	if d := n.inflight[ev.ID]; d != nil {
		d.attach(msg)
		n.mu.Unlock()
		return
	}
	d := &delivery{n: n, ev: ev, note: render(n.cfg.Prefix, ev, severity), msg: msg}
	n.inflight[ev.ID] = d
	n.wg.Add(1)
	n.mu.Unlock()

	go func() {
		defer n.wg.Done()
		defer n.forget(ev.ID)
		d.run(ctx)
	}()
}

func (n *notifier) forget(id string) {
	n.mu.Lock()
	delete(n.inflight, id)
	n.mu.Unlock()
}

// publish puts a notification.* event in the stream, with its id as
// Nats-Msg-Id so that a retried publish is stored once.
func (n *notifier) publish(ctx context.Context, e events.Event) error {
	b, err := e.Marshal()
	if err != nil {
		return err
	}
	if _, err := n.js.Publish(ctx, events.Subject(n.cfg.Prefix, e), b, jetstream.WithMsgID(e.ID)); err != nil {
		return fmt.Errorf("notifier: publish %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// retry runs f (each try bounded by 10 s) until it succeeds or ctx is done,
// waiting BackoffBase doubling to 10 s between tries, or until the
// connection is closed for good. It reports success.
func (n *notifier) retry(ctx context.Context, what string, f func(context.Context) error) bool {
	for attempt := 1; ; attempt++ {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f(fctx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil || n.nc.IsClosed() {
			return false
		}
		if attempt == 1 || attempt%10 == 0 {
			n.cfg.Log.Warn("notifier: "+what+" failed, retrying", "attempt", attempt, "err", err)
		}
		if !sleep(ctx, backoff(n.cfg.BackoffBase, 10*time.Second, attempt)) {
			return false
		}
	}
}

// instanceID names this process among the replicas: host:pid plus a short
// random suffix (two Run calls in one process are two instances).
func instanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), events.NewID()[28:])
}
