package bus

import (
	"encoding/json"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// maxNodeReply bounds one message of a node reply (node status, and each
// part of a node compact|backup|verify|drill reply), far below the 1 MB
// max_payload a standalone nats-server has by default: a reply that grew
// with the tables (about 300 bytes a table for status, 150 a command)
// broke at a few thousand tables, the publish failing and the requester
// timing out. The bound holds whatever the server allows (the embedded one
// allows 8 MB), so that a reply also crosses a cluster, leaf node or
// gateway set to the default.
const maxNodeReply = 256 << 10

// nodeReplyEnvelope is room kept in a node reply for what is not a table
// or command: the node's figures, counts, failing reasons, part numbers.
const nodeReplyEnvelope = 16 << 10

// nodeReplyBound is the size bound of one node reply message:
// maxNodeReply, or half the server's max_payload when that is smaller.
func (s *Services) nodeReplyBound() int {
	bound := maxNodeReply
	if mp := int(s.nc.MaxPayload() / 2); mp > 0 && mp < bound {
		bound = mp
	}
	return bound
}

// nodeReplyWire is a NodeReply with its commands and refusals already
// encoded.
type nodeReplyWire struct {
	Node         string            `json:"node"`
	Verb         string            `json:"verb"`
	Total        int               `json:"total"`
	RefusedTotal int               `json:"refused_total"`
	Failed       int               `json:"failed,omitempty"`
	Part         int               `json:"part"`
	Parts        int               `json:"parts"`
	Commands     []json.RawMessage `json:"commands"`
	Refused      []json.RawMessage `json:"refused,omitempty"`
}

// nodeReplyParts encodes rep as messages of at most bound bytes each: the
// commands, then the refusals, in order, as many per part as fit (a single
// item larger than a part goes alone in its own). Part 1 always exists; a
// reply that fits is one part, the shape of the reply before parts
// existed plus the counts.
func nodeReplyParts(rep NodeReply, bound int) ([][]byte, error) {
	encode := func(v any) (json.RawMessage, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, apierr.Wrap(apierr.Internal, err, "node %s: %s: encode reply", rep.Node, rep.Verb)
		}
		return b, nil
	}
	room := max(bound-nodeReplyEnvelope, bound/2)
	type part struct{ commands, refused []json.RawMessage }
	parts := []part{{commands: []json.RawMessage{}}}
	used := 0
	add := func(item json.RawMessage, refused bool) {
		p := &parts[len(parts)-1]
		if used > 0 && used+len(item)+1 > room {
			parts = append(parts, part{commands: []json.RawMessage{}})
			p, used = &parts[len(parts)-1], 0
		}
		used += len(item) + 1
		if refused {
			p.refused = append(p.refused, item)
		} else {
			p.commands = append(p.commands, item)
		}
	}
	for _, c := range rep.Commands {
		b, err := encode(c)
		if err != nil {
			return nil, err
		}
		add(b, false)
	}
	for _, r := range rep.Refused {
		b, err := encode(r)
		if err != nil {
			return nil, err
		}
		add(b, true)
	}
	out := make([][]byte, 0, len(parts))
	for i, p := range parts {
		b, err := encode(nodeReplyWire{Node: rep.Node, Verb: rep.Verb, Total: rep.Total, RefusedTotal: rep.RefusedTotal, Failed: rep.Failed,
			Part: i + 1, Parts: len(parts), Commands: p.commands, Refused: p.refused})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// sendParts publishes the parts of a node reply in order. nats.go keeps
// the order of one connection's messages to one subscriber. A failed
// publish cannot be reported to anyone (see send): the requester finds
// the part missing.
func (s *Services) sendParts(reply string, parts [][]byte) {
	for _, p := range parts {
		if err := s.nc.Publish(reply, p); err != nil {
			return
		}
	}
}
