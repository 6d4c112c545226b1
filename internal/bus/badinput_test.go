package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// snapshot is everything a bad request must leave alone.
type snapshot struct {
	tables  []string
	data    map[string]string // table/key -> value
	onDisk  []string          // entries under the store's tables/ and backups/
	streams uint64
}

func (n *node) snapshot(t testing.TB) snapshot {
	t.Helper()
	ctx := withTimeout(t, 10*time.Second)
	s := snapshot{tables: n.sup.Tables(), data: map[string]string{}}
	for _, name := range s.tables {
		tb, err := n.sup.Table(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tb.Scan(ctx, "", "", tables.MaxScanLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			s.data[name+"/"+it.Key] = string(it.Value)
		}
	}
	for _, dir := range []string{"tables", "backups", "quarantine"} {
		ents, _ := os.ReadDir(filepath.Join(n.data, "store", dir))
		for _, e := range ents {
			s.onDisk = append(s.onDisk, dir+"/"+e.Name())
		}
	}
	return s
}

func (a snapshot) same(b snapshot) error {
	if !slices.Equal(a.tables, b.tables) {
		return fmt.Errorf("tables %v became %v", a.tables, b.tables)
	}
	if !slices.Equal(a.onDisk, b.onDisk) {
		return fmt.Errorf("files %v became %v", a.onDisk, b.onDisk)
	}
	if len(a.data) != len(b.data) {
		return fmt.Errorf("%d records became %d", len(a.data), len(b.data))
	}
	for k, v := range a.data {
		if b.data[k] != v {
			return fmt.Errorf("%s: %s became %s", k, v, b.data[k])
		}
	}
	return nil
}

// maxMessage bounds an error message: what it echoes of a request is at
// most events.EchoBytes, quoted.
const maxMessage = 1024

func TestBadInputOnEverySubject(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":{"x":1}}`)
	n.ok(t, "custodian.kv.users.put", `{"key":"b","value":2}`)

	huge := `{"key":"k","value":"` + strings.Repeat("x", DefaultMaxBody) + `"}`
	longKey := `{"key":"` + strings.Repeat("k", tables.MaxKeyBytes+1) + `","value":1}`
	// Input that a refusal must not echo whole: under the body limit, but
	// over the 256 KiB an event may have.
	big := strings.Repeat("f", 900<<10)
	bigField := `{"` + big + `":1}`
	cases := []struct {
		subject, body string
		code          apierr.Code
		rejected      bool // a command.rejected event follows
	}{
		// put
		{"custodian.kv.users.put", `{`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `not json`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", ``, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `[1,2]`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `"a"`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"value":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"a"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":1,"value":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":null,"value":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"","value":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"a","value":1,"extra":true}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"a","value":1} {"key":"b","value":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"a","value":nope}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", huge, apierr.TooLarge, false},
		{"custodian.kv.users.put", longKey, apierr.TooLarge, false},
		// Text that is not valid Unicode: the JSON decoder would make
		// U+FFFD of each, and two keys one; a value would go out as it
		// came, invalid JSON.
		{"custodian.kv.users.put", "{\"key\":\"bad\xff\xfekey\",\"value\":1}", apierr.InvalidRequest, false},
		{"custodian.kv.users.put", "{\"key\":\"bad\xfe\xffkey\",\"value\":1}", apierr.InvalidRequest, false},
		{"custodian.kv.users.put", "{\"key\":\"a\xed\xa0\x80\",\"value\":1}", apierr.InvalidRequest, false}, // an encoded surrogate
		{"custodian.kv.users.put", `{"key":"\ud800","value":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"a\udc00b","value":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"value":1,"key":"\ud800\u0041"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", "{\"key\":\"k\",\"value\":\"\xff\"}", apierr.InvalidRequest, false},
		{"custodian.kv.users.put", "{\"key\":\"k\",\"value\":{\"\xff\":1}}", apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"k","value":"\ud800"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"k","value":["\udfff"]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", "{\"key\":\"k\",\"value\":1\u00a0}", apierr.InvalidRequest, false}, // not JSON whitespace
		{"custodian.kv.users.put", "{\"key\":\"k\",\"value\":\v1}", apierr.InvalidRequest, false},
		{"custodian.kv.users.put", bigField, apierr.InvalidRequest, false},
		{"custodian.kv.users.put", `{"key":"k","value":1,"` + big + `":1}`, apierr.InvalidRequest, false},
		// get, delete
		{"custodian.kv.users.get", "{\"key\":\"a\xff\"}", apierr.InvalidRequest, false},
		{"custodian.kv.users.get", `{"key":"\ud800"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.delete", "{\"key\":\"a\xff\"}", apierr.InvalidRequest, false},
		{"custodian.kv.users.delete", `{"key":"\udbff"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.get", bigField, apierr.InvalidRequest, false},
		{"custodian.kv.users.get", `{`, apierr.InvalidRequest, false},
		{"custodian.kv.users.get", `{}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.get", `{"key":["a"]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.get", `{"key":"missing"}`, apierr.NotFound, false},
		{"custodian.kv.users.get", huge, apierr.TooLarge, false},
		{"custodian.kv.users.delete", `{"key":5}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.delete", ``, apierr.InvalidRequest, false},
		{"custodian.kv.users.delete", `{"keys":"a"}`, apierr.InvalidRequest, false},
		// batch: any bad op refuses the whole batch
		{"custodian.kv.users.batch", `{}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":"a"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[{"op":"delete","key":"a"},{"op":"frob","key":"b"}]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[{"op":"delete","key":"a"},{"op":"put","key":"b"}]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[{"op":"delete","key":"a"},{"op":"put","key":"","value":1}]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[{"op":"delete","key":"a","when":1}]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", "{\"ops\":[{\"op\":\"delete\",\"key\":\"a\"},{\"op\":\"put\",\"key\":\"b\xff\",\"value\":1}]}", apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[{"op":"delete","key":"a"},{"op":"delete","key":"\ud800"}]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[{"op":"delete","key":"a"},{"op":"put","key":"b","value":"\ud800"}]}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", "{\"ops\":[{\"op\":\"put\",\"key\":\"b\",\"value\":\"\xc3\"}]}", apierr.InvalidRequest, false},
		{"custodian.kv.users.batch", `{"ops":[{"op":"` + big + `","key":"b"}]}`, apierr.InvalidRequest, false},
		// scan
		{"custodian.kv.users.scan", `{"limit":-1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", `{"limit":"ten"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", `{"prefix":1}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", `{"limit":1.5}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", `{"limit":1e3}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", `{"limit":` + strings.Repeat("9", 900<<10) + `}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", "{\"prefix\":\"a\xff\"}", apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", `{"after":"\ud800"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.scan", bigField, apierr.InvalidRequest, false},
		// unknown op
		{"custodian.kv.users.frob", `{"key":"a"}`, apierr.InvalidRequest, false},
		{"custodian.kv.users.PUT", `{"key":"a","value":1}`, apierr.InvalidRequest, false},
		// commands
		{"custodian.cmd.users.compact", `{`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.compact", `{"force":"yes"}`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.compact", `{"mode":"bogus"}`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.compact", `{"wiat":true}`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.compact", `[true]`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.backup", huge, apierr.TooLarge, true},
		{"custodian.cmd.users.restore", `{"backup_id":"../../etc"}`, apierr.NotFound, true},
		{"custodian.cmd.users.restore", `{"backup_id":7}`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.restore", `{"backup_id":""}`, apierr.InvalidRequest, true}, // an unset shell variable: not "the newest"
		{"custodian.cmd.users.restore", `{"wait":true,"backup_id":""}`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.restore", "{\"backup_id\":\"x\xff\"}", apierr.InvalidRequest, true},
		{"custodian.cmd.users.restore", `{"backup_id":"\ud800"}`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.restore", `{"backup_id":"` + big + `"}`, apierr.NotFound, true},
		{"custodian.cmd.users.compact", `{"mode":"` + big + `"}`, apierr.InvalidRequest, true},
		{"custodian.cmd.users.compact", bigField, apierr.InvalidRequest, true},
		{"custodian.cmd.users.compact", "{\"mode\":\"\xff\"}", apierr.InvalidRequest, true},
		{"custodian.cmd.users.frob", ``, apierr.InvalidRequest, true},
		{"custodian.cmd.users.create", `{"table":"x"}`, apierr.InvalidRequest, true},
		// node
		{"custodian.node.n1.create", ``, apierr.InvalidRequest, true},
		{"custodian.node.n1.create", `{}`, apierr.InvalidRequest, true},
		{"custodian.node.n1.create", `{"table":5}`, apierr.InvalidRequest, true},
		{"custodian.node.n1.create", `{"table":"a","x":1}`, apierr.InvalidRequest, true},
		{"custodian.node.n1.create", `{"table":""}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"../etc"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"../../../../tmp/x"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":".."}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"a/b"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"/abs"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"UPPER"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"a.b"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"a*"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"_x"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"a\u0000b"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", `{"table":"` + strings.Repeat("a", 65) + `"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", huge, apierr.TooLarge, true},
		{"custodian.node.n1.create", "{\"table\":\"a\xff\"}", apierr.InvalidRequest, true},
		{"custodian.node.n1.create", `{"table":"` + big + `"}`, apierr.InvalidTable, true},
		{"custodian.node.n1.create", bigField, apierr.InvalidRequest, true},
		{"custodian.node.n1.compact", `{"force":1}`, apierr.InvalidRequest, true},
		{"custodian.node.n1.backup", bigField, apierr.InvalidRequest, true},
		{"custodian.node.n1.backup", `{"backup_id":""}`, apierr.InvalidRequest, true},
		{"custodian.node.n1.backup", `{`, apierr.InvalidRequest, true},
		{"custodian.node.n1.frob", ``, apierr.InvalidRequest, true},
		{"custodian.node.n1.status", `{"x":1}`, apierr.InvalidRequest, false},
		{"custodian.node.n1.status", bigField, apierr.InvalidRequest, false},
	}
	before := n.snapshot(t)
	for _, c := range cases {
		r := n.request(t, c.subject, c.body)
		name := fmt.Sprintf("%s %.60q", c.subject, c.body)
		if got := r.errCode(); got != string(c.code) {
			t.Errorf("%s: code %q, want %q (%.300s)", name, got, c.code, r.msg.Data)
			continue
		}
		var eb ErrorBody
		if err := json.Unmarshal(r.msg.Data, &eb); err != nil || eb.Error.Message == "" || len(r.body) != 1 {
			t.Errorf("%s: body %.300s", name, r.msg.Data)
		}
		// What a message echoes of the request is cut (events.Echo).
		if len(eb.Error.Message) > maxMessage {
			t.Errorf("%s: a message of %d bytes: %.300s...", name, len(eb.Error.Message), eb.Error.Message)
		}
		if h := r.msg.Header.Get(micro.ErrorCodeHeader); h != strconv.Itoa(c.code.Status()) {
			t.Errorf("%s: %s = %q, want %d", name, micro.ErrorCodeHeader, h, c.code.Status())
		}
		if h := r.msg.Header.Get(micro.ErrorHeader); h == "" || strings.ContainsAny(h, "\r\n") {
			t.Errorf("%s: %s = %q", name, micro.ErrorHeader, h)
		}
		if c.rejected {
			n.waitEvent(t, func(e events.Event) bool {
				return e.Type == events.CommandRejected && e.Data["code"] == string(c.code) && e.Error == eb.Error.Message
			})
		}
	}
	after := n.snapshot(t)
	if err := before.same(after); err != nil {
		t.Fatalf("bad input changed something: %v", err)
	}
	// Still alive and serving.
	n.ok(t, "custodian.kv.users.get", `{"key":"a"}`)
	n.ok(t, "custodian.node.n1.status", nil)

	// A publish that is not a request changes nothing either and gets no
	// reply: the node keeps serving.
	for _, c := range cases {
		if err := n.client.Publish(c.subject, []byte(c.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.client.Flush(); err != nil {
		t.Fatal(err)
	}
	n.ok(t, "custodian.kv.users.get", `{"key":"b"}`)
	if err := n.outbox.Flush(withTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := before.same(n.snapshot(t)); err != nil {
		t.Fatalf("bad publishes changed something: %v", err)
	}
}

func TestHugeBodyBeyondServerMaxPayload(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}, services: ServicesOptions{MaxBody: 1 << 10}})
	// Over the configured limit: too_large from the service.
	body := `{"key":"k","value":"` + strings.Repeat("x", 2<<10) + `"}`
	if r := n.request(t, "custodian.kv.users.put", body); r.errCode() != "too_large" {
		t.Fatalf("over MaxBody: %s", r.msg.Data)
	}
	// Over the server's max_payload: the client library refuses to send it.
	big := make([]byte, DefaultEmbeddedMaxPayload+1)
	if _, err := n.client.Request("custodian.kv.users.put", big, 5*time.Second); err == nil {
		t.Fatal("a body over max_payload was sent")
	}
	n.ok(t, "custodian.kv.users.put", `{"key":"k","value":1}`)
}

// panicky is the real supervisor with a fault injected into Table.
type panicky struct{ *supervisor.Supervisor }

func (p panicky) Table(name string) (*tables.Table, error) {
	if name == "boom" {
		panic("injected fault")
	}
	return p.Supervisor.Table(name)
}

func TestHandlerPanicAnswersInternal(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users", "boom"}, backend: func(s *supervisor.Supervisor) Backend { return panicky{s} }})
	r := n.request(t, "custodian.kv.boom.get", `{"key":"a"}`)
	if r.errCode() != "internal" || r.msg.Header.Get(micro.ErrorCodeHeader) != "500" {
		t.Fatalf("panic: %s %v", r.msg.Data, r.msg.Header)
	}
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
}

func TestStopAnswersNothingNewAndWaitsForInFlight(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
	if err := n.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.Request("custodian.kv.users.get", []byte(`{"key":"a"}`), 5*time.Second); !isNoResponders(err) {
		t.Fatalf("after stop: %v", err)
	}
	// Tables opened after Stop are not subscribed.
	if err := n.sup.OpenTable(withTimeout(t, 10*time.Second), "late", true); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.Request("custodian.kv.late.get", []byte(`{"key":"a"}`), 5*time.Second); !isNoResponders(err) {
		t.Fatalf("table added after stop: %v", err)
	}
}

// badNode is the real supervisor answering an id that cannot be a subject
// token.
type badNode struct{ *supervisor.Supervisor }

func (badNode) Node() string { return "a.b" }

func TestStartServicesRefusesBadSettings(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	if _, err := StartServices(n.nc, n.sup, ServicesOptions{Prefix: "a.*"}); err == nil {
		t.Error("wildcard prefix accepted")
	}
	if _, err := StartServices(n.nc, badNode{n.sup}, ServicesOptions{Prefix: "other"}); err == nil {
		t.Error("node id with a dot accepted")
	}
	if _, err := n.client.Request("other.kv.users.get", []byte(`{"key":"a"}`), 2*time.Second); !isNoResponders(err) {
		t.Fatalf("a refused start left subscriptions: %v", err)
	}
}

func TestFullQueueAnswersBusy(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{}, 1)
	n := startNode(t, nodeOptions{tables: []string{"users"}, queueSize: 1, failpoint: func(name string) {
		if name == "backup.before-copy" {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
	}})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	n.ok(t, "custodian.cmd.users.backup", nil) // runs, held at the failpoint
	<-entered
	n.ok(t, "custodian.cmd.users.verify", nil) // queued: the queue is full now
	r := n.request(t, "custodian.cmd.users.compact", `{"force":true}`)
	if r.errCode() != "busy" || r.msg.Header.Get(micro.ErrorCodeHeader) != "409" {
		t.Fatalf("full queue: %s %v", r.msg.Data, r.msg.Header)
	}
	n.waitEvent(t, func(e events.Event) bool { return e.Type == events.CommandRejected && e.Data["code"] == "busy" })
	// An identical queued command coalesces instead of being refused.
	again := n.ok(t, "custodian.cmd.users.verify", nil)
	if again["coalesced_with"] == nil {
		t.Fatalf("identical command not coalesced: %v", again)
	}
	once.Do(func() { close(release) })
}

func TestUnavailableTableAnswers503(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	n.ok(t, "custodian.kv.users.put", `{"key":"a","value":1}`)
	tb, err := n.sup.Table("users")
	if err != nil {
		t.Fatal(err)
	}
	tb.SetUnavailable("restoring")
	for _, c := range []struct{ subject, body string }{
		{"custodian.kv.users.get", `{"key":"a"}`},
		{"custodian.kv.users.put", `{"key":"b","value":2}`},
		{"custodian.kv.users.scan", ``},
		{"custodian.cmd.users.compact", `{"force":true}`},
	} {
		r := n.request(t, c.subject, c.body)
		if r.errCode() != "table_unavailable" || r.msg.Header.Get(micro.ErrorCodeHeader) != "503" {
			t.Fatalf("%s while restoring: %s %v", c.subject, r.msg.Data, r.msg.Header)
		}
	}
	if err := tb.SetAvailable(); err != nil {
		t.Fatal(err)
	}
	n.ok(t, "custodian.kv.users.get", `{"key":"a"}`)
	if r := n.request(t, "custodian.kv.users.get", `{"key":"b"}`); r.errCode() != "not_found" {
		t.Fatalf("a refused put was applied: %s", r.msg.Data)
	}
}
