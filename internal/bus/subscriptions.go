package bus

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
)

// Subscriptions: why one per owned table, and why none of them is a micro
// endpoint.
//
// A request for a table no supervisor owns must get "no responders" at
// once: the server says so only when no subscription matches the subject,
// so a wildcard (<prefix>.kv.*.*) is out and each owned table needs its own
// subscription on each plane (<prefix>.kv.<table>.* and
// <prefix>.cmd.<table>.*). As micro endpoints, each table also added an
// entry to "nats service info" and "nats service stats" (576 KB at 1,000
// tables: past the server's max_payload of 1 MB at about 1,800) and an
// async subscription, which nats.go serves with a goroutine of its own.
// Here every subscription of a plane is a channel subscription delivering
// into the plane's one inbox, read by one goroutine: a table costs two
// server subscriptions and two client Subscription values, no goroutine,
// and nothing in the service discovery replies (BENCHMARKS.md, "Many
// tables: NATS").

// queueGroup is the queue group of every subscription, micro's default:
// two instances serving the same subjects share the requests.
const queueGroup = "q"

// Inbox sizes per plane: messages received and not yet handed to a worker.
// A full inbox drops the request (nats.go reports a slow consumer; the
// requester times out), as a subscription over its pending limit did.
var inboxSize = map[string]int{planeKV: 1 << 16, planeCmd: 1 << 14, planeNode: 1 << 10}

// tableSubs are the two subscriptions of an owned table.
type tableSubs struct{ kv, cmd *nats.Subscription }

// subscribeTable subscribes the kv and cmd subjects of table name; the
// caller holds s.mu.
func (s *Services) subscribeTable(name string) (tableSubs, error) {
	kv, err := s.nc.ChanQueueSubscribe(events.KVSubject(s.opts.Prefix, name, "*"), queueGroup, s.inbox[planeKV])
	if err != nil {
		return tableSubs{}, fmt.Errorf("services: table %s: subscribe %s: %w", name, events.KVSubject(s.opts.Prefix, name, "*"), err)
	}
	cmd, err := s.nc.ChanQueueSubscribe(events.CmdSubject(s.opts.Prefix, name, "*"), queueGroup, s.inbox[planeCmd])
	if err != nil {
		_ = kv.Unsubscribe()
		return tableSubs{}, fmt.Errorf("services: table %s: subscribe %s: %w", name, events.CmdSubject(s.opts.Prefix, name, "*"), err)
	}
	return tableSubs{kv: kv, cmd: cmd}, nil
}

// read hands every message of plane's inbox to the dispatcher until ctx
// ends.
func (s *Services) read(ctx context.Context, plane string) {
	defer s.readers.Done()
	in := s.inbox[plane]
	for {
		select {
		case m := <-in:
			s.dispatch(plane, m)
		case <-ctx.Done():
			return
		}
	}
}

// drainInboxes answers what is left in the inboxes (Stop has begun: each
// gets "supervisor is stopping").
func (s *Services) drainInboxes() {
	for plane, in := range s.inbox {
		for done := false; !done; {
			select {
			case m := <-in:
				s.dispatch(plane, m)
			default:
				done = true
			}
		}
	}
}

// tableOf is the table of a kv or cmd subject (<prefix>.<plane>.<table>.<op>),
// "" for any other subject.
func (s *Services) tableOf(plane, subject string) string {
	head := s.opts.Prefix + "." + plane + "."
	rest, ok := strings.CutPrefix(subject, head)
	if !ok {
		return ""
	}
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return ""
	}
	return rest[:i]
}
