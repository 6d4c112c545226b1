package bus

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// TestNodeReplyParts: a reply over the bound is cut into parts under it
// that hold every command then every refusal once, in order, each part
// with the counts of the whole; a reply that fits is one part; an item
// larger than a part goes alone.
func TestNodeReplyParts(t *testing.T) {
	rep := NodeReply{Node: "n1", Verb: "compact", Failed: 3}
	for i := range 300 {
		rep.Commands = append(rep.Commands, CmdReply{CommandReply: events.CommandReply{
			CommandID: events.NewID(), Accepted: true, Table: fmt.Sprintf("t%03d", i), Verb: "compact"}})
	}
	for i := range 40 {
		rep.Refused = append(rep.Refused, TableError{Table: fmt.Sprintf("r%03d", i), Error: ErrorDetail{Code: apierr.Busy, Message: "queue full"}})
	}
	rep.Refused[39].Error.Message = strings.Repeat("x", 40<<10) // alone in its part
	rep.Total, rep.RefusedTotal = len(rep.Commands), len(rep.Refused)

	const bound = 32 << 10
	parts, err := nodeReplyParts(rep, bound)
	if err != nil {
		t.Fatal(err)
	}
	var got NodeReply
	for i, b := range parts {
		var p NodeReply
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		last := i == len(parts)-1
		if (len(b) > bound && !last) || p.Part != i+1 || p.Parts != len(parts) || p.Total != 300 || p.RefusedTotal != 40 || p.Failed != 3 || p.Commands == nil {
			t.Fatalf("part %d: %d bytes, %d of %d, counts %d %d %d", i+1, len(b), p.Part, p.Parts, p.Total, p.RefusedTotal, p.Failed)
		}
		if last && (len(p.Refused) != 1 || len(p.Commands) != 0) {
			t.Fatalf("last part: %d commands, %d refused: the large refusal goes alone", len(p.Commands), len(p.Refused))
		}
		got.Commands = append(got.Commands, p.Commands...)
		got.Refused = append(got.Refused, p.Refused...)
	}
	if len(parts) < 3 || len(got.Commands) != 300 || len(got.Refused) != 40 {
		t.Fatalf("%d parts, %d commands, %d refused", len(parts), len(got.Commands), len(got.Refused))
	}
	for i, c := range got.Commands {
		if c.CommandID != rep.Commands[i].CommandID {
			t.Fatalf("command %d: %s, want %s", i, c.CommandID, rep.Commands[i].CommandID)
		}
	}
	for i, r := range got.Refused {
		if r != rep.Refused[i] {
			t.Fatalf("refusal %d: %+v", i, r)
		}
	}

	// A reply that fits: one part with everything.
	small := NodeReply{Node: "n1", Verb: "verify", Total: 2, Commands: rep.Commands[:2]}
	parts, err = nodeReplyParts(small, bound)
	if err != nil || len(parts) != 1 {
		t.Fatalf("small reply: %d parts, %v", len(parts), err)
	}
	var one NodeReply
	if err := json.Unmarshal(parts[0], &one); err != nil || one.Part != 1 || one.Parts != 1 || len(one.Commands) != 2 || one.Refused != nil {
		t.Fatalf("small reply: %s", parts[0])
	}
	// No tables: one part, an empty list of commands.
	parts, _ = nodeReplyParts(NodeReply{Node: "n1", Verb: "drill"}, bound)
	if len(parts) != 1 || !strings.Contains(string(parts[0]), `"commands":[]`) {
		t.Fatalf("no tables: %s", parts)
	}
}
