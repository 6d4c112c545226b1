package supervisor

import (
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// healEvery is how often a table whose writes fail is asked to heal (see
// tables.Table.Heal, which spaces its own reopen attempts).
const healEvery = time.Second

// WriteFaultHandler returns the function that tables.Options.OnWriteFault
// must call for this Supervisor to watch over tables whose writes fail
// (see New and Open).
func (s *Supervisor) WriteFaultHandler() func(table string, err error) {
	return s.reportWriteFault
}

// reportWriteFault is the tables.Options.OnWriteFault handler. It never
// blocks: it starts healWrites for the table unless it runs.
func (s *Supervisor) reportWriteFault(table string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.tables[table]
	if ts == nil || ts.healing || (s.state != stateNew && s.state != stateRunning) {
		return
	}
	ts.healing = true
	s.workers.Add(1)
	go s.healWrites(ts)
}

// healWrites records that ts's writes fail (a table.stats with data.writes
// "failing" and the code: no_space when the disk is full), asks the table
// to heal every healEvery until its writes work again or the supervisor
// stops, and records that they work again (data.writes "ok"). A corruption
// the reopen finds is reported by tables as every corruption is.
func (s *Supervisor) healWrites(ts *tableState) {
	defer s.workers.Done()
	healed := false
	defer func() {
		if !healed {
			s.mu.Lock()
			ts.healing = false
			s.mu.Unlock()
		}
	}()
	s.emitWrites(ts)
	tick := time.NewTicker(healEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-tick.C:
		}
		err := ts.t.Heal()
		if tables.IsCorruption(err) {
			return // the incident takes over (tables reported it)
		}
		if err != nil {
			continue
		}
		// Healed, unless a write failed again meanwhile: its report saw
		// this loop running and left the healing to it.
		s.mu.Lock()
		if _, again := ts.t.WriteFault(); again {
			s.mu.Unlock()
			continue
		}
		ts.healing = false
		healed = true
		s.mu.Unlock()
		s.emitWrites(ts)
		return
	}
}

// emitWrites emits a table.stats that says whether ts's writes work
// (data.writes_changed true: they started failing or work again), with the
// table's figures.
func (s *Supervisor) emitWrites(ts *tableState) {
	e := events.New(events.TableStats, s.cfg.Node, ts.name)
	e.Trigger = events.TriggerAuto
	e.Result = events.ResultOK
	e.Data = map[string]any{"writes_changed": true}
	putWrites(e.Data, ts.t)
	if st, err := ts.t.Stats(s.workCtx); err == nil {
		putStats(e.Data, st)
	}
	_ = s.record(e) // a failure is counted and kept by emit (NodeStatus)
}

// putWrites sets whether the table's writes work in the data of a
// table.stats event: writes "ok", or "failing" with writes_code (no_space
// when the disk is full, internal for another I/O error), writes_error and
// writes_since.
func putWrites(data map[string]any, t *tables.Table) {
	if err := t.JournalError(); err != nil {
		// A flushed journal stayed in the live directory (see
		// tables.Table.JournalError): the table serves; the operator
		// should look at <data>/journal.
		data["journal_error"] = err.Error()
	}
	f, failing := t.WriteFault()
	if !failing {
		data["writes"] = "ok"
		return
	}
	data["writes"] = "failing"
	data["writes_code"] = string(f.Code)
	data["writes_error"] = f.Err
	data["writes_since"] = f.Since.UTC().Format(timeFormat)
}
