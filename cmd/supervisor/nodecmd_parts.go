package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/bus"
)

// requestNodeReply sends payload to subject and reads the node's reply: one
// message, or, for a node whose reply passes the supervisor's bound (about
// 2,200 tables without wait), bus.NodeReply.Parts messages in order, which
// it joins into one reply with every command and refusal. what names the
// request in errors. A supervisor from before parts answers one message
// without total: its lists are the whole reply.
func requestNodeReply(ctx context.Context, nc *nats.Conn, subject, what string, payload []byte) (bus.NodeReply, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return bus.NodeReply{}, fmt.Errorf("%s: %w: %w", what, errUnknownOutcome, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(subject, inbox, payload); err != nil {
		return bus.NodeReply{}, fmt.Errorf("%s: %w: %w", what, errUnknownOutcome, err)
	}
	var rep bus.NodeReply
	for part := 1; ; part++ {
		m, err := sub.NextMsgWithContext(ctx)
		switch {
		case errors.Is(err, nats.ErrNoResponders) && part == 1:
			return bus.NodeReply{}, fmt.Errorf("%s: no supervisor serves the node (no responders on %s)", what, subject)
		case errors.Is(err, context.DeadlineExceeded) && part == 1:
			return bus.NodeReply{}, fmt.Errorf("%s: %w: no reply within --timeout", what, errUnknownOutcome)
		case errors.Is(err, context.DeadlineExceeded):
			return bus.NodeReply{}, fmt.Errorf("%s: %w: part %d of %d of the reply missing at --timeout", what, errUnknownOutcome, part, rep.Parts)
		case err != nil:
			return bus.NodeReply{}, fmt.Errorf("%s: %w: %w", what, errUnknownOutcome, err)
		}
		if m.Header.Get(micro.ErrorCodeHeader) != "" {
			var eb bus.ErrorBody
			if jerr := json.Unmarshal(m.Data, &eb); jerr != nil || eb.Error.Code == "" {
				return bus.NodeReply{}, fmt.Errorf("%s: %s", what, m.Header.Get(micro.ErrorHeader))
			}
			return bus.NodeReply{}, fmt.Errorf("%s: %s: %s", what, eb.Error.Code, eb.Error.Message)
		}
		var p bus.NodeReply
		if err := json.Unmarshal(m.Data, &p); err != nil {
			return bus.NodeReply{}, fmt.Errorf("%s: reply is not JSON: %w", what, err)
		}
		if part == 1 {
			if p.Parts == 0 { // one message, from a supervisor without parts
				p.Total, p.RefusedTotal, p.Parts = len(p.Commands), len(p.Refused), 1
			}
			rep = p
			rep.Part = 0
		} else {
			if p.Part != part || p.Parts != rep.Parts || p.Node != rep.Node || p.Verb != rep.Verb {
				return bus.NodeReply{}, fmt.Errorf("%s: %w: part %d of %d of the reply came as part %d of %d", what, errUnknownOutcome, part, rep.Parts, p.Part, p.Parts)
			}
			rep.Commands = append(rep.Commands, p.Commands...)
			rep.Refused = append(rep.Refused, p.Refused...)
		}
		if part >= rep.Parts {
			break
		}
	}
	if len(rep.Commands) != rep.Total || len(rep.Refused) != rep.RefusedTotal {
		return bus.NodeReply{}, fmt.Errorf("%s: %w: the reply's %d parts hold %d commands and %d refusals, it says %d and %d",
			what, errUnknownOutcome, rep.Parts, len(rep.Commands), len(rep.Refused), rep.Total, rep.RefusedTotal)
	}
	return rep, nil
}
