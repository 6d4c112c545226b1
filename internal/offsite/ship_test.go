package offsite

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/tables"
)

// churn writes n batches of 10 puts of ~2 KiB values and a delete.
func churn(t *testing.T, tb *tables.Table, prefix string, n int) {
	t.Helper()
	for b := 0; b < n; b++ {
		var ops []tables.Op
		for i := 0; i < 10; i++ {
			ops = append(ops, tables.Op{Op: "put", Key: fmt.Sprintf("%s%03d", prefix, (b*10+i)%100),
				Value: json.RawMessage(fmt.Sprintf(`{"b":%d,"pad":"%02000d"}`, b, i))})
		}
		ops = append(ops, tables.Op{Op: "delete", Key: fmt.Sprintf("%s%03d", prefix, (b*7)%100)})
		if err := tb.Batch(context.Background(), ops); err != nil {
			t.Fatal(err)
		}
	}
}

// streamOps reads every journal message of table from the stream, in
// order, and returns the ops (positions set) and the generation records.
func streamOps(t *testing.T, js jetstream.JetStream, node, table string) (ops []changelog.Op, gens []uint64) {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, JournalStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{journalSubject("", node, table)},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := info.NumPending; n > 0; n-- {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("next journal message (%d left): %v", n, err)
		}
		if g := m.Headers().Get(HeaderGenerationRecord); g != "" {
			n, _ := strconv.ParseUint(g, 10, 64)
			gens = append(gens, n)
			continue
		}
		gen, _ := strconv.ParseUint(m.Headers().Get(HeaderGeneration), 10, 64)
		rec, err := changelog.DecodeRecord(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range rec {
			op.Seq = changelog.PositionOf(gen, op.Seq)
			ops = append(ops, op)
		}
	}
	return ops, gens
}

// TestShipperShipsEveryWriteOnceAcrossAnOutage: a table written past
// journal flushes and a rewrite (two generations) while the shipper runs
// rounds; NATS is stopped while writes go on (rounds fail, the lag grows),
// then started again: the stream holds every op of the table's history
// once, in order, at the positions a local replay gives, and the lag is
// back to zero.
func TestShipperShipsEveryWriteOnceAcrossAnOutage(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tables.OpenStore(t.TempDir(), tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tb, err := s.Open(ctx, "users", true)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := NewShipper(ctx, js, Config{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	sh.Track("users", tb)
	churn(t, tb, "a", 50)
	if err := sh.ShipAll(ctx); err != nil {
		t.Fatal(err)
	}
	churn(t, tb, "b", 200) // ~4 MiB: a journal flush
	if _, err := tb.Compact(ctx, tables.ModeRewrite, nil); err != nil {
		t.Fatal(err)
	}
	if err := sh.ShipAll(ctx); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	churn(t, tb, "c", 30)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := sh.ShipAll(sctx); err == nil {
		t.Fatal("a round with NATS down succeeded")
	}
	cancel()
	time.Sleep(50 * time.Millisecond)
	if st, _ := sh.Status("users"); st.Lag <= 0 || st.Err == nil {
		t.Fatalf("status while NATS is down: %+v", st)
	}
	srv.Restart()
	churn(t, tb, "d", 10)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := sh.ShipAll(rctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shipping after NATS came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := sh.Status("users"); st.Lag != 0 || st.Err != nil {
		t.Fatalf("status after catching up: %+v", st)
	}

	got, gens := streamOps(t, js, "n1", "users")
	j, err := tb.Journal()
	if err != nil {
		t.Fatal(err)
	}
	var want []changelog.Op
	if _, err := j.Replay(changelog.Replay{}, func(op changelog.Op) error {
		want = append(want, op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != 290*11 || len(got) != len(want) {
		t.Fatalf("stream holds %d ops, the local replay %d, want %d", len(got), len(want), 290*11)
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || string(got[i].Key) != string(want[i].Key) || string(got[i].Value) != string(want[i].Value) {
			t.Fatalf("op %d: stream %d %q, local %d %q", i, got[i].Seq, got[i].Key, want[i].Seq, want[i].Key)
		}
	}
	if len(gens) != 1 || gens[0] != 1 {
		t.Fatalf("generation records in the stream: %v, want [1]", gens)
	}
}
