package bus

import (
	"context"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// NodeReply answers node compact, backup, verify and drill: one command
// per owned table, and the tables that refused theirs. A reply over the
// node reply bound (see nodeReplyBound) comes in Parts messages on the
// reply subject, in order, Part 1 first: each is a NodeReply with its
// share of Commands and Refused, and Total, RefusedTotal and Parts of the
// whole. A requester that reads one message (nats req, the dashboard) gets
// part 1: the counts and the first commands. See node_reply.go.
type NodeReply struct {
	Node string `json:"node"`
	Verb string `json:"verb"`
	// Total is how many tables accepted the verb (commands over all
	// parts); RefusedTotal how many refused it.
	Total        int `json:"total"`
	RefusedTotal int `json:"refused_total"`
	// Failed (with "wait") is how many commands failed, over all parts.
	Failed int `json:"failed,omitempty"`
	// Part is this message's number, from 1, of Parts.
	Part     int          `json:"part,omitempty"`
	Parts    int          `json:"parts,omitempty"`
	Commands []CmdReply   `json:"commands"`
	Refused  []TableError `json:"refused,omitempty"`
}

// TableError is a table's refusal in a NodeReply.
type TableError struct {
	Table string      `json:"table"`
	Error ErrorDetail `json:"error"`
}

// handleNode serves <prefix>.node.<node>.<verb>.
func (s *Services) handleNode(ctx context.Context, _ string, r request) (any, error) {
	switch r.verb {
	case events.VerbStatus:
		return s.nodeStatus(ctx, r)
	case events.VerbCreate:
		return s.create(ctx, r)
	case events.VerbCompact, events.VerbBackup, events.VerbVerify, events.VerbDrill:
		return s.fanOut(ctx, r)
	default:
		err := apierr.New(apierr.InvalidRequest, "unknown node verb %q: want one of %v", clipName(r.verb), events.NodeVerbs())
		s.reject(commandFor("", r.verb), err)
		return nil, err
	}
}

// create opens or creates a table and subscribes its subjects.
func (s *Services) create(ctx context.Context, r request) (any, error) {
	cmd := commandFor("", events.VerbCreate)
	table, err := decodeCreate(r.data)
	if err != nil {
		s.reject(cmd, err)
		return nil, err
	}
	cmd.Table = table
	if !events.ValidTable(cmd.Table) {
		err := apierr.New(apierr.InvalidTable, "invalid table name %q: want ^[a-z0-9][a-z0-9_-]{0,63}$", clipName(cmd.Table))
		s.reject(cmd, err)
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	// CreateTable records the command itself (accepted, or rejected).
	if err := s.b.CreateTable(octx, cmd); err != nil {
		return nil, err
	}
	if err := s.AddTable(cmd.Table); err != nil {
		return nil, apierr.Wrap(apierr.Internal, err, "table %s: created, but its subjects could not be subscribed", cmd.Table)
	}
	if r.reply == "" {
		return nil, nil
	}
	return CmdReply{CommandReply: events.CommandReply{CommandID: cmd.ID, Accepted: true, Table: cmd.Table, Verb: cmd.Verb, Result: events.ResultOK}}, nil
}

// fanOut submits the verb for every owned table.
func (s *Services) fanOut(ctx context.Context, r request) (any, error) {
	proto := commandFor("", r.verb)
	body, err := decodeCommand(r.data)
	if err != nil {
		s.reject(proto, err)
		return nil, err
	}
	proto.Body = body
	rep := NodeReply{Node: s.node, Verb: r.verb, Commands: []CmdReply{}}
	var followed []commandAndTicket
	for _, table := range s.b.Tables() {
		cmd := commandFor(table, r.verb)
		cmd.Body = proto.Body
		t, err := s.submit(ctx, cmd)
		if err != nil {
			rep.Refused = append(rep.Refused, TableError{Table: table, Error: errorDetail(err)})
			continue
		}
		followed = append(followed, commandAndTicket{cmd, t})
	}
	if r.reply == "" {
		return nil, nil
	}
	for _, ct := range followed {
		cr, err := s.follow(ctx, ct.cmd, ct.t)
		if err != nil {
			return nil, err
		}
		rep.Commands = append(rep.Commands, cr)
		if cr.Result == events.ResultFailed {
			rep.Failed++
		}
	}
	rep.Total, rep.RefusedTotal = len(rep.Commands), len(rep.Refused)
	parts, err := nodeReplyParts(rep, s.nodeReplyBound())
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return rawJSON(parts[0]), nil
	}
	s.sendParts(r.reply, parts)
	return nil, nil // sent
}

// clipName shortens a user-given name for a message (events.Echo).
func clipName(s string) string { return events.Echo(s) }
