package bus

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/custodian-dev/custodian/internal/tables"
)

// The documented limits agree with the default body limit: a put of the
// longest key and the largest value fits DefaultMaxBody (and nats-server's
// default max_payload) and is stored; one byte more of value is too_large
// from the table, not from the body limit.
func TestLargestValueFitsTheDefaultBody(t *testing.T) {
	if DefaultMaxBody > server.MAX_PAYLOAD_SIZE {
		t.Fatalf("DefaultMaxBody %d exceeds nats-server's default max_payload %d", DefaultMaxBody, server.MAX_PAYLOAD_SIZE)
	}
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	key := strings.Repeat("k", tables.MaxKeyBytes)
	put := func(valueBytes int) reply {
		value := `"` + strings.Repeat("v", valueBytes-2) + `"`
		body := `{"key":"` + key + `","value":` + value + `}`
		if len(body) > DefaultMaxBody {
			t.Fatalf("a put of a %d-byte value is %d bytes, over the default body limit %d", valueBytes, len(body), DefaultMaxBody)
		}
		return n.request(t, "custodian.kv.users.put", body)
	}
	if r := put(tables.MaxValueBytes); r.errCode() != "" {
		t.Fatalf("the largest value: %.300s", r.msg.Data)
	}
	got := n.ok(t, "custodian.kv.users.get", `{"key":"`+key+`"}`)
	if v, _ := got["value"].(string); len(v) != tables.MaxValueBytes-2 {
		t.Fatalf("read back %d bytes", len(v))
	}
	r := put(tables.MaxValueBytes + 1)
	if r.errCode() != "too_large" || !strings.Contains(string(r.msg.Data), "value of") {
		t.Fatalf("one byte over: %.300s", r.msg.Data)
	}
}
