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
	var flows sync.WaitGroup
	acked := false
	results := make(chan sinkResult, len(d.n.sinks))
	var unrecorded []sinkResult
	defer func() {
		stop()
		flows.Wait()
		d.recordLeftovers(unrecorded, results)
		if !acked {
			// Stopping (graceful shutdown): hand the message back at once so
			// a replica need not wait for AckWait; the claims are released.
			_ = d.current().Nak()
		}
	}()
	go d.keepInProgress(kctx)

	for _, s := range d.n.sinks {
		flows.Add(1)
		go func() {
			defer flows.Done()
			d.sinkFlow(kctx, s, results)
		}()
	}
	for range d.n.sinks {
		var r sinkResult
		select {
		case <-ctx.Done():
			return
		case r = <-results:
		}
		if r.skipped {
			continue // done before: by an earlier run, a replica or another name
		}
		if !d.record(ctx, r) {
			unrecorded = append(unrecorded, r)
			return
		}
	}
	acked = d.ack(ctx)
}

// recordLeftovers records, when stopping, the 2xx answers that came in but
// were not recorded yet, so that no replica sends them again. Best effort,
// bounded by two seconds: if NATS is away, they are sent again after the
// claims lapse (at least once).
func (d *delivery) recordLeftovers(unrecorded []sinkResult, results <-chan sinkResult) {
	for more := true; more; {
		select {
		case r := <-results:
			unrecorded = append(unrecorded, r)
		default:
			more = false
		}
	}
	if len(unrecorded) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, r := range unrecorded {
		if r.ok {
			d.record(ctx, r)
		}
	}
}

// sinkFlow takes the event to one sink: it claims the (sink, event) pair
// in the delivered set, so that no other notifier sends it meanwhile, hands
// it to the sink's worker, and keeps the claim fresh until the worker
// answers. A pair already sent or given up is skipped; a pair claimed by
// a live notifier is waited for.
func (d *delivery) sinkFlow(ctx context.Context, s Sink, out chan<- sinkResult) {
	lease := d.n.cfg.claimLease()
	var rev uint64
	for {
		var st claimState
		var wait time.Duration
		if !d.n.retry(ctx, "claim in delivered set", func(ctx context.Context) error {
			var err error
			st, rev, wait, err = d.n.ledger.acquire(ctx, s.Key(), d.ev.ID, d.n.instance, lease)
			return err
		}) {
			return
		}
		if st == claimDone {
			out <- sinkResult{sink: s, skipped: true}
			return
		}
		if st == claimOwned {
			break
		}
		// Another notifier is on it: look again when its claim would lapse,
		// or sooner to see it done.
		if !sleep(ctx, min(max(wait, d.n.cfg.BackoffBase), 4*d.n.cfg.BackoffBase)) {
			return
		}
	}

	res := make(chan sinkResult, 1)
	if err := d.n.workers[s.Key()].submit(ctx, &job{note: d.note, result: res}); err != nil {
		return
	}
	refresh := time.NewTicker(lease / 3)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			d.release(s, rev, res)
			return
		case r := <-res:
			out <- r
			return
		case <-refresh.C:
			rctx, cancel := context.WithTimeout(ctx, lease/3)
			next, err := d.n.ledger.refresh(rctx, s.Key(), d.ev.ID, d.n.instance, rev)
			cancel()
			if err != nil {
				// NATS down, or the claim lapsed and another notifier took
				// it: keep going; the 2xx is recorded whatever happens.
				d.n.cfg.Log.Info("notifier: refresh claim", "sink", s.Name(), "event", d.ev.ID, "err", err)
				continue
			}
			rev = next
		}
	}
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
	out := events.New(typ, d.n.cfg.Name, subjectTable(d.ev.Table))
	out.Trigger = events.TriggerAuto // the notifier reacts to an event on its own
	out.Attempt = r.attempts
	out.Data = map[string]any{
		"sink":     r.sink.Name(),
		"event_id": d.ev.ID,
		"severity": d.note.Severity,
		"type":     d.ev.Type,
		"instance": d.n.instance,
	}
	if out.Table != d.ev.Table && d.ev.Table != "" {
		out.Data["table"] = d.ev.Table
	}
	if r.digestID != "" {
		out.Data["digest_id"] = r.digestID
	}
	mark := func(ctx context.Context) error { return d.n.ledger.mark(ctx, r.sink.Key(), d.ev.ID, state) }
	publish := func(ctx context.Context) error { return d.n.publish(ctx, out) }
	if r.ok {
		out.Result = events.ResultOK
		d.n.cfg.Log.Info("notifier: delivered", "sink", r.sink.Name(), "event", d.ev.ID, "type", d.ev.Type, "digest", r.digestID)
		return d.n.retry(ctx, "mark delivered", mark) && d.n.retry(ctx, "publish "+typ, publish)
	}
	out.Result = events.ResultFailed
	out.Error = fmt.Sprint(r.err)
	out.Data["error"] = out.Error
	// A give-up is marked only once notification.failed is in the stream.
	return d.n.retry(ctx, "publish "+typ, publish) && d.n.retry(ctx, "mark given up", mark)
}

// release gives up this notifier's claim when it stops before the sink's
// outcome was recorded, so that a replica can take the event at once. A
// 2xx that came in meanwhile is recorded instead. Best effort, bounded by
// two seconds: if NATS is away, the claim lapses after its lease.
func (d *delivery) release(s Sink, rev uint64, res <-chan sinkResult) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	select {
	case r := <-res:
		if r.ok {
			d.record(ctx, r)
			return
		}
	default:
	}
	if err := d.n.ledger.release(ctx, s.Key(), d.ev.ID, rev); err != nil {
		d.n.cfg.Log.Info("notifier: release claim", "sink", s.Name(), "event", d.ev.ID, "err", err)
	}
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
func (d *delivery) ack(ctx context.Context) bool {
	for attempt := 1; attempt <= 5; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := d.current().DoubleAck(actx)
		cancel()
		if err == nil {
			return true
		}
		d.n.cfg.Log.Info("notifier: ack failed, retrying", "event", d.ev.ID, "err", err)
		if !sleep(ctx, backoff(d.n.cfg.BackoffBase, 5*time.Second, attempt)) {
			return false
		}
	}
	// Every sink is recorded as done: the redelivery is acked at once.
	return true
}

// subjectTable is the table token of a notification.* event: the event's
// table, or "_" when it is node-level or not a valid table name (an event
// from a foreign publisher must not break the subject).
func subjectTable(table string) string {
	if events.ValidTable(table) {
		return table
	}
	return events.NodeTable
}
