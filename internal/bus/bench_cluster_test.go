package bus

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/natstest"
)

// The data of the data-plane benchmarks: benchKeys keys, every one written
// before the timed rounds (so every timed put is an overwrite), and one
// 60-byte JSON value.
const (
	benchKeys  = 1000
	benchValue = `{"name":"ada lovelace","visits":12345,"tags":["a","b","c"]}`
)

func benchKey(i int) string { return fmt.Sprintf("k%05d", i%benchKeys) }

// benchKind is one kind of operation of an interleaved benchmark.
type benchKind struct {
	name string
	op   func(c *nats.Conn, i int) error
}

// interleave runs per operations of each kind (spread over conns), kind
// after kind, rounds times, so that a change of the machine's load hits
// every kind alike, and returns each kind's operations per second over its
// rounds.
func interleave(b *testing.B, conns []*nats.Conn, rounds, per int, kinds []benchKind) []float64 {
	b.Helper()
	spent := make([]time.Duration, len(kinds))
	for range rounds {
		for i, k := range kinds {
			start := time.Now()
			runClients(b, conns, per, k.op)
			spent[i] += time.Since(start)
		}
	}
	rates := make([]float64, len(kinds))
	for i := range kinds {
		rates[i] = float64(rounds*per) / spent[i].Seconds()
	}
	return rates
}

// custodianPut is a client's put of key i through custodian.kv.<table>.put.
func custodianPut(table string) func(c *nats.Conn, i int) error {
	subject := "custodian.kv." + table + ".put"
	return func(c *nats.Conn, i int) error {
		m, err := c.Request(subject, fmt.Appendf(nil, `{"key":%q,"value":%s}`, benchKey(i), benchValue), 30*time.Second)
		if err == nil && m.Header.Get("Nats-Service-Error-Code") != "" {
			err = fmt.Errorf("put: %s", m.Data)
		}
		return err
	}
}

// custodianGet is a client's get of key i through custodian.kv.<table>.get.
func custodianGet(table string) func(c *nats.Conn, i int) error {
	subject := "custodian.kv." + table + ".get"
	return func(c *nats.Conn, i int) error {
		m, err := c.Request(subject, fmt.Appendf(nil, `{"key":%q}`, benchKey(i)), 30*time.Second)
		if err == nil && m.Header.Get("Nats-Service-Error-Code") != "" {
			err = fmt.Errorf("get: %s", m.Data)
		}
		return err
	}
}

// BenchmarkDataPlaneVsReplicatedKV measures the premise of the issue's
// figure, "we skip its replication path", where NATS KV has one: on a
// three-server JetStream cluster (TCP routes on loopback, all in this
// process, sharing its 2 cores), a NATS KV bucket with 3 replicas (what
// users who outgrew one machine pick for safety) against custodian puts
// and gets, with the same 16 TCP clients, all connected to server s0.
// The supervisors connect to s0 over TCP, as cmd/supervisor does with
// --nats; the event stream has 3 replicas, as with --replicas 3.
//
// Kinds, in interleaved rounds as in BenchmarkDataPlaneVsNATSKV: custodian
// put (fsync, node n1, table bench), custodian put (NoSync, node n2, table
// benchns), NATS KV put on an R3 bucket, NATS KV put on an R1 bucket of the
// same cluster (for scale: what a put costs without replication here),
// custodian get, NATS KV get on the R3 bucket. b.N operations of each.
//
// There is no equal durability here: an R3 put that answers is in the
// memory (and OS) of two servers of three and survives the loss of one
// whole machine, disk included; a custodian put survives a power loss of
// its machine (fsync) or a crash of the process (NoSync), and a lost disk
// only up to its last backup.
func BenchmarkDataPlaneVsReplicatedKV(b *testing.B) {
	servers := natstest.StartCluster(b, 3).Servers
	ctx := withTimeout(b, 10*time.Minute)
	supNC := connectTCP(b, servers[0].ClientURL())
	js := newJS(b, supNC)
	if _, err := EnsureStream(ctx, js, StreamConfig{Replicas: 3}); err != nil {
		b.Fatal(err)
	}
	ob := openOutbox(b, filepath.Join(b.TempDir(), "outbox"))
	runOutbox(b, ob, js)
	startBenchSupervisor(b, supNC, ob, filepath.Join(b.TempDir(), "store"), "n1", "bench", false)
	startBenchSupervisor(b, supNC, ob, filepath.Join(b.TempDir(), "store-nosync"), "n2", "benchns", true)

	conns := make([]*nats.Conn, benchClients)
	for i := range conns {
		conns[i] = connectTCP(b, servers[0].ClientURL())
	}
	// The meta group is elected (EnsureStream got its stream in).
	for _, r := range []int{1, 3} {
		cfg := jetstream.KeyValueConfig{Bucket: fmt.Sprintf("r%d", r), Storage: jetstream.FileStorage, Replicas: r}
		if _, err := newJS(b, conns[0]).CreateKeyValue(ctx, cfg); err != nil {
			b.Fatalf("bucket %s: %v", cfg.Bucket, err)
		}
	}
	type buckets struct{ r1, r3 jetstream.KeyValue }
	kvOf := map[*nats.Conn]buckets{}
	for _, c := range conns {
		var kb buckets
		var err error
		if kb.r1, err = newJS(b, c).KeyValue(ctx, "r1"); err != nil {
			b.Fatal(err)
		}
		if kb.r3, err = newJS(b, c).KeyValue(ctx, "r3"); err != nil {
			b.Fatal(err)
		}
		kvOf[c] = kb
	}
	kvPut := func(r3 bool) func(c *nats.Conn, i int) error {
		return func(c *nats.Conn, i int) error {
			kv := kvOf[c].r1
			if r3 {
				kv = kvOf[c].r3
			}
			_, err := kv.Put(ctx, benchKey(i), []byte(benchValue))
			return err
		}
	}
	kvGetR3 := func(c *nats.Conn, i int) error {
		_, err := kvOf[c].r3.Get(ctx, benchKey(i))
		return err
	}

	kinds := []benchKind{
		{"custodian-put/s", custodianPut("bench")},
		{"custodian-nosync-put/s", custodianPut("benchns")},
		{"natskv-r3-put/s", kvPut(true)},
		{"natskv-r1-put/s", kvPut(false)},
		{"custodian-get/s", custodianGet("bench")},
		{"natskv-r3-get/s", kvGetR3},
	}
	for _, k := range kinds[:4] { // every key exists before the timed rounds
		runClients(b, conns, benchKeys, k.op)
	}
	b.ResetTimer()
	rates := interleave(b, conns, 5, max(b.N/5, 1), kinds)
	b.StopTimer()
	rate := map[string]float64{}
	for i, k := range kinds {
		rate[k.name] = rates[i]
		b.ReportMetric(rates[i], k.name)
	}
	b.ReportMetric(rate["custodian-nosync-put/s"]/rate["natskv-r3-put/s"], "put-ratio-nosync-vs-r3")
	b.ReportMetric(rate["custodian-put/s"]/rate["natskv-r3-put/s"], "put-ratio-fsync-vs-r3")
	b.ReportMetric(rate["custodian-nosync-put/s"]/rate["natskv-r1-put/s"], "put-ratio-nosync-vs-r1")
	b.ReportMetric(rate["custodian-get/s"]/rate["natskv-r3-get/s"], "get-ratio-vs-r3")
}
