package supervisor

import (
	"context"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Table states of TableStatus.State.
const (
	StateOK         = "ok"
	StateCompacting = "compacting"
	StateBackingUp  = "backing_up"
	StateVerifying  = "verifying"
	StateRestoring  = "restoring"
	StateDegraded   = "degraded"
)

// TableStatus is what the status verb answers for a table.
type TableStatus struct {
	Table string       `json:"table"`
	State string       `json:"state"` // ok, compacting, backing_up, verifying, restoring, degraded
	Stats tables.Stats `json:"stats"`
	// StatsError is why Stats is zero although the table serves (its
	// figures could not be read).
	StatsError string `json:"stats_error,omitempty"`
	Queue      int    `json:"queue"`
	LastError  string `json:"last_error,omitempty"`

	Reason    string    `json:"reason,omitempty"`     // why the table does not serve
	Running   string    `json:"running,omitempty"`    // verb of the running command
	CommandID string    `json:"command_id,omitempty"` // id of the running command
	Progress  *Progress `json:"progress,omitempty"`   // its latest figures
	// SkippedTicks counts scheduled work dropped because the queue was full.
	SkippedTicks int64 `json:"skipped_ticks,omitempty"`
	// UnchangedSkips counts scheduled work left out because the table
	// was asleep and unchanged since that work last succeeded.
	UnchangedSkips int64 `json:"unchanged_skips,omitempty"`
	// Asleep: the table's database is closed because it was idle; the
	// next request opens it.
	Asleep bool `json:"asleep,omitempty"`
	// Next is when each schedule (compact, backup, verify) fires next.
	Next map[string]string `json:"next,omitempty"`
	// Critical: the table's policy says critical (see critical.go).
	Critical bool `json:"critical,omitempty"`
}

// NodeStatus is what the node status verb answers: the node's figures,
// the tables by state, and a page of the tables (all of them in process;
// the bus answers pages, see NodeStatusPage).
type NodeStatus struct {
	Node string `json:"node"`
	// TableCount is how many tables the node owns; Counts how many are in
	// each state (every state present, zeros included), whatever the page.
	TableCount int            `json:"table_count"`
	Counts     map[string]int `json:"counts"`
	// Tables is the page: tables in the order of NodeStatusPage, from
	// Offset. Truncated: more tables match the query after this page;
	// NextOffset is then the offset of the next page.
	Tables     []TableStatus `json:"tables"`
	Offset     int           `json:"offset"`
	Truncated  bool          `json:"truncated"`
	NextOffset int           `json:"next_offset,omitempty"`
	// EmitErrors counts events the Emitter refused; LastEmitError is the
	// latest such failure.
	EmitErrors    int64  `json:"emit_errors,omitempty"`
	LastEmitError string `json:"last_emit_error,omitempty"`
	// OpenTables is how many tables have their database open (the others
	// sleep: see Config.MaxOpenTables). SleepErrors counts tables whose
	// close, as they went to sleep, failed (they sleep all the same and
	// their next open checks them); LastSleepError is the latest.
	OpenTables     int    `json:"open_tables"`
	SleepErrors    int64  `json:"sleep_errors,omitempty"`
	LastSleepError string `json:"last_sleep_error,omitempty"`
	// Failing: a critical table is degraded, or the node is stopped (see
	// critical.go); FailingReasons says why, one line per cause.
	Failing        bool     `json:"failing"`
	FailingReasons []string `json:"failing_reasons,omitempty"`
	// Stopped: a critical table with on_unrecoverable stop is degraded, so
	// every table's reads and writes answer table_unavailable; StoppedBy
	// names the table(s) to restore or salvage.
	Stopped   bool     `json:"stopped"`
	StoppedBy []string `json:"stopped_by,omitempty"`
}

// Status answers the status verb for one table: apierr.InvalidTable or
// apierr.NotFound for a table it does not own. Stats are left zero while the
// table does not serve.
func (s *Supervisor) Status(ctx context.Context, name string) (TableStatus, error) {
	ts, err := s.lookup(name)
	if err != nil {
		return TableStatus{}, err
	}
	return s.status(ctx, ts), nil
}

func (s *Supervisor) status(ctx context.Context, ts *tableState) TableStatus {
	st := TableStatus{Table: ts.name, State: StateOK, Critical: ts.pol.IsCritical()}
	ok, reason := ts.t.Available()
	st.Asleep = ts.t.Asleep()
	if ok {
		if stats, err := ts.t.Stats(ctx); err == nil {
			st.Stats = stats
		} else {
			st.StatsError = err.Error()
			s.noteCorruption(ts, "stats", err)
		}
	}
	s.mu.Lock()
	st.Queue = len(ts.queue)
	st.LastError = ts.lastError
	st.SkippedTicks = ts.skippedTicks
	st.UnchangedSkips = ts.unchangedSkips
	if ts.running != nil {
		st.Running = ts.running.cmd.Verb
		st.CommandID = ts.running.cmd.ID
	}
	if p := ts.progress.Load(); p != nil && st.Running != "" {
		cp := *p
		st.Progress = &cp
	}
	if len(ts.next) > 0 {
		st.Next = make(map[string]string, len(ts.next))
		for k, v := range ts.next {
			st.Next[k] = v.UTC().Format(timeFormat)
		}
	}
	s.mu.Unlock()
	if !ok {
		st.Reason = reason
	}
	st.State = stateOf(ok, reason, st.Running)
	return st
}

// stateOf is the State of a table: available or not (and why), and the
// verb of its running command ("" when none).
func stateOf(available bool, reason, running string) string {
	switch {
	case !available && reason == tables.ReasonDegraded:
		return StateDegraded
	case !available && running == "":
		return StateRestoring
	case running != "":
		return busyState(running)
	}
	return StateOK
}

// busyState is the state of a table running verb.
func busyState(verb string) string {
	switch verb {
	case events.VerbCompact:
		return StateCompacting
	case events.VerbBackup:
		return StateBackingUp
	case events.VerbVerify, events.VerbDrill:
		return StateVerifying // a drill is a check too: the card names the running verb
	default:
		return StateRestoring
	}
}

// NodeStatus answers the node status verb in process: every owned table,
// in the order of NodeStatusPage (failures first, then by name).
func (s *Supervisor) NodeStatus(ctx context.Context) NodeStatus {
	ns, _ := s.NodeStatusPage(ctx, StatusQuery{}) // the zero query is valid
	return ns
}

// EmitErrors counts the events the Emitter refused since the supervisor
// started (NodeStatus.EmitErrors, without the rest of the status).
func (s *Supervisor) EmitErrors() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emitErrors
}
