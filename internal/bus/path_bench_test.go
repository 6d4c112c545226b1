package bus

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/tables"
)

// BenchmarkRequestPathParts takes a data-plane put apart: the same clients
// send the same put body to responders that each do a part of what the
// real service does, on the supervisor's in-process connection, so that
// the cost of each part shows against the others and against a NATS KV
// put on the same server. With 1 client (latency) and 16 (the figure's
// shape); b.N requests of each kind per round, 3 rounds, interleaved.
//
//   - noop: a plain subscription answering at once (the ceiling of any
//     request/reply service here);
//   - micro-noop: a micro endpoint answering at once (micro's share);
//   - handoff-noop: a plain subscription handing each request to one of 32
//     worker goroutines, which answers (the share of not answering on the
//     subscription's goroutine, which the issue asks for);
//   - inline-table-put: a plain subscription decoding the body and putting
//     it into a NoSync table on its own goroutine, then answering;
//   - workers-table-put: the same on 32 workers fed by a channel
//     subscription;
//   - custodian-put: the real path (micro, dispatch, supervisor, table);
//   - natskv-put: a NATS KV put.
func BenchmarkRequestPathParts(b *testing.B) {
	n := startNode(b, nodeOptions{tables: []string{"bench"}})
	startNoSyncSupervisor(b, n, "benchns")
	ctx := withTimeout(b, 10*time.Minute)
	st, err := tables.OpenStore(filepath.Join(b.TempDir(), "parts"), tables.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	tb, err := st.Open(ctx, "parts", true)
	if err != nil {
		b.Fatal(err)
	}
	ok := []byte(`{"ok":true}`)
	answer := func(reply string) {
		if err := n.nc.Publish(reply, ok); err != nil {
			b.Error(err)
		}
	}
	tablePut := func(m *nats.Msg) {
		key, value, err := decodePut(m.Data)
		if err == nil {
			err = tb.Put(context.Background(), key, value)
		}
		if err != nil {
			b.Error(err)
			return
		}
		answer(m.Reply)
	}
	// Subscriptions and their workers end with the test's connection.
	handoff := make(chan *nats.Msg)
	work := make(chan *nats.Msg, 1024)
	b.Cleanup(func() { close(handoff); close(work) })
	for range 32 {
		go func() {
			for m := range handoff {
				answer(m.Reply)
			}
		}()
		go func() {
			for m := range work {
				tablePut(m)
			}
		}()
	}
	subs := []func() (*nats.Subscription, error){
		func() (*nats.Subscription, error) {
			return n.nc.Subscribe("parts.noop", func(m *nats.Msg) { answer(m.Reply) })
		},
		func() (*nats.Subscription, error) {
			return n.nc.Subscribe("parts.handoff", func(m *nats.Msg) { handoff <- m })
		},
		func() (*nats.Subscription, error) { return n.nc.Subscribe("parts.inline", tablePut) },
		func() (*nats.Subscription, error) { return n.nc.ChanSubscribe("parts.workers", work) },
	}
	for _, sub := range subs {
		s, err := sub()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Unsubscribe() })
	}
	svc, err := micro.AddService(n.nc, micro.Config{Name: "parts", Version: "0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Stop() })
	if err := svc.AddEndpoint("noop", micro.HandlerFunc(func(r micro.Request) { answer(r.Reply()) }), micro.WithEndpointSubject("parts.micro")); err != nil {
		b.Fatal(err)
	}
	if err := n.nc.Flush(); err != nil {
		b.Fatal(err)
	}

	conns := make([]*nats.Conn, benchClients)
	for i := range conns {
		conns[i] = connectTCP(b, n.srv.ClientURL())
	}
	if _, err := newJS(b, conns[0]).CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "parts", Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	kvOf := map[*nats.Conn]jetstream.KeyValue{}
	for _, c := range conns {
		if kvOf[c], err = newJS(b, c).KeyValue(ctx, "parts"); err != nil {
			b.Fatal(err)
		}
	}
	request := func(subject string) func(c *nats.Conn, i int) error {
		return func(c *nats.Conn, i int) error {
			_, err := c.Request(subject, []byte(`{"key":"`+benchKey(i)+`","value":`+benchValue+`}`), 30*time.Second)
			return err
		}
	}
	kinds := []benchKind{
		{"noop", request("parts.noop")},
		{"micro-noop", request("parts.micro")},
		{"handoff-noop", request("parts.handoff")},
		{"inline-table-put", request("parts.inline")},
		{"workers-table-put", request("parts.workers")},
		{"custodian-put", custodianPut("benchns")},
		{"natskv-put", func(c *nats.Conn, i int) error {
			_, err := kvOf[c].Put(ctx, benchKey(i), []byte(benchValue))
			return err
		}},
	}
	for _, k := range kinds {
		runClients(b, conns, benchKeys, k.op)
	}
	for _, clients := range []int{1, benchClients} {
		b.Run(map[int]string{1: "1-client", benchClients: "16-clients"}[clients], func(b *testing.B) {
			for i, r := range interleave(b, conns[:clients], 3, b.N, kinds) {
				b.ReportMetric(r, kinds[i].name+"/s")
			}
		})
	}
}
