package notifier

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

// delivery carries one notifying event to every sink, records each outcome
// in the delivered set and in the stream, and acks the message only when
// every sink is done with it (2xx, or given up after notification.failed).
type delivery struct {
	n    *notifier
	ev   events.Event
	note Notification

	mu  sync.Mutex
	msg jetstream.Msg // the newest delivery of the message
}

// attach makes msg (a redelivery) the message to keep in progress and ack.
func (d *delivery) attach(msg jetstream.Msg) {
	d.mu.Lock()
	d.msg = msg
	d.mu.Unlock()
}

func (d *delivery) current() jetstream.Msg {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.msg
}

func (d *delivery) run(ctx context.Context) {
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	go d.keepInProgress(kctx)

	results := make(chan sinkResult, len(d.n.sinks))
	waiting := 0
	for _, s := range d.n.sinks {
		var state string
		if !d.n.retry(ctx, "check delivered set", func(ctx context.Context) error {
			var err error
			state, err = d.n.ledger.state(ctx, s.Key(), d.ev.ID)
			return err
		}) {
			return
		}
		if state != "" {
			continue // this sink is done with the event: never again
		}
		j := &job{note: d.note, result: results}
		if err := d.n.workers[s.Key()].submit(ctx, j); err != nil {
			return
		}
		waiting++
	}
	for ; waiting > 0; waiting-- {
		var r sinkResult
		select {
		case <-ctx.Done():
			return
		case r = <-results:
		}
		if !d.record(ctx, r) {
			return
		}
	}
	d.ack(ctx)
}

// record stores one sink's outcome: the delivered set first (so that no
// later attempt sends it again), then the notification.* event.
func (d *delivery) record(ctx context.Context, r sinkResult) bool {
	state := stateSent
	typ := events.NotificationSent
	if !r.ok {
		state = stateFailed
		typ = events.NotificationFailed
	}
	out := events.New(typ, d.n.cfg.Name, d.ev.Table)
	out.Attempt = r.attempts
	out.Data = map[string]any{
		"sink":     r.sink.Name(),
		"event_id": d.ev.ID,
		"severity": d.note.Severity,
		"type":     d.ev.Type,
		"instance": d.n.instance,
	}
	if r.digestID != "" {
		out.Data["digest_id"] = r.digestID
	}
	if r.ok {
		out.Result = events.ResultOK
		d.n.cfg.Log.Info("notifier: delivered", "sink", r.sink.Name(), "event", d.ev.ID, "type", d.ev.Type, "digest", r.digestID)
	} else {
		out.Result = events.ResultFailed
		out.Error = fmt.Sprint(r.err)
		out.Data["error"] = out.Error
	}
	if r.ok {
		if !d.n.retry(ctx, "mark delivered", func(ctx context.Context) error {
			return d.n.ledger.mark(ctx, r.sink.Key(), d.ev.ID, state)
		}) {
			return false
		}
		return d.n.retry(ctx, "publish "+typ, func(ctx context.Context) error { return d.n.publish(ctx, out) })
	}
	// A give-up is marked only once notification.failed is in the stream.
	if !d.n.retry(ctx, "publish "+typ, func(ctx context.Context) error { return d.n.publish(ctx, out) }) {
		return false
	}
	return d.n.retry(ctx, "mark given up", func(ctx context.Context) error {
		return d.n.ledger.mark(ctx, r.sink.Key(), d.ev.ID, state)
	})
}

// keepInProgress stops the server from redelivering the message while its
// deliveries are retried.
func (d *delivery) keepInProgress(ctx context.Context) {
	every := d.n.cfg.AckWait / 3
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// An error (NATS down) is not fatal: the message is redelivered
			// after AckWait, attached to this delivery or, after a restart,
			// found done in the delivered set.
			_ = d.current().InProgress()
		}
	}
}

// ack acknowledges the message. If the ack is lost, the redelivery finds
// every sink done in the delivered set and is acked then.
func (d *delivery) ack(ctx context.Context) {
	for attempt := 1; attempt <= 5; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := d.current().DoubleAck(actx)
		cancel()
		if err == nil {
			return
		}
		d.n.cfg.Log.Info("notifier: ack failed, retrying", "event", d.ev.ID, "err", err)
		if !sleep(ctx, backoff(d.n.cfg.BackoffBase, 5*time.Second, attempt)) {
			return
		}
	}
}
