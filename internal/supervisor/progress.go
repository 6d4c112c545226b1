package supervisor

import (
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// progressEvery is the least time between two progress events of a table:
// a long operation reports its figures as tables hands them over, at most
// once a second.
const progressEvery = time.Second

// Progress is the latest figure a running operation reported.
type Progress struct {
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Unit  string `json:"unit"`
}

// progressOf returns a tables.Progress that records figures for Status and
// wakes the table's progress reporter. It never blocks: tables calls it
// from inside its work.
func (s *Supervisor) progressOf(ts *tableState) tables.Progress {
	return func(done, total int64, unit string) {
		ts.progress.Store(&Progress{Done: done, Total: total, Unit: unit})
		select {
		case ts.progressed <- struct{}{}:
		default:
		}
	}
}

// reportProgress emits a progress event (see progressEvent) when tables
// reports figures for ts's running operation, at most once per
// progressEvery; figures that arrive sooner go out when that time is up.
// It runs until the supervisor stops.
func (s *Supervisor) reportProgress(ts *tableState) {
	defer s.workers.Done()
	var last time.Time
	later := time.NewTimer(time.Hour)
	later.Stop()
	defer later.Stop()
	pending := false
	for {
		select {
		case <-s.stopping:
			return
		case <-ts.progressed:
			if wait := progressEvery - time.Since(last); wait > 0 {
				if !pending {
					pending = true
					later.Reset(wait)
				}
				continue
			}
			if pending { // due anyway: this event covers it
				later.Stop()
				pending = false
			}
		case <-later.C:
			pending = false
		}
		s.emitProgress(ts)
		last = time.Now()
	}
}

// emitProgress emits a table.stats about the running operation of ts: its
// command_id and trigger, data.running (verb), running_command_id,
// progress_done, progress_total, progress_unit, queue, and the table's size
// figures when it serves (not while it is being restored: they would be the
// damaged copy's). Nothing when no operation runs any more.
func (s *Supervisor) emitProgress(ts *tableState) {
	s.mu.Lock()
	j := ts.running
	queue := len(ts.queue)
	s.mu.Unlock()
	p := ts.progress.Load()
	if j == nil || p == nil {
		return
	}
	e := events.New(events.TableStats, s.cfg.Node, ts.name)
	e.CommandID = j.cmd.ID
	e.Trigger = j.cmd.Trigger
	e.Attempt = j.attempt
	e.Result = events.ResultOK
	e.Data = map[string]any{
		"running":            j.cmd.Verb,
		"running_command_id": j.cmd.ID,
		"progress_done":      p.Done,
		"progress_total":     p.Total,
		"progress_unit":      p.Unit,
		"queue":              queue,
	}
	if ok, _ := ts.t.Available(); ok {
		if st, err := ts.t.Stats(s.workCtx); err == nil {
			putStats(e.Data, st)
			putWrites(e.Data, ts.t)
		}
	}
	_ = s.record(e) // a failure is counted and kept by emit (NodeStatus)
}
