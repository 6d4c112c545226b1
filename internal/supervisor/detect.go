package supervisor

import (
	"fmt"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// detection is one corruption incident: the operation that met it and the
// error.
type detection struct {
	op  string
	err error

	// emitted, when set, is closed once corruption.detected has been
	// emitted (emitErr is its failure): the event goes out at once, even
	// while the table's worker finishes an operation, and the restore waits
	// for it so that restore.started follows it.
	emitted chan struct{}
	emitErr error
}

// reportCorruption is the tables.Options.OnCorruption handler. It never
// blocks: the table stops serving at once ("restoring") and an automatic
// restore goes to the front of its queue. While a restore of that table is
// pending or running, further reports belong to the same incident and are
// dropped. A report for a table not registered yet (corruption on open) is
// kept for OpenTable.
func (s *Supervisor) reportCorruption(table, op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.tables[table]
	if ts == nil {
		if events.ValidTable(table) {
			s.orphans[table] = detection{op: op, err: err}
		}
		return
	}
	s.queueRestoreLocked(ts, detection{op: op, err: err})
}

// queueRestoreLocked starts an incident on ts unless one is pending.
func (s *Supervisor) queueRestoreLocked(ts *tableState, d detection) {
	if ts.restorePending {
		return
	}
	ts.restorePending = true
	ts.t.SetUnavailable(tables.ReasonRestoring)
	cmd := Command{
		ID:      events.NewID(),
		Table:   ts.name,
		Verb:    events.VerbRestore,
		Trigger: events.TriggerAuto,
	}
	if _, ok := s.rebuilt[ts.name]; ok {
		// Fetched from off-site at start: this is the start's restore.
		cmd.Trigger = events.TriggerStartup
	}
	j := &job{cmd: cmd, attempt: 1, det: &d}
	if s.state == stateRunning {
		// Add under s.mu while running: it happens before Run's Wait.
		d.emitted = make(chan struct{})
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			d.emitErr = s.record(s.detectedEvent(j))
			close(d.emitted)
		}()
	}
	s.enqueueLocked(ts, j, true)
}

// detectedEvent is the corruption.detected event of an incident.
func (s *Supervisor) detectedEvent(j *job) events.Event {
	e := s.jobEvent(events.CorruptionDetected, j)
	e.Result = events.ResultFailed
	e.Error = errText(j.det.err)
	e.Data = map[string]any{"op": j.det.op, "error": errText(j.det.err), "reason": "corruption on " + j.det.op}
	return e
}

// announced waits for the incident's corruption.detected, emitting it here
// when the incident began before Run.
func (s *Supervisor) announced(j *job) error {
	d := j.det
	if d.emitted == nil {
		return s.record(s.detectedEvent(j))
	}
	select {
	case <-d.emitted:
		return d.emitErr
	case <-s.recordCtx.Done():
		return fmt.Errorf("table %s: corruption.detected: %w", j.cmd.Table, s.recordCtx.Err())
	}
}
