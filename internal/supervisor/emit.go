package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// emit hands e to the Emitter. A failure is counted and remembered (see
// NodeStatus) and returned; it is never ignored.
func (s *Supervisor) emit(ctx context.Context, e events.Event) error {
	if e.Attempt == 0 {
		e.Attempt = 1 // the contract's envelope has it on every event
	}
	// Critical tables (critical.go): table.stats says so; the repair of a
	// table that stopped the node makes it serve before the event goes out.
	e = s.annotate(e)
	s.repaired(e)
	err := s.em.Emit(ctx, e)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("emit %s for table %s: %w", e.Type, tableOrNode(e.Table), err)
	s.mu.Lock()
	s.emitErrors++
	s.lastEmitErr = err.Error()
	s.mu.Unlock()
	return err
}

// record emits an event of work (an operation, its outcome, an incident):
// with the record context, which outlives the work's by the shutdown grace,
// so that work cancelled at shutdown still gets its outcome recorded.
func (s *Supervisor) record(e events.Event) error {
	return s.emit(s.recordCtx, e)
}

func tableOrNode(table string) string {
	if table == "" {
		return events.NodeTable
	}
	return table
}

// jobEvent is an event of type typ about j: command id, trigger and attempt
// filled in.
func (s *Supervisor) jobEvent(typ string, j *job) events.Event {
	e := events.New(typ, s.cfg.Node, j.cmd.Table)
	e.CommandID = j.cmd.ID
	e.Trigger = j.cmd.Trigger
	e.Attempt = j.attempt
	if e.Attempt == 0 {
		e.Attempt = 1
	}
	return e
}

// outcome completes an outcome event: result, duration since start, error.
func outcome(e events.Event, result string, start time.Time, err error, data map[string]any) events.Event {
	e.Result = result
	e.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		e.Error = err.Error()
	}
	e.Data = data
	return e
}

// joinErr joins errors, nil ones dropped.
func joinErr(errs ...error) error { return errors.Join(errs...) }
