package bus

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// node is a whole supervisor node as cmd/supervisor wires it: an embedded
// nats-server, the stream, the outbox, real tables under a real supervisor,
// and the services; plus an operator's client over TCP.
type node struct {
	data   string
	srv    *Embedded
	nc     *nats.Conn // the supervisor's in-process connection
	client *nats.Conn // an operator over TCP
	js     jetstream.JetStream
	outbox *Outbox
	sup    *supervisor.Supervisor
	svc    *Services
}

type nodeOptions struct {
	tables    []string
	failpoint func(name string)
	backend   func(*supervisor.Supervisor) Backend // wraps the supervisor (fault injection)
	services  ServicesOptions
	prefix    string // subject prefix of the stream, outbox and services
	queueSize int    // commands queued per table (supervisor default when 0)
	// maxPayload is the embedded server's max_payload (its default when 0).
	maxPayload int32
	// seed, when set, prepares the supervisor's store directory (in
	// place of one under the node's data) and the tables to open (not
	// create) there; maxOpen is the supervisor's max_open_tables (its
	// default when 0).
	seed    func(t testing.TB) (storeDir string, tables []string)
	maxOpen int
}

func startNode(t testing.TB, o nodeOptions) *node {
	t.Helper()
	ctx := withTimeout(t, 60*time.Second)
	n := &node{data: t.TempDir()}
	srv, err := StartEmbedded(ctx, EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(n.data, "nats"), MaxPayload: o.maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	if n.nc, err = srv.Connect(ctx, "supervisor"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.nc.Close)
	n.js = newJS(t, n.nc)
	if _, err := EnsureStream(ctx, n.js, StreamConfig{Prefix: o.prefix}); err != nil {
		t.Fatal(err)
	}
	if n.outbox, err = OpenOutbox(filepath.Join(n.data, "outbox"), OutboxOptions{Prefix: o.prefix}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.outbox.Close() }) // after runOutbox's cleanup (LIFO)
	runOutbox(t, n.outbox, n.js)

	never := supervisor.Policy{CompactEvery: -1, BackupEvery: -1, VerifyEvery: -1, StatsEvery: -1}
	storeDir, seeded := filepath.Join(n.data, "store"), []string(nil)
	if o.seed != nil {
		storeDir, seeded = o.seed(t)
	}
	n.sup, err = supervisor.Open(storeDir, tables.Options{Failpoint: o.failpoint}, n.outbox,
		supervisor.Config{Node: "n1", Defaults: never, QueueSize: o.queueSize, MaxOpenTables: o.maxOpen})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range seeded {
		if err := n.sup.OpenTable(ctx, name, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range o.tables {
		if err := n.sup.OpenTable(ctx, name, true); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stopSup := context.WithCancel(context.Background())
	supDone := make(chan error, 1)
	go func() { supDone <- n.sup.Run(runCtx) }()
	t.Cleanup(func() {
		if err := n.sup.Close(); err != nil {
			t.Errorf("supervisor close: %v", err)
		}
	})
	t.Cleanup(func() {
		stopSup()
		if err := <-supDone; err != nil {
			t.Errorf("supervisor run: %v", err)
		}
	})
	var b Backend = n.sup
	if o.backend != nil {
		b = o.backend(n.sup)
	}
	if o.prefix != "" {
		o.services.Prefix = o.prefix
	}
	n.svc, err = StartServices(n.nc, b, o.services)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.svc.Stop(withTimeout(t, 30*time.Second)); err != nil {
			t.Errorf("services stop: %v", err)
		}
	})
	n.client = connectTCP(t, srv.ClientURL())
	return n
}

// reply is a decoded answer.
type reply struct {
	msg  *nats.Msg
	body map[string]any
}

func (r reply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// request sends body to subject over TCP and decodes the JSON reply.
func (n *node) request(t testing.TB, subject string, body any) reply {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	m, err := n.client.Request(subject, data, 30*time.Second)
	if err != nil {
		t.Fatalf("request %s %.80s: %v", subject, data, err)
	}
	r := reply{msg: m}
	if err := json.Unmarshal(m.Data, &r.body); err != nil {
		t.Fatalf("reply to %s is not a JSON object: %q", subject, m.Data)
	}
	return r
}

// ok sends a request that must succeed.
func (n *node) ok(t testing.TB, subject string, body any) map[string]any {
	t.Helper()
	r := n.request(t, subject, body)
	if r.msg.Header.Get(micro.ErrorCodeHeader) != "" || r.body["error"] != nil {
		t.Fatalf("%s: error reply %s (headers %v)", subject, r.msg.Data, r.msg.Header)
	}
	return r.body
}

// waitEvent waits until the stream holds an event matching keep.
func (n *node) waitEvent(t testing.TB, keep func(events.Event) bool) events.Event {
	t.Helper()
	ctx := withTimeout(t, 30*time.Second)
	for {
		if err := n.outbox.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		evs, _ := streamEvents(t, n.js)
		for _, e := range evs {
			if keep(e) {
				return e
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("event not found in the stream")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func isNoResponders(err error) bool { return errors.Is(err, nats.ErrNoResponders) }
