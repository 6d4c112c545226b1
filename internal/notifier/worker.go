package notifier

import (
	"context"
	"errors"
	"time"
)

// job is one event waiting for delivery to one sink.
type job struct {
	note     Notification
	deadline time.Time // give up after a failed attempt at or after this
	nextAt   time.Time // next attempt
	attempts int
	lastErr  error
	result   chan<- sinkResult // buffered by the delivery for every sink
}

// sinkResult tells a delivery how its event fared at one sink.
type sinkResult struct {
	sink     Sink
	ok       bool   // answered 2xx
	digestID string // set when the event went out in a digest
	attempts int
	err      error // the last error, when given up
	skipped  bool  // the pair was already done: nothing sent, nothing to record
}

// worker owns one sink: it groups, rate-limits and retries deliveries. It
// sends one request at a time.
//
// Bursts: a new job waits GroupWait for others (one group per sink). When
// the due jobs plus the events already sent within BurstWindow are more than
// Burst, the due jobs go out as one digest; after a digest, new jobs are
// held until BurstWindow has passed since it and then go out together. A
// digest counts as delivered for each of its events only on its 2xx, so the
// per-event guarantees hold: each event is marked delivered after the 2xx of
// the request that carried it, and retried (in a later request) otherwise.
type worker struct {
	sink       Sink
	cfg        Config
	inbox      chan *job
	pending    []*job
	sent       []time.Time // one entry per event delivered within BurstWindow
	lastDigest time.Time
	groupAt    time.Time // when the open group of new jobs is due
}

func newWorker(s Sink, cfg Config) *worker {
	return &worker{sink: s, cfg: cfg, inbox: make(chan *job, cfg.MaxPending)}
}

// submit hands a job to the worker.
func (w *worker) submit(ctx context.Context, j *job) error {
	select {
	case w.inbox <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *worker) run(ctx context.Context) {
	for {
		var wake <-chan time.Time
		var timer *time.Timer
		if next, ok := w.nextWake(); ok {
			timer = time.NewTimer(time.Until(next))
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case j := <-w.inbox:
			w.add(j, time.Now())
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
		w.dispatch(ctx, time.Now())
	}
}

func (w *worker) add(j *job, now time.Time) {
	if w.groupAt.IsZero() || !now.Before(w.groupAt) {
		w.groupAt = now.Add(w.cfg.GroupWait)
	}
	j.nextAt = w.groupAt
	j.deadline = now.Add(w.cfg.GiveUp)
	w.pending = append(w.pending, j)
}

func (w *worker) nextWake() (time.Time, bool) {
	var next time.Time
	for _, j := range w.pending {
		if next.IsZero() || j.nextAt.Before(next) {
			next = j.nextAt
		}
	}
	return next, !next.IsZero()
}

// dispatch sends every due job, one by one or as a digest.
func (w *worker) dispatch(ctx context.Context, now time.Time) {
	var due, rest []*job
	for _, j := range w.pending {
		if !j.nextAt.After(now) {
			due = append(due, j)
		} else {
			rest = append(rest, j)
		}
	}
	if len(due) == 0 {
		return
	}
	w.prune(now)
	if resume := w.lastDigest.Add(w.cfg.BurstWindow); !w.lastDigest.IsZero() && now.Before(resume) {
		// In a burst: hold for the next digest.
		for _, j := range due {
			j.nextAt = resume
		}
		return
	}
	w.pending = rest
	if len(w.sent)+len(due) > w.cfg.Burst {
		w.sendDigest(ctx, due)
		return
	}
	for i, j := range due {
		if ctx.Err() != nil {
			w.pending = append(w.pending, due[i:]...)
			return
		}
		w.sendOne(ctx, j)
	}
}

func (w *worker) prune(now time.Time) {
	cut := now.Add(-w.cfg.BurstWindow)
	i := 0
	for i < len(w.sent) && !w.sent[i].After(cut) {
		i++
	}
	w.sent = w.sent[i:]
}

func (w *worker) sendOne(ctx context.Context, j *job) {
	err := w.sink.Send(ctx, j.note)
	now := time.Now()
	if err == nil {
		j.attempts++
		w.sent = append(w.sent, now)
		j.result <- sinkResult{sink: w.sink, ok: true, attempts: j.attempts}
		return
	}
	w.failed(ctx, j, err, now)
}

func (w *worker) sendDigest(ctx context.Context, due []*job) {
	notes := make([]Notification, len(due))
	for i, j := range due {
		notes[i] = j.note
	}
	d := renderDigest(w.cfg.Prefix, notes, w.cfg.BurstWindow)
	w.cfg.Log.Info("notifier: sending digest", "sink", w.sink.Name(), "digest", d.ID, "events", len(due))
	err := w.sink.Send(ctx, d)
	now := time.Now()
	if err == nil {
		w.lastDigest = now
		for _, j := range due {
			j.attempts++
			w.sent = append(w.sent, now)
			j.result <- sinkResult{sink: w.sink, ok: true, digestID: d.ID, attempts: j.attempts}
		}
		return
	}
	for _, j := range due {
		w.failed(ctx, j, err, now)
	}
}

// failed schedules the next attempt of j, or gives up after its deadline.
func (w *worker) failed(ctx context.Context, j *job, err error, now time.Time) {
	if ctx.Err() != nil {
		// Shutting down: the attempt was cut short, not refused.
		w.pending = append(w.pending, j)
		return
	}
	j.attempts++
	j.lastErr = err
	if !now.Before(j.deadline) {
		w.failedFinal(j, err)
		return
	}
	delay := backoff(w.cfg.BackoffBase, w.cfg.BackoffMax, j.attempts)
	var se *SendError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		delay = se.RetryAfter
	}
	next := now.Add(delay)
	if next.After(j.deadline) {
		if se != nil && se.RetryAfter > 0 {
			// The sink asks us to wait past the give-up time: give up now
			// rather than call it early.
			j.deadline = now
			w.failedFinal(j, err)
			return
		}
		next = j.deadline
	}
	j.nextAt = next
	w.cfg.Log.Info("notifier: delivery failed, will retry", "sink", w.sink.Name(), "event", j.note.ID, "attempt", j.attempts, "retry_in", delay, "err", err)
	w.pending = append(w.pending, j)
}

func (w *worker) failedFinal(j *job, err error) {
	w.cfg.Log.Warn("notifier: giving up", "sink", w.sink.Name(), "event", j.note.ID, "attempts", j.attempts, "err", err)
	j.result <- sinkResult{sink: w.sink, attempts: j.attempts, err: err}
}
