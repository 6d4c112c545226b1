package supervisor

import (
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
	case events.VerbRestore:
		e, err = s.restore(ctx, ts, j)
	case events.VerbSalvage:
		e, err = s.salvage(ctx, ts, j)
	}
	s.finishJob(ts, j, e, err)
}

// retryLater queues j again (attempt 2) after the policy's retry delay. If
// the supervisor stops first, the tickets end with the first attempt's
// outcome; the table is left for its next schedule.
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
		s.finishJob(ts, j, last, lastErr)
	}()
}

// noteCorruption reports err to the detection path when it is corruption
// (tables reports it too; the incident dedupes).
func (s *Supervisor) noteCorruption(ts *tableState, op string, err error) {
	if err != nil && tables.IsCorruption(err) {
		s.reportCorruption(ts.name, op, err)
	}
}
