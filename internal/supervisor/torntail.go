package supervisor

import (
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/logtail"
)

// TornTailHandler returns the function that tables.Options.OnTornTail must
// call for this Supervisor to record the torn tails cut off its tables'
// files (see New and Open).
func (s *Supervisor) TornTailHandler() func(table, op string, cut logtail.Cut) {
	return s.reportTornTail
}

// reportTornTail records a torn tail cut off a table's journal or MANIFEST
// as a table.recovered event (data.method "torn_tail"; trigger startup when
// the open found it, auto when a reopen after failed writes did): the table
// opened with every acknowledged write, and the bytes of the append that
// was cut short are on record. Before and while Run runs it does not block:
// the event is emitted on a goroutine that Run waits for; once Run is
// stopping it is emitted here. An emit error is counted and remembered by
// emit (NodeStatus), like every other.
func (s *Supervisor) reportTornTail(table, op string, cut logtail.Cut) {
	trigger := events.TriggerStartup
	if op != "open" {
		trigger = events.TriggerAuto
	}
	e := s.tornTailEvent(table, op, cut, trigger)
	s.mu.Lock()
	if s.state == stateStopping || s.state == stateStopped {
		s.mu.Unlock()
		_ = s.record(e) // counted and remembered by emit
		return
	}
	s.workers.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.workers.Done()
		_ = s.record(e) // counted and remembered by emit
	}()
}

// tornTailEvent is the table.recovered event of a torn tail cut.
func (s *Supervisor) tornTailEvent(table, op string, cut logtail.Cut, trigger string) events.Event {
	e := events.New(events.TableRecovered, s.cfg.Node, table)
	e.Trigger = trigger
	e.Result = events.ResultOK
	e.Data = map[string]any{
		"method":        "torn_tail",
		"op":            op,
		"file":          cut.File,
		"offset":        cut.Offset,
		"bytes_dropped": cut.Dropped,
		"size":          cut.Size,
		"reason":        cut.Reason,
	}
	return e
}
