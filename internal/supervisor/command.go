package supervisor

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Command is one maintenance command for a table.
type Command struct {
	ID      string // UUID; Submit fills it when empty
	Table   string
	Verb    string // events.Verb*
	Body    events.CommandBody
	Trigger string // events.Trigger*; Submit uses manual when empty
}

// Submit validates cmd, emits command.accepted (or command.rejected and
// returns an *apierr.Error) and queues the work. A full queue answers
// apierr.Busy; an identical queued command coalesces (its ticket follows the
// queued one's outcome). Errors: apierr.InvalidRequest (unknown verb or
// trigger, bad mode, an id that is not a UUID), apierr.InvalidTable, apierr.NotFound (table not owned,
// unknown backup_id, a salvage of a table without a quarantined copy and
// without an automatic restore pending),
// apierr.TableUnavailable (compact, backup or verify while
// the table restores or is degraded; restore and salvage are accepted),
// apierr.InvalidRequest also for a salvage of a table that serves, unless
// body.force (salvage replaces the data with the newest quarantined copy's),
// apierr.Busy, apierr.Internal (stopping, or command.accepted could not be
// emitted: then nothing is queued). The status verb is answered at once:
// its ticket is done on return and carries the TableStatus.
func (s *Supervisor) Submit(ctx context.Context, cmd Command) (*Ticket, error) {
	return s.submit(ctx, cmd, true)
}

// submit is Submit; announce false (scheduled work) emits neither
// command.accepted nor command.rejected.
func (s *Supervisor) submit(ctx context.Context, cmd Command, announce bool) (*Ticket, error) {
	badID := ""
	if _, err := uuid.Parse(cmd.ID); cmd.ID != "" && err != nil {
		badID, cmd.ID = cmd.ID, "" // the rejection gets an id of its own
	}
	if cmd.ID == "" {
		cmd.ID = events.NewID()
	}
	if cmd.Trigger == "" {
		cmd.Trigger = events.TriggerManual
	}
	refuse := func(err error) (*Ticket, error) {
		if announce {
			if rerr := s.Reject(ctx, cmd, err); rerr != nil {
				return nil, joinErr(err, rerr)
			}
		}
		return nil, err
	}

	if badID != "" {
		return refuse(apierr.New(apierr.InvalidRequest, "command id %q is not a UUID", clip(badID)))
	}
	ts, err := s.check(ctx, cmd)
	if err != nil {
		return refuse(err)
	}

	if cmd.Verb == events.VerbStatus {
		st := s.status(ctx, ts)
		if announce {
			if err := s.emit(ctx, s.acceptedEvent(cmd)); err != nil {
				return nil, apierr.Wrap(apierr.Internal, err, "table %s: status: not accepted", cmd.Table)
			}
		}
		t := newTicket(cmd.ID)
		t.status = &st
		t.finish(events.Event{}, nil)
		return t, nil
	}

	select {
	case ts.submit <- struct{}{}:
	case <-ctx.Done():
		return nil, apierr.Wrap(apierr.Internal, ctx.Err(), "table %s: %s", cmd.Table, cmd.Verb)
	}
	defer func() { <-ts.submit }()

	s.mu.Lock()
	stopping := s.state >= stateStopping
	key := coalesceKey(cmd, ts.pol)
	target := findQueuedLocked(ts, key)
	full := target == nil && len(ts.queue) >= s.cfg.QueueSize
	s.mu.Unlock()
	switch {
	case stopping:
		return refuse(apierr.Wrap(apierr.Internal, errStopping, "table %s: %s", cmd.Table, cmd.Verb))
	case full:
		return refuse(apierr.New(apierr.Busy, "table %s: %s: queue full (%d commands)", cmd.Table, cmd.Verb, s.cfg.QueueSize))
	}

	if announce {
		if err := s.emit(ctx, s.acceptedEvent(cmd)); err != nil {
			return nil, apierr.Wrap(apierr.Internal, err, "table %s: %s: not accepted", cmd.Table, cmd.Verb)
		}
	}

	t := newTicket(cmd.ID)
	s.mu.Lock()
	if s.state >= stateStopping {
		s.mu.Unlock()
		// Accepted a moment before the end: record that it did not run.
		j := &job{cmd: cmd, attempt: 1, tickets: []*Ticket{t}, announced: announce}
		werr := stoppedErr(cmd)
		e, eerr := s.notRun(ctx, j, werr, "shutdown")
		t.finish(e, joinErr(werr, eerr))
		return t, nil
	}
	if q := findQueuedLocked(ts, key); q != nil && q == target {
		t.coalesced = q.cmd.ID
		q.tickets = append(q.tickets, t)
		// Joining scheduled work makes it an accepted command: if it does
		// not run (shutdown, table degraded), its outcome is emitted.
		q.announced = q.announced || announce
	} else {
		s.enqueueLocked(ts, &job{cmd: cmd, key: key, attempt: 1, tickets: []*Ticket{t}, announced: announce}, false)
	}
	s.mu.Unlock()
	return t, nil
}

