package supervisor

import "github.com/custodian-dev/custodian/internal/events"

// Ticket follows a submitted command to its outcome.
type Ticket struct {
	id        string
	coalesced string // id of the queued command this one follows, if any
	done      chan struct{}

	// Set once before done is closed.
	outcome events.Event
	err     error
	status  *TableStatus
}

func newTicket(id string) *Ticket {
	return &Ticket{id: id, done: make(chan struct{})}
}

// ID is the command id.
func (t *Ticket) ID() string { return t.id }

// Coalesced is the id of the identical queued command this one joined, ""
// when the command was queued on its own.
func (t *Ticket) Coalesced() string { return t.coalesced }

// Done is closed when the command's work has finished.
func (t *Ticket) Done() <-chan struct{} { return t.done }

// Outcome is the final event of the work (compaction.completed, .skipped,
// .failed, backup.completed, restore.completed, table.degraded,
// table.recovered, command.rejected for work its table could not run, ...);
// valid after Done is closed. Its command_id is the
// id of the command that did the work (for a coalesced ticket, the earlier
// command's). A status command has no outcome event: see Status.
func (t *Ticket) Outcome() events.Event { return t.outcome }

// Err is the error of the work (nil when it succeeded or was skipped), joined
// with any failure to emit its events; valid after Done is closed.
func (t *Ticket) Err() error { return t.err }

// Status is the answer of a status command (ok false for other verbs);
// valid after Done is closed.
func (t *Ticket) Status() (TableStatus, bool) {
	if t.status == nil {
		return TableStatus{}, false
	}
	return *t.status, true
}

// finish records the outcome and closes Done; call it once.
func (t *Ticket) finish(outcome events.Event, err error) {
	t.outcome = outcome
	t.err = err
	close(t.done)
}
