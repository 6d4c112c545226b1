package bus

import (
	"context"

	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Backend is what the services need from the supervisor of this node;
// *supervisor.Supervisor satisfies it.
type Backend interface {
	// Node is the node id of <prefix>.node.<node>.<verb>.
	Node() string
	// Tables lists the owned tables; OnTableAdded reports tables opened
	// later. The services subscribe the kv and cmd subjects of exactly
	// these tables.
	Tables() []string
	OnTableAdded(f func(name string))
	// Table is the data plane of an owned table.
	Table(name string) (*tables.Table, error)
	// CreateTable is node create: command.accepted (or .rejected), then
	// the table opened or created, table.created carrying the command id.
	CreateTable(ctx context.Context, cmd supervisor.Command) error
	// Submit queues a command (and emits command.accepted or
	// command.rejected); Reject emits command.rejected for a command that
	// could not even be parsed.
	Submit(ctx context.Context, cmd supervisor.Command) (*supervisor.Ticket, error)
	Reject(ctx context.Context, cmd supervisor.Command, err error) error
	// NodeStatusPage answers node status: a page of the tables and the
	// counts of all (apierr.InvalidRequest for an invalid query).
	NodeStatusPage(ctx context.Context, q supervisor.StatusQuery) (supervisor.NodeStatus, error)
}

var _ Backend = (*supervisor.Supervisor)(nil)
