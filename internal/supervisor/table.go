package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// tableState is the supervisor's view of one owned table. Every field but
// name, t, pol, wake, submit, progress and progressed is guarded by
// Supervisor.mu.
type tableState struct {
	name string
	t    *tables.Table
	pol  Policy
	wake chan struct{} // capacity 1: the queue changed
	// submit (capacity 1) serializes Submit per table, so that deciding,
	// emitting command.accepted and queueing happen in that order.
	submit chan struct{}

	queue          []*job
	running        *job
	restorePending bool // an automatic restore is queued, or a restore runs
	lastError      string
	skippedTicks   int64 // scheduled work dropped because the queue was full
	unchangedSkips int64 // scheduled work left out: the table sleeps unchanged
	healing        bool  // healWrites runs: the table's writes fail
	next           map[string]time.Time
	// stats is the last periodic table.stats sent (statsmemo.go); used by
	// the schedule goroutine only.
	stats statsMemo

	// progress is the running operation's latest figures. It is atomic, not
	// under Supervisor.mu, because tables calls Progress from inside its own
	// work, possibly holding its locks, while reportCorruption holds
	// Supervisor.mu and takes the table's lock.
	progress atomic.Pointer[Progress]
	// progressed (capacity 1) wakes reportProgress when progress changed.
	progressed chan struct{}
}

func newTableState(name string, t *tables.Table, pol Policy) *tableState {
	return &tableState{
		name:       name,
		t:          t,
		pol:        pol,
		wake:       make(chan struct{}, 1),
		progressed: make(chan struct{}, 1),
		submit:     make(chan struct{}, 1),
		next:       map[string]time.Time{},
	}
}

// poke wakes the table's worker.
func (ts *tableState) poke() {
	select {
	case ts.wake <- struct{}{}:
	default:
	}
}

// OpenTable opens (create: or creates) a table and starts maintaining it;
// a new table emits table.created (trigger startup before Run, manual after).
// A table that fails to open with
// corruption is owned all the same, unavailable, and restored automatically
// (OpenTable returns nil then). Opening a table already owned does nothing.
// An invalid name answers apierr.InvalidTable, a missing table (create false)
// the error of tables.Store.Open. If table.created cannot be emitted, the
// table is open and owned and the emit error is returned.
func (s *Supervisor) OpenTable(ctx context.Context, name string, create bool) error {
	return s.openTable(ctx, name, create, "")
}

// CreateTable is the node verb create: command.accepted for cmd (or
// command.rejected, and the error, for an invalid name), then the table is
// opened or created as OpenTable does, its table.created carrying cmd.ID.
// cmd.ID is filled when empty. A failure after the acceptance is returned
// (the requester gets it) without a second event.
func (s *Supervisor) CreateTable(ctx context.Context, cmd Command) error {
	if cmd.ID == "" {
		cmd.ID = events.NewID()
	}
	cmd.Verb = events.VerbCreate
	if cmd.Trigger == "" {
		cmd.Trigger = events.TriggerManual
	}
	if !events.ValidTable(cmd.Table) {
		err := apierr.New(apierr.InvalidTable, "invalid table name %q", clip(cmd.Table))
		return errors.Join(err, s.Reject(ctx, cmd, err))
	}
	if err := s.emit(ctx, s.acceptedEvent(cmd)); err != nil {
		return apierr.Wrap(apierr.Internal, err, "table %s: create: command.accepted could not be recorded", cmd.Table)
	}
	return s.openTable(ctx, cmd.Table, true, cmd.ID)
}

func (s *Supervisor) openTable(ctx context.Context, name string, create bool, commandID string) error {
	if !events.ValidTable(name) {
		return apierr.New(apierr.InvalidTable, "invalid table name %q", clip(name))
	}
	select {
	case s.opening <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("table %s: open: %w", name, ctx.Err())
	}
	defer func() { <-s.opening }()

	s.mu.Lock()
	_, owned := s.tables[name]
	s.mu.Unlock()
	if owned {
		return nil
	}

	existed, err := s.store.Exists(name)
	if err != nil {
		return fmt.Errorf("table %s: open: %w", name, err)
	}

	t, err := s.store.Open(ctx, name, create)
	var det *detection
	if err != nil {
		if t == nil || !tables.IsCorruption(err) {
			return fmt.Errorf("table %s: open: %w", name, err)
		}
		det = &detection{op: "open", err: err}
	}

	ts := newTableState(name, t, s.cfg.policy(name))
	s.mu.Lock()
	if d, ok := s.orphans[name]; ok {
		delete(s.orphans, name)
		if det == nil {
			det = &d
		} else if d.op != "" {
			det.op = d.op
		}
	}
	s.tables[name] = ts
	if det != nil {
		s.queueRestoreLocked(ts, *det)
	}
	if s.state == stateRunning {
		s.startTable(ts)
	}
	callbacks := slices.Clone(s.added)
	trigger := events.TriggerManual
	if s.state == stateNew {
		trigger = events.TriggerStartup
	}
	s.mu.Unlock()

	for _, f := range callbacks {
		f(name)
	}
	if existed || det != nil {
		return nil // not new: a table that did not open has a history
	}
	e := events.New(events.TableCreated, s.cfg.Node, name)
	e.CommandID = commandID
	e.Trigger = trigger
	e.Result = events.ResultOK
	e.Data = map[string]any{"create": create}
	if err := s.emit(ctx, e); err != nil {
		return fmt.Errorf("table %s: open: %w", name, err)
	}
	return nil
}

// Tables lists the tables this supervisor owns, sorted.
func (s *Supervisor) Tables() []string {
	s.mu.Lock()
	names := make([]string, 0, len(s.tables))
	for name := range s.tables {
		names = append(names, name)
	}
	s.mu.Unlock()
	sort.Strings(names)
	return names
}

// OnTableAdded registers f to be called with the name of every table opened
// from now on (the bus subscribes its subjects). f runs in OpenTable's
// goroutine, with no lock held.
func (s *Supervisor) OnTableAdded(f func(name string)) {
	s.mu.Lock()
	s.added = append(s.added, f)
	s.mu.Unlock()
}

// Table returns the table name for the data plane: apierr.InvalidTable for a
// name that is not valid, apierr.NotFound when this supervisor does not own
// it. A table that is restoring or degraded is returned all the same: its
// calls answer apierr.TableUnavailable.
func (s *Supervisor) Table(name string) (*tables.Table, error) {
	ts, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return ts.t, nil
}

// lookup finds an owned table.
func (s *Supervisor) lookup(name string) (*tableState, error) {
	// Only valid names are ever in the map: a hit needs no validation (this
	// is on every data-plane request), a miss is told apart below.
	s.mu.Lock()
	ts := s.tables[name]
	s.mu.Unlock()
	if ts == nil && !events.ValidTable(name) {
		return nil, apierr.New(apierr.InvalidTable, "invalid table name %q", clip(name))
	}
	if ts == nil {
		return nil, apierr.New(apierr.NotFound, "table %s is not owned by node %s", name, s.cfg.Node)
	}
	return ts, nil
}

// clip shortens a string a client sent for an error message or an event
// (events.Echo).
func clip(s string) string { return events.Echo(s) }

// errStopping answers commands that arrive while Run is ending.
var errStopping = errors.New("supervisor is stopping")

// stoppedErr is the error of a queued command that does not run because the
// supervisor stops.
func stoppedErr(cmd Command) error {
	return apierr.Wrap(apierr.Internal, errStopping, "table %s: %s: not run: %s", cmd.Table, cmd.Verb, errStopping)
}
