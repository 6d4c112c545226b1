package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
)

// nodeCommand sends verb to every table of node (<prefix>.node.<node>.<verb>
// without "wait": the reply lists each table's command id at once, in
// parts for a node of many tables: see requestNodeReply) and
// follows the commands' outcome events in the event stream, showing tables
// done of total on p, until every table has its outcome. The stream is read
// from the position it had before the request (an ordered consumer: no
// event is missed, however many tables), so an outcome that comes before
// the reply is counted too. The result is the reply "wait" would give:
// each command with its result and outcome event, and the refused tables.
func nodeCommand(ctx context.Context, nc *nats.Conn, prefix, node, verb string, body events.CommandBody, p *nodeProgress) (bus.NodeReply, error) {
	what := fmt.Sprintf("node %s: %s", node, verb)
	js, err := jetstream.New(nc)
	if err != nil {
		return bus.NodeReply{}, fmt.Errorf("%s: %w", what, err)
	}
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return bus.NodeReply{}, fmt.Errorf("%s: %w: stream %s (its events give the progress): %w", what, errUnknownOutcome, events.StreamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return bus.NodeReply{}, fmt.Errorf("%s: %w: stream %s: %w", what, errUnknownOutcome, events.StreamName, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ".events." + node + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    info.State.LastSeq + 1,
	})
	if err != nil {
		return bus.NodeReply{}, fmt.Errorf("%s: %w: follow the events: %w", what, errUnknownOutcome, err)
	}

	body.Wait = false
	payload, err := json.Marshal(body)
	if err != nil {
		return bus.NodeReply{}, err
	}
	rep, err := requestNodeReply(ctx, nc, events.NodeSubject(prefix, node, verb), what, payload)
	if err != nil {
		return bus.NodeReply{}, err
	}

	// The command whose outcome each table waits for: its own, or the one
	// it coalesced with.
	waiting := map[string][]int{}
	for i, c := range rep.Commands {
		id := c.CommandID
		if c.CoalescedWith != "" {
			id = c.CoalescedWith
		}
		waiting[id] = append(waiting[id], i)
	}
	total, done, failed := len(rep.Commands), 0, 0
	show := func() {
		if p.show(done, total, failed, len(rep.Refused)) != nil {
			p.off() // the display is gone: wait without it
		}
	}
	show()
	if total == 0 {
		_ = p.end()
		return rep, nil
	}
	msgs, err := cons.Messages()
	if err != nil {
		return bus.NodeReply{}, fmt.Errorf("%s: %w: follow the events: %w", what, errUnknownOutcome, err)
	}
	got := make(chan jetstream.Msg)
	go func() {
		defer close(got)
		for {
			msg, err := msgs.Next()
			if err != nil {
				return // stopped
			}
			select {
			case got <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		msgs.Stop()
		for range got { // let the reader end
		}
	}()
	for done < total {
		var msg jetstream.Msg
		select {
		case msg = <-got:
		case <-ctx.Done():
		}
		if msg == nil {
			_ = p.end()
			return bus.NodeReply{}, fmt.Errorf("%s: %w: %d of %d tables done when --timeout ended (the commands go on on the supervisor; their events are in the stream)", what, errUnknownOutcome, done, total)
		}
		e, err := events.Unmarshal(msg.Data())
		if err != nil || !outcome(e) {
			continue
		}
		for _, i := range waiting[e.CommandID] {
			c := &rep.Commands[i]
			c.Event = &e
			c.Result = e.Result
			if e.Type == events.CommandRejected || c.Result == "" {
				c.Result = events.ResultFailed
			}
			done++
			if c.Result == events.ResultFailed {
				failed++
			}
		}
		delete(waiting, e.CommandID)
		show()
	}
	_ = p.end()
	return rep, nil
}

// outcome reports whether e ends the command it carries: a completed or
// skipped operation, a final failure, or the command given up without
// running (command.rejected of a queued command: the table went degraded,
// the supervisor stopped).
func outcome(e events.Event) bool {
	switch {
	case e.CommandID == "" || e.Type == events.CommandAccepted:
		return false
	case e.Type == events.CommandRejected:
		return true
	case strings.HasSuffix(e.Type, ".completed"), strings.HasSuffix(e.Type, ".skipped"):
		return true
	}
	return e.Final()
}
