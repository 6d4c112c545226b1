package bus

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestDataPlaneEverySubject(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})

	if got := n.ok(t, "custodian.kv.users.put", `{"key":"u1","value":{"name":"ada","n":1}}`); got["ok"] != true || got["key"] != "u1" {
		t.Fatalf("put reply %v", got)
	}
	got := n.ok(t, "custodian.kv.users.get", `{"key":"u1"}`)
	if got["key"] != "u1" || fmt.Sprint(got["value"]) != "map[n:1 name:ada]" {
		t.Fatalf("get reply %v", got)
	}
	// Any JSON value: string, number, array, null.
	for i, v := range []string{`"s"`, `3.5`, `[1,2]`, `true`, `null`} {
		n.ok(t, "custodian.kv.users.put", fmt.Sprintf(`{"key":"v%d","value":%s}`, i, v))
		raw := n.request(t, "custodian.kv.users.get", fmt.Sprintf(`{"key":"v%d"}`, i)).msg.Data
		var gr GetReply
		if err := json.Unmarshal(raw, &gr); err != nil || string(gr.Value) != v {
			t.Fatalf("value %s came back as %s (%v)", v, gr.Value, err)
		}
	}
	n.ok(t, "custodian.kv.users.delete", `{"key":"u1"}`)
	if r := n.request(t, "custodian.kv.users.get", `{"key":"u1"}`); r.errCode() != "not_found" || r.msg.Header.Get(micro.ErrorCodeHeader) != "404" {
		t.Fatalf("get after delete: %s %v", r.msg.Data, r.msg.Header)
	}
	if got := n.ok(t, "custodian.kv.users.batch", `{"ops":[{"op":"put","key":"a1","value":1},{"op":"put","key":"a2","value":2},{"op":"put","key":"a3","value":3},{"op":"delete","key":"v0"}]}`); got["ops"] != float64(4) {
		t.Fatalf("batch reply %v", got)
	}
	if r := n.request(t, "custodian.kv.users.get", `{"key":"v0"}`); r.errCode() != "not_found" {
		t.Fatalf("batch delete not applied: %s", r.msg.Data)
	}
	page := n.ok(t, "custodian.kv.users.scan", `{"prefix":"a","limit":2}`)
	items, _ := page["items"].([]any)
	if len(items) != 2 || page["next"] != "a2" {
		t.Fatalf("scan page 1: %v", page)
	}
	page = n.ok(t, "custodian.kv.users.scan", `{"prefix":"a","after":"a2","limit":2}`)
	items, _ = page["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["key"] != "a3" || items[0].(map[string]any)["value"] != float64(3) || page["next"] != nil {
		t.Fatalf("scan page 2: %v", page)
	}
	all := n.ok(t, "custodian.kv.users.scan", "")
	if items, _ := all["items"].([]any); len(items) != 7 {
		t.Fatalf("scan with no body: %v", all)
	}
	empty := n.ok(t, "custodian.kv.users.scan", `{"prefix":"zzz"}`)
	if items, ok := empty["items"].([]any); !ok || len(items) != 0 {
		t.Fatalf("empty scan must give items: [] : %v", empty)
	}

	// A table this node does not own: no responders at once.
	if _, err := n.client.Request("custodian.kv.other.get", []byte(`{"key":"a"}`), 5*time.Second); !isNoResponders(err) {
		t.Fatalf("unowned table: %v", err)
	}
	if _, err := n.client.Request("custodian.cmd.other.compact", nil, 5*time.Second); !isNoResponders(err) {
		t.Fatalf("unowned table command: %v", err)
	}
	if _, err := n.client.Request("custodian.node.n2.status", nil, 5*time.Second); !isNoResponders(err) {
		t.Fatalf("other node: %v", err)
	}
}

