package supervisor

import (
	"context"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// needsServing reports whether verb is routine maintenance that only runs on
// a table that serves (compact, backup, verify); restore and salvage are how
// a table that does not serve gets back.
func needsServing(verb string) bool {
	switch verb {
	case events.VerbCompact, events.VerbBackup, events.VerbVerify, events.VerbDrill:
		return true
	}
	return false
}

// refuseQueued ends every queued compact, backup and verify of ts, which
// does not serve (reason: "degraded", ...): they cannot run, and ending them
// with a *.failed would page operators once per queued command for what
// table.degraded already says. Each ends with command.rejected (data.code
// table_unavailable, data.reason) instead; restores and salvages stay
// queued. The returned error is the emit failures.
func (s *Supervisor) refuseQueued(ts *tableState, reason string) error {
	s.mu.Lock()
	var refused, kept []*job
	for _, j := range ts.queue {
		if needsServing(j.cmd.Verb) {
			refused = append(refused, j)
		} else {
			kept = append(kept, j)
		}
	}
	ts.queue = kept
	s.mu.Unlock()

	var errs []error
	for _, j := range refused {
		e, err, eerr := s.refusal(j, reason)
		errs = append(errs, eerr)
		s.endTickets(j, e, joinErr(err, eerr))
	}
	return joinErr(errs...)
}

// refusal is the outcome of job j that cannot run because its table does
// not serve (see notRun): code table_unavailable, reason "table <reason>".
func (s *Supervisor) refusal(j *job, reason string) (e events.Event, err, emitErr error) {
	err = apierr.New(apierr.TableUnavailable, "table %s: %s: not run: the table is %s", j.cmd.Table, j.cmd.Verb, reason)
	e, emitErr = s.notRun(s.recordCtx, j, err, "table "+reason)
	return e, err, emitErr
}

// notRun is the outcome of job j, which was queued and will not run: a
// command.rejected with data.code (err's code), data.reason, data.queued,
// emitted with ctx when the command was announced (command.accepted); the
// returned error is the emit failure. Scheduled work was never announced:
// its outcome is not emitted. Not a *.failed: nothing failed, and the
// notifier pages on every final *.failed.
func (s *Supervisor) notRun(ctx context.Context, j *job, err error, reason string) (e events.Event, emitErr error) {
	e = s.jobEvent(events.CommandRejected, j)
	e.Result = events.ResultFailed
	e.Error = apierr.MessageOf(err)
	e.Data = commandData(j.cmd)
	e.Data["code"] = string(apierr.CodeOf(err))
	e.Data["reason"] = reason
	e.Data["queued"] = true
	if j.announced {
		emitErr = s.emit(ctx, e)
	}
	return e, emitErr
}

// endTickets hands an outcome to every ticket of j, which is neither queued
// nor running any more (no ticket can join it).
func (s *Supervisor) endTickets(j *job, e events.Event, err error) {
	s.mu.Lock()
	tickets := j.tickets
	j.tickets = nil
	s.mu.Unlock()
	for _, t := range tickets {
		t.finish(e, err)
	}
}
