package bus

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkNoopResponderCeiling is the ceiling of any request/reply service
// on this machine: a responder that answers at once, on the supervisor's
// in-process connection, with the same 16 TCP clients.
func BenchmarkNoopResponderCeiling(b *testing.B) {
	n := startNode(b, nodeOptions{tables: []string{"bench"}})
	sub, err := n.nc.Subscribe("noop.*", func(m *nats.Msg) { _ = m.Respond([]byte(`{"ok":true}`)) })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := n.nc.Flush(); err != nil {
		b.Fatal(err)
	}
	conns := make([]*nats.Conn, benchClients)
	for i := range conns {
		conns[i] = connectTCP(b, n.srv.ClientURL())
	}
	b.ResetTimer()
	rate := runClients(b, conns, b.N, func(c *nats.Conn, i int) error {
		_, err := c.Request("noop.x", []byte(`{"key":"k00001"}`), 30*time.Second)
		return err
	})
	b.ReportMetric(rate, "noop-req/s")
}