func TestDataPlaneConcurrentClients(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for c := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				key := fmt.Sprintf("c%d-%d", c, i)
				if _, err := n.client.Request("custodian.kv.users.put", fmt.Appendf(nil, `{"key":%q,"value":%d}`, key, i), 30*time.Second); err != nil {
					errs <- err
					return
				}
				m, err := n.client.Request("custodian.kv.users.get", fmt.Appendf(nil, `{"key":%q}`, key), 30*time.Second)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf(`{"key":%q,"value":%d}`, key, i); string(m.Data) != want {
					errs <- fmt.Errorf("got %s, want %s", m.Data, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSlowCommandDoesNotBlockOthers holds a backup inside tables (at its
// first failpoint) while status, another command's reply and data-plane
// requests on the same table must still be answered.
func TestSlowCommandDoesNotBlockOthers(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var once sync.Once
	n := startNode(t, nodeOptions{tables: []string{"users"}, failpoint: func(name string) {
		if name == "backup.before-copy" {
			once.Do(func() {
				entered <- struct{}{}
				<-release
			})
		}
	}})
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
	type result struct {
		m   *nats.Msg
		err error
	}
	slow := make(chan result, 1)
	go func() {
		m, err := n.client.Request("custodian.cmd.users.backup", []byte(`{"wait":true}`), 60*time.Second)
		slow <- result{m, err}
	}()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("backup never started")
	}
	st := n.ok(t, "custodian.cmd.users.status", nil)
	if st["status"].(map[string]any)["state"] != "backing_up" {
		t.Fatalf("status while backing up: %v", st)
	}
	n.ok(t, "custodian.kv.users.put", `{"key":"b","value":2}`)
	n.ok(t, "custodian.kv.users.get", `{"key":"a"}`)
	queued := n.ok(t, "custodian.cmd.users.verify", nil)
	if queued["accepted"] != true {
		t.Fatalf("verify while backing up: %v", queued)
	}
	select {
	case r := <-slow:
		t.Fatalf("backup answered before it finished: %v %s", r.err, r.m.Data)
	default:
	}
	close(release)
	r := <-slow
	if r.err != nil {
		t.Fatal(r.err)
	}
	var rep CmdReply
	if err := json.Unmarshal(r.m.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Result != "ok" || rep.Event == nil || rep.Event.Type != events.BackupCompleted || rep.Event.CommandID != rep.CommandID {
		t.Fatalf("backup reply %s", r.m.Data)
	}
}

func TestCommandsWithAndWithoutWait(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	for i := range 50 {
		n.ok(t, "custodian.kv.users.put", fmt.Sprintf(`{"key":"k%02d","value":%d}`, i, i))
	}
	// Without wait: accepted at once with a UUID.
	acc := n.ok(t, "custodian.cmd.users.compact", `{"force":true}`)
	id, _ := acc["command_id"].(string)
	if _, err := uuid.Parse(id); err != nil || acc["accepted"] != true || acc["table"] != "users" || acc["verb"] != "compact" {
		t.Fatalf("compact reply %v", acc)
	}
	if _, ok := acc["result"]; ok {
		t.Fatalf("reply without wait has a result: %v", acc)
	}
	n.waitEvent(t, func(e events.Event) bool { return e.Type == events.CommandAccepted && e.CommandID == id })
	n.waitEvent(t, func(e events.Event) bool { return e.Type == events.CompactionCompleted && e.CommandID == id })

	// With wait: result and outcome event.
	for _, c := range []struct{ verb, body, outcome string }{
		{"compact", `{"force":true,"mode":"rewrite","wait":true}`, events.CompactionCompleted},
		{"compact", `{"mode":"native","wait":true}`, ""}, // completed or skipped: the threshold decides
		{"backup", `{"wait":true}`, events.BackupCompleted},
		{"verify", `{"wait":true}`, events.VerifyCompleted},
	} {
		var rep CmdReply
		raw := n.request(t, "custodian.cmd.users."+c.verb, c.body).msg.Data
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatal(err)
		}
		if !rep.Accepted || rep.Event == nil || rep.Event.CommandID != rep.CommandID || rep.Event.Table != "users" || rep.Event.Node != "n1" {
			t.Fatalf("%s %s: %s", c.verb, c.body, raw)
		}
		if c.outcome != "" && (rep.Event.Type != c.outcome || rep.Result != "ok") {
			t.Fatalf("%s %s: outcome %s result %s", c.verb, c.body, rep.Event.Type, rep.Result)
		}
		if c.outcome == "" && rep.Result != "ok" && rep.Result != "skipped" {
			t.Fatalf("%s %s: result %s", c.verb, c.body, rep.Result)
		}
	}

	// Restore from the backup: the journal brings back what was written
	// after it; restored to the backup's time, it is gone again.
	backup := n.waitEvent(t, func(e events.Event) bool { return e.Type == events.BackupCompleted })
	backupID, _ := backup.Data["backup_id"].(string)
	if backupID == "" {
		t.Fatalf("backup.completed without backup_id: %+v", backup)
	}
	n.ok(t, "custodian.kv.users.put", `{"key":"after","value":1}`)
	var rep CmdReply
	raw := n.request(t, "custodian.cmd.users.restore", fmt.Sprintf(`{"backup_id":%q,"wait":true}`, backupID)).msg.Data
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Result != "ok" || rep.Event == nil || rep.Event.Type != events.RestoreCompleted {
		t.Fatalf("restore: %s", raw)
	}
	n.ok(t, "custodian.kv.users.get", `{"key":"after"}`)
	if rep.Event.Data["lost"] != false || rep.Event.Data["journal_records"] != float64(1) {
		t.Fatalf("restore: want one journal record, nothing lost: %s", raw)
	}
	// backup.completed was recorded after the backup and before the put.
	raw = n.request(t, "custodian.cmd.users.restore", fmt.Sprintf(`{"at":%q,"wait":true}`, backup.Time.Format(time.RFC3339Nano))).msg.Data
	rep = CmdReply{}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Result != "ok" || rep.Event == nil || rep.Event.Type != events.RestoreCompleted {
		t.Fatalf("restore at the backup's time: %s", raw)
	}
	if r := n.request(t, "custodian.kv.users.get", `{"key":"after"}`); r.errCode() != "not_found" {
		t.Fatalf("restore to the backup's time kept a later write: %s", r.msg.Data)
	}
	n.ok(t, "custodian.kv.users.get", `{"key":"k07"}`)
	if r := n.request(t, "custodian.cmd.users.restore", `{"backup_id":"nope","wait":true}`); r.errCode() != "not_found" {
		t.Fatalf("restore from an unknown backup: %s", r.msg.Data)
	}

	// Salvage of the copy the restore above moved to quarantine: accepted,
	// and the reply carries its outcome event.
	raw = n.request(t, "custodian.cmd.users.salvage", `{"wait":true}`).msg.Data
	if err := json.Unmarshal(raw, &rep); err != nil || !rep.Accepted || rep.Event == nil {
		t.Fatalf("salvage: %s", raw)
	}

	// Status answers with the table's state.
	st := n.ok(t, "custodian.cmd.users.status", nil)
	status, _ := st["status"].(map[string]any)
	if st["accepted"] != true || status["table"] != "users" || status["state"] == nil {
		t.Fatalf("status: %v", st)
	}

	// A plain publish (no reply subject) runs the same way.
	if err := n.client.Publish("custodian.cmd.users.backup", nil); err != nil {
		t.Fatal(err)
	}
	n.waitEvent(t, func(e events.Event) bool {
		return e.Type == events.BackupCompleted && e.CommandID != rep.CommandID && e.Data["backup_id"] != backupID
	})
	if err := n.client.Publish("custodian.kv.users.put", []byte(`{"key":"pub","value":"x"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, withTimeout(t, 10*time.Second), func() bool {
		return n.request(t, "custodian.kv.users.get", `{"key":"pub"}`).errCode() == ""
	})
}

func TestNodeVerbs(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users", "orders"}})
	st := n.ok(t, "custodian.node.n1.status", nil)
	tbls, _ := st["tables"].([]any)
	if st["node"] != "n1" || len(tbls) != 2 {
		t.Fatalf("node status: %v", st)
	}

	// create: a new table answers on its subjects at once.
	if _, err := n.client.Request("custodian.kv.fresh.get", []byte(`{"key":"a"}`), 5*time.Second); !isNoResponders(err) {
		t.Fatalf("before create: %v", err)
	}
	cr := n.ok(t, "custodian.node.n1.create", `{"table":"fresh"}`)
	if cr["accepted"] != true || cr["table"] != "fresh" || cr["verb"] != "create" {
		t.Fatalf("create: %v", cr)
	}
	n.ok(t, "custodian.kv.fresh.put", `{"key":"a","value":1}`)
	n.ok(t, "custodian.cmd.fresh.status", nil)
	// The reply's command id is on the command's events.
	id, _ := cr["command_id"].(string)
	n.waitEvent(t, func(e events.Event) bool {
		return e.Type == events.CommandAccepted && e.Table == "fresh" && e.CommandID == id && e.Data["verb"] == "create"
	})
	n.waitEvent(t, func(e events.Event) bool {
		return e.Type == events.TableCreated && e.Table == "fresh" && e.CommandID == id
	})
	// create again: the table is kept, not emptied.
	n.ok(t, "custodian.node.n1.create", `{"table":"fresh"}`)
	n.ok(t, "custodian.kv.fresh.get", `{"key":"a"}`)
	if !slices.Equal(n.sup.Tables(), []string{"fresh", "orders", "users"}) {
		t.Fatalf("tables %v", n.sup.Tables())
	}

	// compact, backup, verify for every table.
	for _, verb := range []string{"compact", "backup", "verify"} {
		var rep NodeReply
		raw := n.request(t, "custodian.node.n1."+verb, `{"force":true,"wait":true}`).msg.Data
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Node != "n1" || rep.Verb != verb || len(rep.Commands) != 3 || len(rep.Refused) != 0 {
			t.Fatalf("node %s: %s", verb, raw)
		}
		for _, c := range rep.Commands {
			if c.Result != "ok" || c.Event == nil || c.Event.CommandID != c.CommandID || c.Verb != verb {
				t.Fatalf("node %s: %s", verb, raw)
			}
		}
	}
	// Without wait: accepted per table, no results.
	var rep NodeReply
	raw := n.request(t, "custodian.node.n1.backup", nil).msg.Data
	if err := json.Unmarshal(raw, &rep); err != nil || len(rep.Commands) != 3 || rep.Commands[0].Result != "" {
		t.Fatalf("node backup without wait: %s", raw)
	}
}

// TestEventsEnvelopeAndMsgID checks every event the services caused: the
// contract's envelope and Nats-Msg-Id = id.
func TestEventsEnvelopeAndMsgID(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
	n.ok(t, "custodian.cmd.users.backup", `{"wait":true}`)
	n.request(t, "custodian.cmd.users.compact", `{"mode":"bogus"}`)
	n.ok(t, "custodian.node.n1.create", `{"table":"t2"}`)
	if err := n.outbox.Flush(withTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	evs, ids := streamEvents(t, n.js)
	types := map[string]bool{}
	for i, e := range evs {
		types[e.Type] = true
		if ids[i] != e.ID {
			t.Fatalf("event %s has Nats-Msg-Id %q", e.ID, ids[i])
		}
		u, err := uuid.Parse(e.ID)
		if err != nil || u.Version() != 7 {
			t.Fatalf("event id %q is not a UUIDv7", e.ID)
		}
		if e.Node != "n1" || e.Time.IsZero() || !slices.Contains(events.Types(), e.Type) {
			t.Fatalf("envelope: %+v", e)
		}
		if e.Trigger == "" || (e.Result == "" && !strings.HasSuffix(e.Type, ".started")) {
			t.Fatalf("envelope without trigger or result: %+v", e)
		}
	}
	for _, want := range []string{events.TableCreated, events.CommandAccepted, events.BackupStarted, events.BackupCompleted, events.CommandRejected} {
		if !types[want] {
			t.Errorf("no %s event among %v", want, types)
		}
	}
}

func TestServicesListedAsMicroServices(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	// One reply per service; gather them all.
	sub, err := n.client.SubscribeSync(nats.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.client.PublishRequest("$SRV.INFO", sub.Subject, nil); err != nil {
		t.Fatal(err)
	}
	names := map[string]micro.Info{}
	for len(names) < 3 {
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("services seen: %v: %v", names, err)
		}
		var info micro.Info
		if err := json.Unmarshal(msg.Data, &info); err != nil {
			t.Fatal(err)
		}
		names[info.Name] = info
	}
	for _, name := range []string{ServiceKV, ServiceCmd, ServiceNode} {
		info, ok := names[name]
		if !ok || !strings.HasPrefix(info.Name, "custodian") {
			t.Fatalf("service %s missing: %v", name, names)
		}
	}
	// One endpoint per service whatever the number of tables: the plane's
	// pattern, with the number of tables subscribed.
	endpoints := func(info micro.Info) []string {
		var out []string
		for _, e := range info.Endpoints {
			out = append(out, e.Name+" "+e.Subject+" "+e.QueueGroup+" "+e.Metadata["tables"])
		}
		return out
	}
	if got := endpoints(names[ServiceKV]); !slices.Equal(got, []string{"tables custodian.kv.*.* q 1"}) {
		t.Fatalf("kv endpoints %v", got)
	}
	if got := endpoints(names[ServiceCmd]); !slices.Equal(got, []string{"tables custodian.cmd.*.* q 1"}) {
		t.Fatalf("cmd endpoints %v", got)
	}
	if got := endpoints(names[ServiceNode]); !slices.Equal(got, []string{"node custodian.node.n1.* q "}) {
		t.Fatalf("node endpoints %v", got)
	}
	for _, info := range names {
		if info.Metadata["node"] != "n1" || info.Metadata["prefix"] != "custodian" || info.Version != DefaultVersion || info.Description == "" {
			t.Fatalf("service identity %+v", info)
		}
		// Ping by name and id answers the same instance.
		m, err := n.client.Request("$SRV.PING."+info.Name+"."+info.ID, nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ping micro.Ping
		if err := json.Unmarshal(m.Data, &ping); err != nil || ping.ID != info.ID || ping.Type != micro.PingResponseType {
			t.Fatalf("ping %s: %s", info.Name, m.Data)
		}
	}
	// A table created later counts at once.
	n.ok(t, "custodian.node.n1.create", `{"table":"later"}`)
	m, err := n.client.Request("$SRV.INFO."+ServiceCmd, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(m.Data, &info); err != nil || endpoints(info)[0] != "tables custodian.cmd.*.* q 2" {
		t.Fatalf("cmd info after create: %s", m.Data)
	}
}

// TestWaitingCommandsDoNotStarveTheDataPlane fills every command slot with
// commands waiting for their outcome: the data plane keeps answering.
func TestWaitingCommandsDoNotStarveTheDataPlane(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	entered := make(chan string, 4)
	n := startNode(t, nodeOptions{
		tables:   []string{"users", "orders"},
		services: ServicesOptions{Concurrency: 2},
		failpoint: func(name string) {
			if name == "backup.before-copy" {
				entered <- name
				<-release
			}
		},
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the node stops
	done := make(chan error, 2)
	for _, table := range []string{"users", "orders"} {
		go func() {
			_, err := n.client.Request("custodian.cmd."+table+".backup", []byte(`{"wait":true}`), 60*time.Second)
			done <- err
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(30 * time.Second):
			t.Fatal("backups did not start")
		}
	}
	// Both command slots are taken by waiting requests.
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
	if r := n.request(t, "custodian.kv.orders.get", `{"key":"missing"}`); r.errCode() != "not_found" {
		t.Fatalf("get: %s", r.msg.Data)
	}
	releaseOnce.Do(func() { close(release) })
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCustomPrefixEndToEnd(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}, prefix: "acme.store"})
	n.ok(t, "acme.store.kv.users.put", `{"key":"a","value":1}`)
	rep := n.ok(t, "acme.store.cmd.users.backup", `{"wait":true}`)
	if rep["result"] != "ok" {
		t.Fatalf("backup: %v", rep)
	}
	n.ok(t, "acme.store.node.n1.status", nil)
	if _, err := n.client.Request("custodian.kv.users.get", []byte(`{"key":"a"}`), 5*time.Second); !isNoResponders(err) {
		t.Fatalf("default prefix answered: %v", err)
	}
	if err := n.outbox.Flush(withTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	count, err := Audit(withTimeout(t, 30*time.Second), n.js, AuditFilter{Prefix: "acme.store", TypePrefix: "backup.completed"}, &buf)
	if err != nil || count != 1 || !strings.Contains(buf.String(), rep["command_id"].(string)) {
		t.Fatalf("audit with prefix: %d %v %s", count, err, buf.String())
	}
}

func TestServiceStatsCountErrors(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users", "orders"}})
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
	n.ok(t, "custodian.kv.orders.put", `{"key":"a","value":1}`)
	for range 3 {
		n.request(t, "custodian.kv.orders.get", `{"key":`)
	}
	n.request(t, "custodian.node.n1.create", `{"table":"../x"}`)
	m, err := n.client.Request("$SRV.STATS."+ServiceKV, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st micro.Stats
	if err := json.Unmarshal(m.Data, &st); err != nil {
		t.Fatal(err)
	}
	// The plane's figures: every table's requests and errors together.
	if len(st.Endpoints) != 1 || st.Endpoints[0].NumRequests != 5 || st.Endpoints[0].NumErrors != 3 ||
		!strings.HasPrefix(st.Endpoints[0].LastError, "invalid_request: ") || st.Endpoints[0].ProcessingTime <= 0 {
		t.Fatalf("kv stats: %s", m.Data)
	}
	var data EndpointStats
	if err := json.Unmarshal(st.Endpoints[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Tables != 2 || data.Errors != 3 || !strings.HasPrefix(data.LastError, "invalid_request: ") || data.LastErrorTable != "orders" || data.InFlight != 0 {
		t.Fatalf("kv endpoint data: %s", st.Endpoints[0].Data)
	}
	if got := n.svc.EndpointStats("node"); got.Errors != 1 || !strings.HasPrefix(got.LastError, "invalid_table") {
		t.Fatalf("node stats %+v", got)
	}
}
