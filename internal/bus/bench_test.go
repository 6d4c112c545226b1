package bus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natstest "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// benchClients is the number of concurrent clients of the data-plane
// benchmark; each has its own TCP connection.
const benchClients = 16

// runClients spreads n operations over benchClients goroutines, each with
// its own connection, and returns operations per second.
func runClients(b *testing.B, conns []*nats.Conn, n int, op func(c *nats.Conn, i int) error) float64 {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(c, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(n) / elapsed.Seconds()
}

// BenchmarkDataPlaneVsNATSKV measures put and get through custodian.kv with
// 16 concurrent TCP clients, and NATS KV put and get (file storage) on the
// same embedded server with the same clients, in the same run; and, since
// every custodian put is fsynced, NATS KV put on a second server with
// sync_interval always. b.N is the number of operations of each kind.
func BenchmarkDataPlaneVsNATSKV(b *testing.B) {
	n := startNode(b, nodeOptions{tables: []string{"bench"}})
	conns := make([]*nats.Conn, benchClients)
	for i := range conns {
		conns[i] = connectTCP(b, n.srv.ClientURL())
	}
	ctx := withTimeout(b, 10*time.Minute)
	kvs := make([]jetstream.KeyValue, benchClients)
	js0 := newJS(b, conns[0])
	if _, err := js0.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bench", Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	for i, c := range conns {
		kv, err := newJS(b, c).KeyValue(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		kvs[i] = kv
	}
	kvOf := map[*nats.Conn]jetstream.KeyValue{}
	for i, c := range conns {
		kvOf[c] = kvs[i]
	}
	// The same KV bucket on a server that fsyncs every message
	// (sync_interval: always), as every custodian put does.
	syncOpts := natstest.DefaultTestOptions
	syncOpts.Port = -1
	syncOpts.JetStream = true
	syncOpts.StoreDir = b.TempDir()
	syncOpts.SyncAlways = true
	syncSrv := natstest.RunServer(&syncOpts)
	b.Cleanup(func() {
		syncSrv.Shutdown()
		syncSrv.WaitForShutdown()
	})
	syncConns := make([]*nats.Conn, benchClients)
	for i := range syncConns {
		syncConns[i] = connectTCP(b, syncSrv.ClientURL())
	}
	if _, err := newJS(b, syncConns[0]).CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bench", Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	for _, c := range syncConns {
		kv, err := newJS(b, c).KeyValue(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		kvOf[c] = kv
	}

	const keys = 1000
	value := []byte(`{"name":"ada lovelace","visits":12345,"tags":["a","b","c"]}`)
	keyOf := func(i int) string { return fmt.Sprintf("k%05d", i%keys) }

	putCust := func(c *nats.Conn, i int) error {
		m, err := c.Request("custodian.kv.bench.put", fmt.Appendf(nil, `{"key":%q,"value":%s}`, keyOf(i), value), 30*time.Second)
		if err == nil && m.Header.Get("Nats-Service-Error-Code") != "" {
			err = fmt.Errorf("put: %s", m.Data)
		}
		return err
	}
	putKV := func(c *nats.Conn, i int) error {
		_, err := kvOf[c].Put(ctx, keyOf(i), value)
		return err
	}
	getCust := func(c *nats.Conn, i int) error {
		m, err := c.Request("custodian.kv.bench.get", fmt.Appendf(nil, `{"key":%q}`, keyOf(i)), 30*time.Second)
		if err == nil && m.Header.Get("Nats-Service-Error-Code") != "" {
			err = fmt.Errorf("get: %s", m.Data)
		}
		return err
	}
	getKV := func(c *nats.Conn, i int) error {
		_, err := kvOf[c].Get(ctx, keyOf(i))
		return err
	}
	// Every key exists before the gets.
	runClients(b, conns, keys, putCust)
	runClients(b, conns, keys, putKV)

	// The machine is shared: the kinds take turns in short rounds so that
	// a change of load hits them alike. A rate is ops / total time.
	const rounds = 5
	per := max(b.N/rounds, 1)
	var tCustPut, tKVPut, tKVSyncPut, tCustGet, tKVGet time.Duration
	timed := func(acc *time.Duration, cs []*nats.Conn, op func(*nats.Conn, int) error) {
		start := time.Now()
		runClients(b, cs, per, op)
		*acc += time.Since(start)
	}
	b.ResetTimer()
	for range rounds {
		timed(&tCustPut, conns, putCust)
		timed(&tKVPut, conns, putKV)
		timed(&tKVSyncPut, syncConns, putKV)
		timed(&tCustGet, conns, getCust)
		timed(&tKVGet, conns, getKV)
	}
	total := float64(per * rounds)
	custPut, kvPut, kvSyncPut := total/tCustPut.Seconds(), total/tKVPut.Seconds(), total/tKVSyncPut.Seconds()
	custGet, kvGet := total/tCustGet.Seconds(), total/tKVGet.Seconds()
	b.StopTimer()
	b.ReportMetric(custPut, "custodian-put/s")
	b.ReportMetric(kvPut, "natskv-put/s")
	b.ReportMetric(custPut/kvPut, "put-ratio")
	b.ReportMetric(kvSyncPut, "natskv-fsync-put/s")
	b.ReportMetric(custPut/kvSyncPut, "put-ratio-vs-fsync")
	b.ReportMetric(custGet, "custodian-get/s")
	b.ReportMetric(kvGet, "natskv-get/s")
	b.ReportMetric(custGet/kvGet, "get-ratio")
}

// BenchmarkOutboxVsJetStream measures events through the outbox (Emit with
// fsync, then the publisher's sync publish and delete, until Flush returns)
// against raw JetStream sync publishes with Nats-Msg-Id on the same
// in-process connection and server, in the same run. b.N events each; the
// outbox is measured with one emitter and with 16 concurrent emitters.
func BenchmarkOutboxVsJetStream(b *testing.B) {
	srv, err := StartEmbedded(withTimeout(b, 30*time.Second), EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ctx := withTimeout(b, 10*time.Minute)
	nc, err := srv.Connect(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js := newJS(b, nc)
	ensureStream(b, js)
	o := openOutbox(b, b.TempDir())
	runOutbox(b, o, js)
	evs := make([]events.Event, b.N)
	conc := make([]events.Event, b.N)
	raw := make([]events.Event, b.N)
	for i := range evs {
		evs[i], conc[i], raw[i] = testEvent(i), testEvent(i), testEvent(i)
	}

	b.ResetTimer()
	start := time.Now()
	for _, e := range evs {
		if err := o.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	if err := o.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	outboxRate := float64(b.N) / time.Since(start).Seconds()

	// The supervisor emits from many goroutines (table workers, command
	// handlers): concurrent Emits share fsyncs.
	start = time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conc) {
					return
				}
				if err := o.Emit(ctx, conc[i]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := o.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	concRate := float64(b.N) / time.Since(start).Seconds()

	start = time.Now()
	for _, e := range raw {
		data, err := e.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.Publish(ctx, events.Subject(events.DefaultPrefix, e), data, jetstream.WithMsgID(e.ID)); err != nil {
			b.Fatal(err)
		}
	}
	rawRate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(outboxRate, "outbox-events/s")
	b.ReportMetric(rawRate, "jetstream-sync/s")
	b.ReportMetric(outboxRate/rawRate, "ratio")
	b.ReportMetric(concRate, "outbox-16-emitters-events/s")
	b.ReportMetric(concRate/rawRate, "ratio-16-emitters")
}
