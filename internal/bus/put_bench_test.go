package bus

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkNoSyncPut runs one kind of the data-plane comparison alone, so
// that a CPU or memory profile shows only its path: "custodian" is a put
// on a tables.Options{NoSync: true} supervisor through custodian.kv,
// "natskv" a put on a NATS KV bucket (the server's default file store) on
// the same server, both with 16 TCP clients and 1000 existing keys.
// BenchmarkDataPlaneVsNATSKV is the comparison; this one is for profiling:
//
//	go test -run '^$' -bench 'NoSyncPut/custodian' -benchtime 40000x \
//	    -cpuprofile /tmp/cpu.out ./internal/bus/
func BenchmarkNoSyncPut(b *testing.B) {
	setup := func(b *testing.B) (*node, []*nats.Conn) {
		n := startNode(b, nodeOptions{tables: []string{"bench"}})
		conns := make([]*nats.Conn, benchClients)
		for i := range conns {
			conns[i] = connectTCP(b, n.srv.ClientURL())
		}
		return n, conns
	}
	b.Run("custodian", func(b *testing.B) {
		n, conns := setup(b)
		startNoSyncSupervisor(b, n, "benchns")
		put := custodianPut("benchns")
		runClients(b, conns, benchKeys, put)
		b.ResetTimer()
		b.ReportMetric(runClients(b, conns, b.N, put), "put/s")
	})
	b.Run("natskv", func(b *testing.B) {
		_, conns := setup(b)
		ctx := withTimeout(b, 10*time.Minute)
		if _, err := newJS(b, conns[0]).CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bench", Storage: jetstream.FileStorage}); err != nil {
			b.Fatal(err)
		}
		kvOf := map[*nats.Conn]jetstream.KeyValue{}
		for _, c := range conns {
			kv, err := newJS(b, c).KeyValue(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			kvOf[c] = kv
		}
		put := func(c *nats.Conn, i int) error {
			_, err := kvOf[c].Put(ctx, benchKey(i), []byte(benchValue))
			return err
		}
		runClients(b, conns, benchKeys, put)
		b.ResetTimer()
		b.ReportMetric(runClients(b, conns, b.N, put), "put/s")
	})
}
