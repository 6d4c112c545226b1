package dashboard

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
)

// POST /api/tables/<t>/restore passes a valid "at" on as it came, refuses
// an invalid one (and "at" on another verb) before anything is sent; drill
// is an action of a table.
func TestActionRestoreAtAndDrill(t *testing.T) {
	e := setup(t, Config{})
	restore := e.respond("users", events.VerbRestore)
	drill := e.respond("users", events.VerbDrill)
	compact := e.respond("users", events.VerbCompact)
	json := map[string]string{"Content-Type": "application/json"}

	var reply events.CommandReply
	body := `{"at":"2026-11-26T10:15:00.5+01:00"}`
	if resp := e.do("POST", "/api/tables/users/restore", strings.NewReader(body), json, &reply); resp.StatusCode != http.StatusAccepted || reply.Verb != "restore" {
		t.Fatalf("restore at: %d %+v", resp.StatusCode, reply)
	}
	if resp := e.do("POST", "/api/tables/users/drill", nil, nil, &reply); resp.StatusCode != http.StatusAccepted || reply.Verb != "drill" || reply.Table != "users" {
		t.Fatalf("drill: %d %+v", resp.StatusCode, reply)
	}
	for _, bad := range []string{
		`{"at":"yesterday"}`,
		`{"at":"2026-11-26 10:15:00"}`,
		`{"at":"2026-11-26T10:15:00"}`, // no offset: whose local time?
		`{"at":""}`,
		`{"at":1764152100}`,
		`{"at":null}`,
	} {
		e.expectError("POST", "/api/tables/users/restore", strings.NewReader(bad), json, 400, "invalid_request")
	}
	e.expectError("POST", "/api/tables/users/compact", strings.NewReader(`{"at":"2026-11-26T10:15:00Z"}`), json, 400, "invalid_request")
	e.expectError("POST", "/api/tables/users/drill", strings.NewReader(`{"at":"2026-11-26T10:15:00Z"}`), json, 400, "invalid_request")

	msgs, _ := restore.requests()
	if len(msgs) != 1 || string(msgs[0].Data) != body {
		t.Fatalf("restore requests %d, first %q; want one with %s", len(msgs), firstData(msgs), body)
	}
	if msgs, _ := drill.requests(); len(msgs) != 1 || msgs[0].Subject != "custodian.cmd.users.drill" {
		t.Fatalf("drill requests: %d", len(msgs))
	}
	if msgs, _ := compact.requests(); len(msgs) != 0 {
		t.Fatalf("a compact with \"at\" reached the supervisor")
	}
}

func firstData(msgs []*nats.Msg) string {
	if len(msgs) == 0 {
		return ""
	}
	return string(msgs[0].Data)
}

// nodeCatcher answers <prefix>.node.<node>.<verb> with a node reply and
// keeps the requests.
type nodeCatcher struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

func (c *nodeCatcher) got() []*nats.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*nats.Msg(nil), c.msgs...)
}

func (e *env) respondNode(node string) *nodeCatcher {
	e.t.Helper()
	c := &nodeCatcher{}
	sub, err := e.nc.Subscribe(prefix+".node."+node+".*", func(m *nats.Msg) {
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
		verb := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		rep := bus.NodeReply{Node: node, Verb: verb, Commands: []bus.CmdReply{}}
		wait := strings.Contains(string(m.Data), `"wait":true`)
		for _, table := range []string{"orders", "users"} {
			cr := bus.CmdReply{CommandReply: events.CommandReply{CommandID: events.NewID(), Accepted: true, Table: table, Verb: verb}}
			if wait {
				cr.Result = events.ResultOK
			}
			rep.Commands = append(rep.Commands, cr)
		}
		b, _ := json.Marshal(rep)
		_ = m.Respond(b)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return c
}

// POST /api/nodes/<node>/<verb> requests custodian.node.<node>.<verb> for
// compact, backup, verify and drill, with the token rule of every POST; a
// bad node name or verb is 400 and sends nothing.
func TestNodeActions(t *testing.T) {
	e := setup(t, Config{AdminToken: "tok"})
	n1 := e.respondNode("n1")
	auth := map[string]string{"Authorization": "Bearer tok"}

	for _, verb := range []string{"compact", "backup", "verify", "drill"} {
		var rep bus.NodeReply
		resp := e.do("POST", "/api/nodes/n1/"+verb, nil, auth, &rep)
		if resp.StatusCode != http.StatusAccepted || rep.Node != "n1" || rep.Verb != verb || len(rep.Commands) != 2 || rep.Commands[0].CommandID == "" {
			t.Fatalf("node %s: %d %+v", verb, resp.StatusCode, rep)
		}
	}
	var rep bus.NodeReply
	if resp := e.do("POST", "/api/nodes/n1/backup", strings.NewReader(`{"wait":true}`), auth, &rep); resp.StatusCode != http.StatusOK || rep.Commands[1].Result != "ok" {
		t.Fatalf("node backup with wait: %d %+v", resp.StatusCode, rep)
	}
	got := n1.got()
	var subjects []string
	for _, m := range got {
		subjects = append(subjects, m.Subject)
	}
	if strings.Join(subjects, " ") != "custodian.node.n1.compact custodian.node.n1.backup custodian.node.n1.verify custodian.node.n1.drill custodian.node.n1.backup" {
		t.Fatalf("subjects requested: %v", subjects)
	}
	if string(got[4].Data) != `{"wait":true}` {
		t.Fatalf("body passed on: %q", got[4].Data)
	}

	// The token rule.
	e.expectError("POST", "/api/nodes/n1/compact", nil, nil, 401, "unauthorized")
	e.expectError("POST", "/api/nodes/n1/compact", nil, map[string]string{"Authorization": "Bearer wrong"}, 401, "unauthorized")
	// Bad names and verbs: 400, nothing sent.
	for _, path := range []string{
		"/api/nodes/n1/restore", "/api/nodes/n1/salvage", "/api/nodes/n1/create", "/api/nodes/n1/status", "/api/nodes/n1/explode",
		"/api/nodes/-n1/compact", "/api/nodes/n%2A/compact", "/api/nodes/n.1/compact", "/api/nodes/" + strings.Repeat("n", 65) + "/compact",
	} {
		e.expectError("POST", path, nil, auth, 400, "invalid_request")
	}
	e.expectError("POST", "/api/nodes/n1/compact", strings.NewReader(`{"at":"2026-11-26T10:15:00Z"}`), auth, 400, "invalid_request")
	e.expectError("POST", "/api/nodes/n1/compact", strings.NewReader(`[1]`), auth, 400, "invalid_request")
	if n := len(n1.got()); n != 5 {
		t.Fatalf("refused requests reached the supervisor: %d requests", n)
	}
	// A node nobody runs.
	e.expectError("POST", "/api/nodes/n2/compact", nil, auth, 404, "not_found")
	// Other methods: 405 with Allow: POST.
	var ae apiError
	resp := e.do("GET", "/api/nodes/n1/drill", nil, nil, &ae)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || ae.Error.Code != "method_not_allowed" {
		t.Fatalf("GET /api/nodes/n1/drill: %d %q %+v", resp.StatusCode, resp.Header.Get("Allow"), ae)
	}
}
