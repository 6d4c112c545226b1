package supervisor

import (
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// detection is one corruption incident: the operation that met it and the
// error.
type detection struct {
	op  string
	err error
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
	if ts.t != nil {
		ts.t.SetUnavailable(tables.ReasonRestoring)
	}
	cmd := Command{
		ID:      events.NewID(),
		Table:   ts.name,
		Verb:    events.VerbRestore,
		Trigger: events.TriggerAuto,
	}
	s.enqueueLocked(ts, &job{cmd: cmd, attempt: 1, det: &d}, true)
}
