package supervisor

// API SKELETON written by the lead so that internal/bus and cmd/supervisor
// compile while this package is built. The owner of internal/supervisor
// replaces every body; exported names and signatures may grow but should not
// change without updating their callers.

import (
	"context"
	"errors"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

var errNotImplemented = errors.New("not implemented yet")

// Policy is the maintenance policy of a table. A zero field in a per-table
// override means "the default".
type Policy struct {
	CompactEvery time.Duration `yaml:"compact_every" json:"compact_every"`
	BackupEvery  time.Duration `yaml:"backup_every" json:"backup_every"`
	VerifyEvery  time.Duration `yaml:"verify_every" json:"verify_every"`
	StatsEvery   time.Duration `yaml:"stats_every" json:"stats_every"`
	Jitter       float64       `yaml:"jitter" json:"jitter"`           // fraction of the interval, e.g. 0.1
	Threshold    float64       `yaml:"threshold" json:"threshold"`     // dead ratio below which an unforced compaction is skipped
	Mode         tables.Mode   `yaml:"mode" json:"mode"`               // default compaction mode
	Retention    int           `yaml:"retention" json:"retention"`     // backups kept
	RetryDelay   time.Duration `yaml:"retry_delay" json:"retry_delay"` // before a failed compaction's second attempt
}

// Config configures a Supervisor.
type Config struct {
	Node          string
	Defaults      Policy
	Tables        map[string]Policy // per-table overrides
	MaxConcurrent int               // tables doing maintenance at once
	QueueSize     int               // commands queued per table
}

// DefaultPolicy is the policy of a table that the config does not mention.
func DefaultPolicy() Policy { return Policy{} }

// Command is one maintenance command for a table.
type Command struct {
	ID      string // UUID; Submit fills it when empty
	Table   string
	Verb    string // events.Verb*
	Body    events.CommandBody
	Trigger string // events.Trigger*; manual for operator commands
}

// Ticket follows a submitted command to its outcome.
type Ticket struct{}

// ID is the command id.
func (t *Ticket) ID() string { return "" }

// Done is closed when the command's work has finished.
func (t *Ticket) Done() <-chan struct{} { return nil }

// Outcome is the final event of the work (compaction.completed, .skipped,
// .failed, backup.completed, ...); valid after Done is closed.
func (t *Ticket) Outcome() events.Event { return events.Event{} }

// TableStatus is what the status verb answers for a table.
type TableStatus struct {
	Table     string       `json:"table"`
	State     string       `json:"state"` // ok, compacting, backing_up, verifying, restoring, degraded
	Stats     tables.Stats `json:"stats"`
	Queue     int          `json:"queue"`
	LastError string       `json:"last_error,omitempty"`
}

// NodeStatus is what the node status verb answers.
type NodeStatus struct {
	Node   string        `json:"node"`
	Tables []TableStatus `json:"tables"`
}

// Supervisor applies the maintenance policy to the tables of one node.
type Supervisor struct{}

// New returns a Supervisor over store that emits through em.
func New(store *tables.Store, em events.Emitter, cfg Config) (*Supervisor, error) {
	return nil, errNotImplemented
}

// Run runs schedules and workers until ctx is done, then lets work in flight
// finish or abandons it safely, and returns.
func (s *Supervisor) Run(ctx context.Context) error { return errNotImplemented }

// OpenTable opens (create: or creates) a table and starts maintaining it;
// a new table emits table.created. A table that fails to open with
// corruption is restored automatically.
func (s *Supervisor) OpenTable(ctx context.Context, name string, create bool) error {
	return errNotImplemented
}

// Tables lists the tables this supervisor owns, sorted.
func (s *Supervisor) Tables() []string { return nil }

// OnTableAdded registers f to be called with the name of every table opened
// from now on (the bus subscribes its subjects).
func (s *Supervisor) OnTableAdded(f func(name string)) {}

// Table returns the table name for the data plane: apierr.NotFound when this
// supervisor does not own it.
func (s *Supervisor) Table(name string) (*tables.Table, error) { return nil, errNotImplemented }

// Submit validates cmd, emits command.accepted (or command.rejected and
// returns an *apierr.Error) and queues the work. A full queue answers
// apierr.Busy; an identical queued command coalesces (its ticket follows the
// queued one's outcome).
func (s *Supervisor) Submit(ctx context.Context, cmd Command) (*Ticket, error) {
	return nil, errNotImplemented
}

// Reject emits command.rejected for a command the bus could not even parse.
func (s *Supervisor) Reject(ctx context.Context, cmd Command, err error) error {
	return errNotImplemented
}

// Status answers the status verb for one table.
func (s *Supervisor) Status(ctx context.Context, name string) (TableStatus, error) {
	return TableStatus{}, errNotImplemented
}

// NodeStatus answers the node status verb.
func (s *Supervisor) NodeStatus(ctx context.Context) NodeStatus { return NodeStatus{} }