// check validates cmd and finds its table.
func (s *Supervisor) check(ctx context.Context, cmd Command) (*tableState, error) {
	if !slices.Contains(events.TableVerbs(), cmd.Verb) {
		return nil, apierr.New(apierr.InvalidRequest, "unknown verb %q: want one of %v", clip(cmd.Verb), events.TableVerbs())
	}
	switch cmd.Trigger {
	case events.TriggerManual, events.TriggerSchedule, events.TriggerAuto, events.TriggerStartup:
	default:
		return nil, apierr.New(apierr.InvalidRequest, "unknown trigger %q", clip(cmd.Trigger))
	}
	if !validMode(cmd.Body.Mode) {
		return nil, apierr.New(apierr.InvalidRequest, "unknown compaction mode %q: want native, rewrite or auto", clip(cmd.Body.Mode))
	}
	at, err := parseAt(cmd.Body.At)
	if err != nil {
		return nil, err
	}
	if !at.IsZero() && cmd.Verb != events.VerbRestore {
		return nil, apierr.New(apierr.InvalidRequest, "at is a restore's: %s takes none", cmd.Verb)
	}
	if at.After(time.Now()) {
		return nil, apierr.New(apierr.InvalidRequest, "at %s is in the future", at.Format(time.RFC3339))
	}
	ts, err := s.lookup(cmd.Table)
	if err != nil {
		return nil, err
	}
	switch cmd.Verb {
	case events.VerbCompact, events.VerbBackup, events.VerbVerify, events.VerbDrill:
		if ok, reason := ts.t.Available(); !ok {
			return nil, apierr.New(apierr.TableUnavailable, "table %s is %s", cmd.Table, reason)
		}
	case events.VerbSalvage:
		// An automatic restore (queued or running) leaves a quarantined
		// copy whatever its end (the replaced or the degraded table's
		// files): a salvage queued behind it is accepted. (A manual
		// restore that is running counts too; if it keeps the table's
		// data, the salvage then fails with restore.failed.)
		s.mu.Lock()
		pending := ts.restorePending
		s.mu.Unlock()
		qs, err := s.store.Quarantined(cmd.Table)
		if err != nil {
			return nil, apierr.Wrap(apierr.Internal, err, "table %s: salvage: list quarantined copies", cmd.Table)
		}
		if len(qs) == 0 && !pending {
			return nil, apierr.New(apierr.NotFound, "table %s: no quarantined copy to salvage", cmd.Table)
		}
		if ok, _ := ts.t.Available(); ok && !cmd.Body.Force {
			return nil, apierr.New(apierr.InvalidRequest,
				"table %s serves: salvage would replace its data with what RecoverFile gets from its newest quarantined copy; send {\"force\":true} to do it anyway", cmd.Table)
		}
	case events.VerbRestore:
		if id := cmd.Body.BackupID; id != "" {
			bs, err := s.store.Backups(cmd.Table)
			if err != nil {
				return nil, apierr.Wrap(apierr.Internal, err, "table %s: restore: list backups", cmd.Table)
			}
			if !slices.ContainsFunc(bs, func(m tables.Manifest) bool { return m.ID == id }) {
				return nil, apierr.New(apierr.NotFound, "table %s: no backup %q", cmd.Table, clip(id))
			}
		}
		if !at.IsZero() {
			bs, err := s.store.Backups(cmd.Table)
			if err != nil {
				return nil, apierr.Wrap(apierr.Internal, err, "table %s: restore: list backups", cmd.Table)
			}
			if !slices.ContainsFunc(bs, func(m tables.Manifest) bool { return !m.Created.After(at) }) {
				return nil, apierr.New(apierr.NotFound, "table %s: no backup at or before %s", cmd.Table, at.Format(time.RFC3339Nano))
			}
		}
	}
	return ts, nil
}

// acceptedEvent is the command.accepted event of cmd.
func (s *Supervisor) acceptedEvent(cmd Command) events.Event {
	e := events.New(events.CommandAccepted, s.cfg.Node, cmd.Table)
	e.CommandID = cmd.ID
	e.Trigger = cmd.Trigger
	e.Result = events.ResultOK
	e.Data = commandData(cmd)
	return e
}

// commandData is the verb and body of a command as event data.
func commandData(cmd Command) map[string]any {
	d := map[string]any{"verb": cmd.Verb}
	if cmd.Body.Force {
		d["force"] = true
	}
	if cmd.Body.Mode != "" {
		d["mode"] = clip(cmd.Body.Mode) // a refused mode is what the client sent
	}
	if cmd.Body.Wait {
		d["wait"] = true
	}
	if cmd.Body.BackupID != "" {
		d["backup_id"] = clip(cmd.Body.BackupID)
	}
	if cmd.Body.At != "" {
		d["at"] = clip(cmd.Body.At)
	}
	return d
}

// Reject emits command.rejected for a command the bus could not even parse
// (or that Submit refused): data.code is the apierr code of err, error its
// message. An invalid table name is not used as the event's table (it could
// not be a subject token): the event is node-level and data.table holds the
// name, shortened. The returned error is the emit failure, if any.
func (s *Supervisor) Reject(ctx context.Context, cmd Command, err error) error {
	table := cmd.Table
	data := commandData(cmd)
	if !events.ValidTable(table) {
		data["table"] = clip(table)
		table = ""
	}
	if cmd.Verb == "" || len(cmd.Verb) > 64 {
		data["verb"] = clip(cmd.Verb)
	}
	data["code"] = string(apierr.CodeOf(err))
	data["reason"] = apierr.MessageOf(err)
	e := events.New(events.CommandRejected, s.cfg.Node, table)
	e.CommandID = cmd.ID
	if e.CommandID == "" {
		e.CommandID = events.NewID()
	}
	e.Trigger = cmd.Trigger
	if e.Trigger == "" {
		e.Trigger = events.TriggerManual
	}
	e.Result = events.ResultFailed
	e.Error = apierr.MessageOf(err)
	e.Data = data
	return s.emit(ctx, e)
}
