package bus

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	srvtest "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
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

// startNoSyncSupervisor runs a second supervisor (node n2) with
// tables.Options{NoSync: true} on n's server and in-process connection,
// with its own store and services, owning table; it emits into n's outbox.
// It is what cmd/supervisor wires when writes are not fsynced.
func startNoSyncSupervisor(b *testing.B, n *node, table string) {
	b.Helper()
	startBenchSupervisor(b, n.nc, n.outbox, filepath.Join(n.data, "store-nosync"), "n2", table, true)
}

// startBenchSupervisor runs a supervisor (node, its store under dir, no
// schedules) owning table, with its services on nc, emitting into ob;
// noSync as tables.Options.NoSync. Stopped when b ends.
func startBenchSupervisor(b *testing.B, nc *nats.Conn, ob *Outbox, dir, node, table string, noSync bool) {
	b.Helper()
	ctx := withTimeout(b, 60*time.Second)
	never := supervisor.Policy{CompactEvery: -1, BackupEvery: -1, VerifyEvery: -1, StatsEvery: -1}
	sup, err := supervisor.Open(dir, tables.Options{NoSync: noSync}, ob, supervisor.Config{Node: node, Defaults: never})
	if err != nil {
		b.Fatal(err)
	}
	if err := sup.OpenTable(ctx, table, true); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(runCtx) }()
	b.Cleanup(func() {
		if err := sup.Close(); err != nil {
			b.Errorf("supervisor %s close: %v", node, err)
		}
	})
	b.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			b.Errorf("supervisor %s run: %v", node, err)
		}
	})
	svc, err := StartServices(nc, sup, ServicesOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := svc.Stop(withTimeout(b, 30*time.Second)); err != nil {
			b.Errorf("supervisor %s services stop: %v", node, err)
		}
	})
}

// BenchmarkDataPlaneVsNATSKV measures put and get through custodian.kv with
// 16 concurrent TCP clients against NATS KV (file storage) with the same
// clients, in the same run, at equal durability:
//
//   - put (fsync): custodian's default, every put fsynced before it
//     answers, against NATS KV on a second server with sync_interval always
//     (SyncAlways: JetStream fsyncs every message before the PubAck);
//   - put (no sync): a supervisor with tables.Options{NoSync: true} (the
//     write is in the OS page cache when it answers) on the same server,
//     against NATS KV's default (a file stream writes each message to the
//     OS before the PubAck and fsyncs every 2 minutes);
//   - get: custodian against NATS KV on the same server.
//
// b.N is the number of operations of each kind.
func BenchmarkDataPlaneVsNATSKV(b *testing.B) {
	n := startNode(b, nodeOptions{tables: []string{"bench"}})
	startNoSyncSupervisor(b, n, "benchns")
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
	// (sync_interval: always), as every custodian put does by default.
	syncOpts := srvtest.DefaultTestOptions
	syncOpts.Port = -1
	syncOpts.JetStream = true
	syncOpts.StoreDir = b.TempDir()
	syncOpts.SyncAlways = true
	syncSrv := srvtest.RunServer(&syncOpts)
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

	value := []byte(benchValue)
	putCust := custodianPut("bench")
	putCustNoSync := custodianPut("benchns")
	putKV := func(c *nats.Conn, i int) error {
		_, err := kvOf[c].Put(ctx, benchKey(i), value)
		return err
	}
	getCust := custodianGet("bench")
	getKV := func(c *nats.Conn, i int) error {
		_, err := kvOf[c].Get(ctx, benchKey(i))
		return err
	}
	// Every key exists before the gets; every store has its keys before the
	// timed puts (so that they are all overwrites).
	runClients(b, conns, benchKeys, putCust)
	runClients(b, conns, benchKeys, putCustNoSync)
	runClients(b, conns, benchKeys, putKV)
	runClients(b, syncConns, benchKeys, putKV)

	// The machine is shared: the kinds take turns in short rounds so that
	// a change of load hits them alike. A rate is ops / total time.
	const rounds = 5
	per := max(b.N/rounds, 1)
	var tCustPut, tKVSyncPut, tCustNoSyncPut, tKVPut, tCustGet, tKVGet time.Duration
	// CPU time of the whole process (servers, services, tables, clients)
	// during the no-sync puts and the gets: it moves less with the
	// machine's load than the rates do.
	var cpuCustNoSyncPut, cpuKVPut, cpuCustGet, cpuKVGet time.Duration
	cpuOK := true
	timed := func(acc *time.Duration, cpu *time.Duration, cs []*nats.Conn, op func(*nats.Conn, int) error) {
		c0, ok0 := processCPU()
		start := time.Now()
		runClients(b, cs, per, op)
		*acc += time.Since(start)
		if cpu != nil {
			c1, ok1 := processCPU()
			cpuOK = cpuOK && ok0 && ok1
			*cpu += c1 - c0
		}
	}
	b.ResetTimer()
	for range rounds {
		timed(&tCustPut, nil, conns, putCust)
		timed(&tKVSyncPut, nil, syncConns, putKV)
		timed(&tCustNoSyncPut, &cpuCustNoSyncPut, conns, putCustNoSync)
		timed(&tKVPut, &cpuKVPut, conns, putKV)
		timed(&tCustGet, &cpuCustGet, conns, getCust)
		timed(&tKVGet, &cpuKVGet, conns, getKV)
	}
	total := float64(per * rounds)
	rate := func(d time.Duration) float64 { return total / d.Seconds() }
	custPut, kvSyncPut := rate(tCustPut), rate(tKVSyncPut)
	custNoSyncPut, kvPut := rate(tCustNoSyncPut), rate(tKVPut)
	custGet, kvGet := rate(tCustGet), rate(tKVGet)
	b.StopTimer()
	b.ReportMetric(custPut, "custodian-put/s")
	b.ReportMetric(kvSyncPut, "natskv-fsync-put/s")
	b.ReportMetric(custPut/kvSyncPut, "put-ratio-fsync")
	b.ReportMetric(custNoSyncPut, "custodian-nosync-put/s")
	b.ReportMetric(kvPut, "natskv-put/s")
	b.ReportMetric(custNoSyncPut/kvPut, "put-ratio-nosync")
	b.ReportMetric(custPut/kvPut, "put-ratio-fsync-vs-natskv-default")
	if cpuOK {
		perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / total }
		b.ReportMetric(perOp(cpuCustNoSyncPut), "custodian-nosync-put-cpu-us/op")
		b.ReportMetric(perOp(cpuKVPut), "natskv-put-cpu-us/op")
		b.ReportMetric(perOp(cpuCustGet), "custodian-get-cpu-us/op")
		b.ReportMetric(perOp(cpuKVGet), "natskv-get-cpu-us/op")
	}
	b.ReportMetric(custGet, "custodian-get/s")
	b.ReportMetric(kvGet, "natskv-get/s")
	b.ReportMetric(custGet/kvGet, "get-ratio")
}

// processCPU is the CPU time (user and system, all threads) this process
// has used, from /proc/self/stat (Linux; ok is false elsewhere). Its unit
// is the clock tick (10 ms), so it is meant for sums over many requests.
func processCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(ut+st) * tick, true
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
