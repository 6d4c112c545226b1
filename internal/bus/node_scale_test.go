package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// seedTables prepares a store of len(names) real tables: one table is
// created and closed cleanly, then its files are copied under every name
// (creating 10,000 goleveldb tables one by one takes minutes on a slow
// disk; a copy of a closed one is the same table). The store goes to
// /dev/shm when there is one: 30,000 small files cost seconds there and
// far more on the disk of a loaded machine.
func seedTables(names []string) func(t testing.TB) (string, []string) {
	return func(t testing.TB) (string, []string) {
		t.Helper()
		root := t.TempDir()
		if d, err := os.MkdirTemp("/dev/shm", "custodian-test-"); err == nil {
			root = d
			t.Cleanup(func() { _ = os.RemoveAll(d) })
		}
		st, err := tables.OpenStore(root, tables.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Open(context.Background(), "seed", true); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		seed := filepath.Join(root, "tables", "seed")
		ents, err := os.ReadDir(seed)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, e := range ents {
			if e.Name() == "LOG" || e.Name() == "LOCK" || strings.HasSuffix(e.Name(), ".bak") {
				continue // goleveldb makes them again
			}
			if files[e.Name()], err = os.ReadFile(filepath.Join(seed, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.RemoveAll(seed); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			d := filepath.Join(root, "tables", n)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for f, b := range files {
				if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		return root, names
	}
}

// TestNodeRepliesAtTenThousandTables: a node of 10,000 real tables behind
// a server with the default max_payload of 1 MB answers node status (one
// page under the bound, counts of all, the degraded table first, pages
// that cover every table once) and node compact (parts under the bound,
// every command listed once over the parts, progress countable from the
// outcome events). Before pages and parts, both replies were over 1 MB:
// their publish failed and the requests timed out.
func TestNodeRepliesAtTenThousandTables(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 tables")
	}
	const total = 10_000
	n := startNode(t, nodeOptions{maxPayload: 1 << 20, seed: seedTables(tenantNames(total))})
	if mp := n.client.MaxPayload(); mp != 1<<20 {
		t.Fatalf("server max_payload %d, want the default 1 MB", mp)
	}
	sick, err := n.sup.Table("tenant-07777")
	if err != nil {
		t.Fatal(err)
	}
	sick.SetUnavailable(tables.ReasonDegraded)

	status := func(body string) (supervisor.NodeStatus, int) {
		t.Helper()
		r := n.request(t, "custodian.node.n1.status", body)
		if r.errCode() != "" {
			t.Fatalf("node status %s: %s", body, r.msg.Data)
		}
		var ns supervisor.NodeStatus
		if err := json.Unmarshal(r.msg.Data, &ns); err != nil {
			t.Fatal(err)
		}
		return ns, len(r.msg.Data)
	}

	// No body: the first page, the counts of every table.
	ns, size := status("")
	if size > maxNodeReply {
		t.Fatalf("node status: %d bytes, want at most %d", size, maxNodeReply)
	}
	if ns.TableCount != total || ns.Counts[supervisor.StateDegraded] != 1 || ns.Counts[supervisor.StateOK] != total-1 {
		t.Fatalf("node status: %d tables, counts %v", ns.TableCount, ns.Counts)
	}
	if len(ns.Tables) == 0 || len(ns.Tables) > DefaultNodeStatusLimit || !ns.Truncated || ns.NextOffset != len(ns.Tables) {
		t.Fatalf("node status: page of %d, truncated %v, next %d", len(ns.Tables), ns.Truncated, ns.NextOffset)
	}
	if ns.Tables[0].Table != "tenant-07777" || ns.Tables[0].State != supervisor.StateDegraded || ns.Tables[1].Table != "tenant-00000" {
		t.Fatalf("node status: first tables %s %s, %s: want the degraded one first", ns.Tables[0].Table, ns.Tables[0].State, ns.Tables[1].Table)
	}

	// Every page under the bound; together every table once, in order.
	want := append([]string{"tenant-07777"}, slices.DeleteFunc(tenantNames(total), func(s string) bool { return s == "tenant-07777" })...)
	var got []string
	for off, pages := 0, 0; ; pages++ {
		ns, size := status(fmt.Sprintf(`{"limit":%d,"offset":%d}`, MaxNodeStatusLimit, off))
		if size > maxNodeReply || ns.Offset != off || ns.TableCount != total {
			t.Fatalf("page at %d: %d bytes, offset %d, %d tables", off, size, ns.Offset, ns.TableCount)
		}
		for _, ts := range ns.Tables {
			got = append(got, ts.Table)
		}
		if !ns.Truncated {
			break
		}
		if ns.NextOffset != off+len(ns.Tables) || pages > total {
			t.Fatalf("page at %d: next %d after %d tables", off, ns.NextOffset, len(ns.Tables))
		}
		off = ns.NextOffset
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages hold %d tables, want %d in order (first %v)", len(got), len(want), got[:min(3, len(got))])
	}
	// A state, and past the end.
	if ns, _ := status(`{"state":"degraded"}`); len(ns.Tables) != 1 || ns.Tables[0].Table != "tenant-07777" || ns.Truncated {
		t.Fatalf("degraded page: %+v", ns.Tables)
	}
	if ns, _ := status(`{"offset":20000}`); len(ns.Tables) != 0 || ns.Truncated || ns.TableCount != total {
		t.Fatalf("page past the end: %d tables, truncated %v", len(ns.Tables), ns.Truncated)
	}
	// Bad bodies: invalid_request, with what is wrong.
	for body, says := range map[string]string{
		`{"limit":0}`:                 "limit 0",
		`{"limit":5000}`:              "limit 5000",
		`{"offset":-1}`:               "offset -1",
		`{"state":"sleepy"}`:          "state \"sleepy\"",
		`{"limit":"10"}`:              "limit",
		`{"tables":["tenant-00001"]}`: "tables",
		`[1]`:                         "not a JSON object",
	} {
		r := n.request(t, "custodian.node.n1.status", body)
		msg, _ := r.body["error"].(map[string]any)["message"].(string)
		if r.errCode() != string(apierr.InvalidRequest) || !strings.Contains(msg, says) {
			t.Fatalf("node status %s: %s, want invalid_request naming %q", body, r.msg.Data, says)
		}
	}

	// node compact: the reply in parts under the bound.
	js := newJS(t, n.client)
	stream, err := js.Stream(t.Context(), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	inbox := n.client.NewInbox()
	sub, err := n.client.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.client.PublishRequest("custodian.node.n1.compact", inbox, nil); err != nil {
		t.Fatal(err)
	}
	var rep NodeReply
	firstPart := 0
	for part := 1; part == 1 || part <= rep.Parts; part++ {
		m, err := sub.NextMsg(2 * time.Minute)
		if err != nil {
			t.Fatalf("part %d: %v", part, err)
		}
		var p NodeReply
		if err := json.Unmarshal(m.Data, &p); err != nil || len(m.Data) > maxNodeReply {
			t.Fatalf("part %d: %d bytes: %v", part, len(m.Data), err)
		}
		if p.Part != part || p.Total != total-1 || p.RefusedTotal != 1 || (part > 1 && p.Parts != rep.Parts) {
			t.Fatalf("part %d: part %d of %d, total %d, refused %d", part, p.Part, p.Parts, p.Total, p.RefusedTotal)
		}
		if part == 1 {
			rep, firstPart = p, len(p.Commands)
			continue
		}
		rep.Commands = append(rep.Commands, p.Commands...)
		rep.Refused = append(rep.Refused, p.Refused...)
	}
	if rep.Parts < 2 || len(rep.Commands) != total-1 || len(rep.Refused) != 1 || rep.Refused[0].Table != "tenant-07777" ||
		rep.Refused[0].Error.Code != apierr.TableUnavailable {
		t.Fatalf("compact: %d parts, %d commands, refused %+v", rep.Parts, len(rep.Commands), rep.Refused)
	}
	t.Logf("node status: first page %d tables in %d bytes; node compact: %d parts, %d commands in part 1", len(ns.Tables), size, rep.Parts, firstPart)
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("a message after the last part: %.200s", m.Data)
	}

	// Progress: every command's outcome, counted from the events.
	waiting := map[string]string{}
	for _, c := range rep.Commands {
		id := c.CommandID
		if c.CoalescedWith != "" {
			id = c.CoalescedWith
		}
		if c.Verb != events.VerbCompact || !c.Accepted || waiting[id] != "" {
			t.Fatalf("command %+v", c)
		}
		waiting[id] = c.Table
	}
	cons, err := stream.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"custodian.events.n1.>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    info.State.LastSeq + 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.outbox.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer msgs.Stop()
	for done := 0; done < len(rep.Commands); {
		m, err := msgs.Next(jetstream.NextMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("%d of %d tables done: %v", done, len(rep.Commands), err)
		}
		e, err := events.Unmarshal(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if table, ok := waiting[e.CommandID]; ok && isOutcome(e) {
			if e.Table != table {
				t.Fatalf("outcome of %s's command on %s", table, e.Table)
			}
			delete(waiting, e.CommandID)
			done++
		}
	}
}

// tenantNames are n names tenant-00000, tenant-00001, ...: a node of one
// table per tenant. (With these names the node compact reply of 10,000
// tables, without parts, was 1.1 MB.)
func tenantNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("tenant-%05d", i)
	}
	return out
}

// isOutcome reports whether e ends its command (as supervisor cmd --node
// counts it).
func isOutcome(e events.Event) bool {
	switch {
	case e.CommandID == "" || e.Type == events.CommandAccepted:
		return false
	case e.Type == events.CommandRejected, strings.HasSuffix(e.Type, ".completed"), strings.HasSuffix(e.Type, ".skipped"):
		return true
	}
	return e.Final()
}
