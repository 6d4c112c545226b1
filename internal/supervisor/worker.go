package supervisor

import (
	"context"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// runJob does one job of ts and hands its outcome to the tickets. A failed
// first compaction attempt is not finished: it is queued again after the
// policy's retry delay.
func (s *Supervisor) runJob(ts *tableState, j *job) {
	ctx := s.workCtx
	var (
		e   events.Event
		err error
	)
	if needsServing(j.cmd.Verb) {
		if ok, reason := ts.t.Available(); !ok {
			// Degraded, or a restore began as the job was taken: the
			// work cannot run; it is refused, not failed (see refusal).
			e, err, eerr := s.refusal(j, reason)
			s.mu.Lock()
			clearRunningLocked(ts, j)
			s.mu.Unlock()
			s.endTickets(j, e, joinErr(err, eerr))
			return
		}
	}
	pos, posErr := ts.t.Position() // the marks (see markDone)
	switch j.cmd.Verb {
	case events.VerbCompact:
		var retry bool
		e, retry, err = s.compact(ctx, ts, j)
		if retry {
			s.retryLater(ts, j, e, err)
			return
		}
	case events.VerbBackup:
		e, err = s.backup(ctx, ts, j)
	case events.VerbVerify:
		e, err = s.verify(ctx, ts, j)
	case events.VerbDrill:
		e, err = s.drill(ctx, ts, j)
	case events.VerbRestore:
		e, err = s.restore(ctx, ts, j)
	case events.VerbSalvage:
		e, err = s.salvage(ctx, ts, j)
	}
	if posErr == nil {
		markDone(ts, j.cmd.Verb, e, err, pos)
	}
	s.finishJob(ts, j, e, err)
}

// markDone marks maintenance that succeeded (a compaction also when it was
// skipped below the threshold) at pos, the table's position when the job
// started, so that a schedule leaves the table asleep while it does not
// change (tables.Table.Unchanged).
func markDone(ts *tableState, verb string, e events.Event, err error, pos uint64) {
	switch verb {
	case events.VerbCompact, events.VerbBackup, events.VerbVerify:
	default:
		return
	}
	if err != nil || (e.Result != events.ResultOK && e.Result != events.ResultSkipped) {
		return
	}
	ts.t.Mark(verb, pos)
}

// retryLater queues j again (attempt 2) after the policy's retry delay. If
// the supervisor stops first, the command ends with retryAbandoned; the
// table is left for its next schedule.
func (s *Supervisor) retryLater(ts *tableState, j *job, last events.Event, lastErr error) {
	s.mu.Lock()
	clearRunningLocked(ts, j)
	if lastErr != nil {
		ts.lastError = lastErr.Error()
	}
	j.last, j.lastErr = last, lastErr
	s.mu.Unlock()

	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		timer := time.NewTimer(ts.pol.RetryDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
			s.mu.Lock()
			if s.state == stateRunning {
				j.attempt = 2
				s.enqueueLocked(ts, j, false)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		case <-s.stopping:
		}
		e, err := s.retryAbandoned(s.recordCtx, last, lastErr)
		s.finishJob(ts, j, e, err)
	}()
}

// retryAbandoned records that the retry of a failed compaction will not run
// because the supervisor stops: the first failure again (new id and time),
// now final, with retry "abandoned: shutdown" instead of retry_in_ms. The
// audit log so ends the command, and the notifier pages for the failure as
// for any final one (a failure during shutdown is final the same way).
func (s *Supervisor) retryAbandoned(ctx context.Context, first events.Event, firstErr error) (events.Event, error) {
	e := first
	fresh := events.New(first.Type, first.Node, first.Table)
	e.ID, e.Time = fresh.ID, fresh.Time
	e.Data = with(first.Data, map[string]any{"final": true, "retry": "abandoned: shutdown"})
	delete(e.Data, "retry_in_ms")
	return e, joinErr(firstErr, s.emit(ctx, e))
}

// noteCorruption reports err to the detection path when it is corruption
// (tables reports it too; the incident dedupes).
func (s *Supervisor) noteCorruption(ts *tableState, op string, err error) {
	if err != nil && tables.IsCorruption(err) {
		s.reportCorruption(ts.name, op, err)
	}
}
