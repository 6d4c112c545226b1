package bus

import (
	"context"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
)

// CmdReply answers a command: the contract's command_id, accepted, table
// and verb (plus result and event with "wait"), the command it coalesced
// with, and for the status verb the table's status.
type CmdReply struct {
	events.CommandReply
	CoalescedWith string                  `json:"coalesced_with,omitempty"`
	Status        *supervisor.TableStatus `json:"status,omitempty"`
}

// commandFor is a manual command with a fresh id.
func commandFor(table, verb string) supervisor.Command {
	return supervisor.Command{ID: events.NewID(), Table: table, Verb: verb, Trigger: events.TriggerManual}
}

// reject records a command the bus refused as command.rejected. A failure
// to emit shows in the supervisor's node status (emit errors); the client
// already gets the refusal itself.
func (s *Services) reject(cmd supervisor.Command, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	_ = s.b.Reject(ctx, cmd, err)
}

// handleCmd serves <prefix>.cmd.<table>.<verb>.
func (s *Services) handleCmd(ctx context.Context, table string, r request) (any, error) {
	cmd := commandFor(table, r.verb)
	body, err := decodeCommand(r.data)
	if err != nil {
		s.reject(cmd, err)
		return nil, err
	}
	cmd.Body = body
	t, err := s.submit(ctx, cmd)
	if err != nil {
		return nil, err // Submit recorded command.rejected
	}
	if r.reply == "" {
		return nil, nil // a plain publish: the outcome is in the events
	}
	return s.follow(ctx, cmd, t)
}

// submit hands cmd to the supervisor.
func (s *Services) submit(ctx context.Context, cmd supervisor.Command) (*supervisor.Ticket, error) {
	sctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return s.b.Submit(sctx, cmd)
}

// follow builds the reply of an accepted command, waiting for the outcome
// when the body asked for it.
func (s *Services) follow(ctx context.Context, cmd supervisor.Command, t *supervisor.Ticket) (CmdReply, error) {
	rep := CmdReply{
		CommandReply:  events.CommandReply{CommandID: t.ID(), Accepted: true, Table: cmd.Table, Verb: cmd.Verb},
		CoalescedWith: t.Coalesced(),
	}
	if cmd.Verb == events.VerbStatus {
		<-t.Done() // done on return from Submit
		if st, ok := t.Status(); ok {
			rep.Status = &st
		}
		rep.Result = events.ResultOK
		return rep, nil
	}
	if !cmd.Body.Wait {
		return rep, nil
	}
	select {
	case <-t.Done():
	case <-ctx.Done():
		return CmdReply{}, apierr.New(apierr.Internal, "table %s: %s: command %s accepted, but the supervisor stopped before it finished", cmd.Table, cmd.Verb, t.ID())
	}
	out := t.Outcome()
	rep.Result = out.Result
	if rep.Result == "" {
		rep.Result = events.ResultOK
		if t.Err() != nil {
			rep.Result = events.ResultFailed
		}
	}
	if out.ID != "" {
		rep.Event = &out
	}
	return rep, nil
}

// commandAndTicket is a submitted command and its ticket.
type commandAndTicket struct {
	cmd supervisor.Command
	t   *supervisor.Ticket
}
