package notifier

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// benchEnv publishes b.N notifying events and returns the env and a
// webhook that counts requests.
func benchEnv(b *testing.B) (*env, string, *atomic.Int64) {
	b.Helper()
	srv := natstest.Start(b)
	nc := connectB(b, srv.URL())
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	natstest.CreateStream(ctx, b, js, testPrefix)
	for i := 0; i < b.N; i++ {
		natstest.MustPublish(ctx, b, js, testPrefix, events.New(events.BackupFailed, "n1", fmt.Sprintf("t%d", i%100)))
	}
	var hits atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hits.Add(1)
	}))
	b.Cleanup(hook.Close)
	return &env{srv: srv, nc: nc, js: js}, hook.URL, &hits
}

// BenchmarkBaselineConsumePostAck is the naive notifier: consume, POST,
// ack, with no delivered set, no notification.* events, no digests.
func BenchmarkBaselineConsumePostAck(b *testing.B) {
	e, url, hits := benchEnv(b)
	ctx := context.Background()
	filters := []string{}
	for _, typ := range notifyingTypes() {
		filters = append(filters, events.TypeFilter(testPrefix, typ))
	}
	cons, err := e.js.CreateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{
		Durable: "naive", FilterSubjects: filters, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1000,
	})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	b.ResetTimer()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		resp, err := client.Post(url, "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
		_ = m.DoubleAck(ctx)
	})
	if err != nil {
		b.Fatal(err)
	}
	for hits.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cc.Stop()
}

// BenchmarkNotifierDeliver runs the notifier on the same load: delivered
// set check and mark, notification.sent, ack, one webhook.
func BenchmarkNotifierDeliver(b *testing.B) {
	e, url, hits := benchEnv(b)
	cfg := testConfig("bench")
	cfg.Webhooks = []string{url}
	cfg.Burst = 1 << 30
	cfg.GroupWait = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- Run(ctx, e.nc, cfg) }()
	for hits.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	// Delivered means acked too.
	for !e.drained("bench") {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
