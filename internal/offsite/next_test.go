package offsite

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/natstest"
)

// TestNextMsgOnACluster: reading an R3 stream with an ordered consumer on
// a three-server cluster as FetchJournal does (a pulled message stream,
// Messages, not a Next per message: each Next of an ordered consumer
// replaces the consumer, and on a cluster the pull sometimes reaches the
// stream leader before the new consumer is there, "nats: no responders
// available for request", which failed within 20 rounds of 10 messages)
// reads every message once, in order.
func TestNextMsgOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	c := natstest.StartCluster(t, 3)
	nc, err := nats.Connect(c.URLs)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "X", Subjects: []string{"x.>"}, Replicas: 3})
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := js.Publish(ctx, "x.a", []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 20; round++ {
		oc, err := js.OrderedConsumer(ctx, "X", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"x.a"}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := oc.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rd := newStreamReader(js, "X", "x.a", 2*time.Second)
		want := uint64(1)
		for n := info.NumPending; n > 0; n-- {
			m, err := rd.next(ctx)
			if err != nil {
				t.Fatalf("round %d: next (%d left): %v", round, n, err)
			}
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			if md.Sequence.Stream != want {
				t.Fatalf("round %d: stream seq %d, want %d", round, md.Sequence.Stream, want)
			}
			want++
		}
		rd.stop()
	}
}
