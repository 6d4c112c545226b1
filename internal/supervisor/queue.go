package supervisor

import (
	"context"
	"fmt"
	"slices"

	"github.com/custodian-dev/custodian/internal/events"
)

// job is one piece of work queued for a table: a command and the tickets
// that follow it (the first one plus every identical command coalesced into
// it while it was queued).
type job struct {
	cmd     Command
	key     string // coalescing key; "" never coalesces
	attempt int    // 1, or 2 for the retry of a failed compaction
	det     *detection
	tickets []*Ticket
	// announced: command.accepted was emitted (operator commands), so a
	// shutdown before the work ran must emit an outcome.
	announced bool
	// last is the outcome of the previous attempt (for a retry abandoned at
	// shutdown, see retryAbandoned).
	last    events.Event
	lastErr error
}

// needsSlot reports whether the job waits for one of the MaxConcurrent
// slots; restores and salvages do not, so that healing is never stuck behind
// other tables' maintenance.
func (j *job) needsSlot() bool {
	return j.cmd.Verb != events.VerbRestore && j.cmd.Verb != events.VerbSalvage
}

// coalesceKey is what makes two queued commands identical: verb and body
// (the compaction mode resolved against the policy; wait is not part of it).
func coalesceKey(cmd Command, pol Policy) string {
	switch cmd.Verb {
	case events.VerbCompact:
		return fmt.Sprintf("compact force=%t mode=%s", cmd.Body.Force, compactMode(cmd, pol))
	case events.VerbRestore:
		return "restore backup=" + cmd.Body.BackupID + " at=" + cmd.Body.At
	default:
		return cmd.Verb
	}
}

// findQueuedLocked returns the queued (not running) job with key, or nil.
func findQueuedLocked(ts *tableState, key string) *job {
	if key == "" {
		return nil
	}
	for _, j := range ts.queue {
		if j.key == key {
			return j
		}
	}
	return nil
}

// work runs the jobs of one table, one at a time, until the supervisor stops.
func (s *Supervisor) work(ts *tableState) {
	defer s.workers.Done()
	for {
		j, release, ok := s.next(ts)
		if !ok {
			return
		}
		s.runJob(ts, j)
		release()
	}
}

// next waits for the head of ts's queue and, unless it is a restore, for a
// concurrency slot; it pops the job and marks it running. ok is false when
// the supervisor stops.
func (s *Supervisor) next(ts *tableState) (j *job, release func(), ok bool) {
	for {
		s.mu.Lock()
		if s.state != stateRunning {
			s.mu.Unlock()
			return nil, nil, false
		}
		if len(ts.queue) == 0 {
			s.mu.Unlock()
			select {
			case <-ts.wake:
				continue
			case <-s.stopping:
				return nil, nil, false
			}
		}
		slot := ts.queue[0].needsSlot()
		s.mu.Unlock()

		release = func() {}
		if slot {
			select {
			case s.sem <- struct{}{}:
				release = func() { <-s.sem }
			case <-ts.wake:
				continue // the queue changed: look at its head again
			case <-s.stopping:
				return nil, nil, false
			}
		}

		s.mu.Lock()
		if s.state != stateRunning || len(ts.queue) == 0 {
			s.mu.Unlock()
			release()
			continue
		}
		j = ts.queue[0]
		ts.queue = ts.queue[1:]
		ts.running = j
		ts.progress.Store(nil)
		if !j.needsSlot() {
			// A restore or salvage runs: corruption it meets belongs to it.
			ts.restorePending = true
		}
		s.mu.Unlock()
		return j, release, true
	}
}

// enqueueLocked appends j to ts's queue (front: ahead of everything queued).
func (s *Supervisor) enqueueLocked(ts *tableState, j *job, front bool) {
	if front {
		ts.queue = append([]*job{j}, ts.queue...)
	} else {
		ts.queue = append(ts.queue, j)
	}
	ts.poke()
}

// clearRunningLocked clears ts's running mark if j holds it; s.mu is held.
func clearRunningLocked(ts *tableState, j *job) {
	if ts.running == j {
		ts.running = nil
		ts.progress.Store(nil)
	}
}

// finishJob hands the outcome to every ticket of j and clears the running
// mark.
func (s *Supervisor) finishJob(ts *tableState, j *job, outcome events.Event, err error) {
	s.mu.Lock()
	clearRunningLocked(ts, j)
	if !j.needsSlot() {
		// Still pending if an incident's restore is queued.
		ts.restorePending = slices.ContainsFunc(ts.queue, func(q *job) bool { return q.det != nil })
	}
	if err != nil {
		ts.lastError = err.Error()
	}
	s.mu.Unlock()
	s.endTickets(j, outcome, err)
}

// drain ends every job still queued after the workers stopped: operator
// commands get a command.rejected outcome (data.code internal, reason
// "shutdown"; they were accepted, so their record must say they did not
// run, and a *.failed would page operators at every restart); scheduled
// work just ends. A compaction whose retry was queued ends with
// retryAbandoned.
func (s *Supervisor) drain(ctx context.Context) {
	s.mu.Lock()
	var left []*job
	for _, ts := range s.tables {
		left = append(left, ts.queue...)
		ts.queue = nil
	}
	s.mu.Unlock()
	for _, j := range left {
		var e events.Event
		var err error
		if j.last.Type != "" {
			e, err = s.retryAbandoned(ctx, j.last, j.lastErr)
		} else {
			err = stoppedErr(j.cmd)
			var eerr error
			e, eerr = s.notRun(ctx, j, err, "shutdown")
			err = joinErr(err, eerr)
		}
		s.endTickets(j, e, err)
	}
}
