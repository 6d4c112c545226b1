package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/supervisor"
)

// manyTables lists extra table names besides the supervisor's own: the
// services subscribe every one of them, as they would for a supervisor
// that owns that many (this branch's supervisor holds every table open, so
// 10,000 real ones would need about 37 GB). A request for a listed name
// reaches the real supervisor, which answers not_found for the extra ones.
type manyTables struct {
	*supervisor.Supervisor
	extra []string
}

func (m manyTables) Tables() []string {
	return append(m.Supervisor.Tables(), m.extra...)
}

// tableNames are n names t00000, t00001, ...
func tableNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%05d", i)
	}
	return out
}

// natsCLI is the path of the nats CLI, or "" when it is not installed.
func natsCLI() string {
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	if _, err := os.Stat("/root/go/bin/nats"); err == nil {
		return "/root/go/bin/nats"
	}
	return ""
}

// TestTenThousandTablesNATS: a node with 10,000 tables still answers
// service discovery within the server's max_payload (micro endpoints per
// table made "nats service info" 576 KB at 1,000 tables), its tables
// answer, and a table no supervisor owns still gets "no responders".
func TestTenThousandTablesNATS(t *testing.T) {
	const total = 10_000
	extra := tableNames(total - 1)
	n := startNode(t, nodeOptions{
		tables:  []string{"users"},
		backend: func(s *supervisor.Supervisor) Backend { return manyTables{s, extra} },
	})
	// A discovery reply must not grow with the tables: a standalone
	// nats-server refuses messages over its default max_payload of 1 MB
	// (server.MAX_PAYLOAD_SIZE), which per-table micro endpoints passed at
	// about 1,800 tables. One endpoint per service: a few hundred bytes.
	const max = 4 << 10

	// Every table has its two subscriptions on the server.
	if subs := n.srv.srv.NumSubscriptions(); subs < 2*total {
		t.Fatalf("server has %d subscriptions, want at least %d (kv and cmd of %d tables)", subs, 2*total, total)
	}
	// The owned tables answer: the real one, and a listed one (the
	// supervisor does not have it: not_found, but from a subscriber).
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
	if r := n.request(t, "custodian.kv.t09998.get", `{"key":"a"}`); r.errCode() != "not_found" {
		t.Fatalf("listed table: %s", r.msg.Data)
	}
	if r := n.request(t, "custodian.cmd.t00000.status", nil); r.errCode() != "not_found" {
		t.Fatalf("listed table command: %s", r.msg.Data)
	}
	// Unowned tables: no responders, at once.
	for _, subj := range []string{"custodian.kv.unowned.get", "custodian.cmd.unowned.compact", "custodian.kv.t10000.get"} {
		if _, err := n.client.Request(subj, []byte(`{"key":"a"}`), 5*time.Second); !isNoResponders(err) {
			t.Fatalf("%s: %v, want no responders", subj, err)
		}
	}

	// Discovery over NATS: every reply fits max_payload and counts the
	// tables.
	for _, name := range []string{ServiceKV, ServiceCmd, ServiceNode} {
		m, err := n.client.Request("$SRV.INFO."+name, nil, 10*time.Second)
		if err != nil {
			t.Fatalf("$SRV.INFO.%s: %v", name, err)
		}
		var info micro.Info
		if err := json.Unmarshal(m.Data, &info); err != nil || len(m.Data) > max {
			t.Fatalf("$SRV.INFO.%s: %d bytes (want <= %d): %v", name, len(m.Data), max, err)
		}
		m, err = n.client.Request("$SRV.STATS."+name, nil, 10*time.Second)
		if err != nil {
			t.Fatalf("$SRV.STATS.%s: %v", name, err)
		}
		var st micro.Stats
		if err := json.Unmarshal(m.Data, &st); err != nil || len(m.Data) > max || len(st.Endpoints) != 1 {
			t.Fatalf("$SRV.STATS.%s: %d bytes (want <= %d): %v %s", name, len(m.Data), max, err, m.Data)
		}
		if name != ServiceNode && info.Endpoints[0].Metadata["tables"] != fmt.Sprint(total) {
			t.Fatalf("%s: tables %q, want %d", name, info.Endpoints[0].Metadata["tables"], total)
		}
	}

	// The real CLI.
	cli := natsCLI()
	if cli == "" {
		t.Log("nats CLI not installed: its part is not run")
		return
	}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args = append([]string{"--server", n.srv.ClientURL(), "--timeout", "10s"}, args...)
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ls := run("service", "ls", "--json")
	var listed []micro.Info
	if err := json.Unmarshal([]byte(ls), &listed); err != nil {
		t.Fatalf("nats service ls --json: %v\n%s", err, ls)
	}
	var names []string
	for _, info := range listed {
		names = append(names, info.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{ServiceCmd, ServiceKV, ServiceNode}) {
		t.Fatalf("nats service ls: %v", names)
	}
	var both struct {
		Info  micro.Info  `json:"info"`
		Stats micro.Stats `json:"stats"`
	}
	out := run("service", "info", ServiceKV, "--json")
	if err := json.Unmarshal([]byte(out), &both); err != nil || both.Info.Name != ServiceKV || len(both.Stats.Endpoints) != 1 {
		t.Fatalf("nats service info %s --json: %v\n%.2000s", ServiceKV, err, out)
	}
	var data EndpointStats
	if err := json.Unmarshal(both.Stats.Endpoints[0].Data, &data); err != nil || data.Tables != total || both.Stats.Endpoints[0].NumRequests < 2 {
		t.Fatalf("nats service info %s: endpoint stats %+v %s", ServiceKV, both.Stats.Endpoints[0], both.Stats.Endpoints[0].Data)
	}
	if out := run("service", "info", ServiceCmd); !strings.Contains(out, "custodian.cmd.*.*") {
		t.Fatalf("nats service info %s:\n%s", ServiceCmd, out)
	}
	if out := run("service", "stats", ServiceKV); !strings.Contains(out, "tables") {
		t.Fatalf("nats service stats %s:\n%s", ServiceKV, out)
	}
	if out := run("service", "stats", ServiceCmd, "--json"); !strings.Contains(out, `"num_requests"`) {
		t.Fatalf("nats service stats %s --json:\n%s", ServiceCmd, out)
	}
}
