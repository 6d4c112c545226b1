package projections

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// benchEvents is how many events the replay benchmark puts in the stream:
// 1,000,000 unless CUSTODIAN_BENCH_EVENTS says otherwise.
func benchEvents(b *testing.B) int {
	if v := os.Getenv("CUSTODIAN_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CUSTODIAN_BENCH_EVENTS=%q", v)
		}
		return n
	}
	return 1_000_000
}

// benchEvent is a realistic event: 3 nodes, 64 tables, every kind of
// maintenance event with figures.
func benchEvent(i int) events.Event {
	table := fmt.Sprintf("table-%02d", i%64)
	nd := fmt.Sprintf("node-%d", (i/64)%3)
	var e events.Event
	switch i % 8 {
	case 0:
		e = events.New(events.TableStats, nd, table)
		e.Data = map[string]any{"bytes": 1 << 20, "records": i, "dead_records": i % 1000, "dead_ratio": 0.12, "dead_bytes": 4096}
	case 1:
		e = events.New(events.CommandAccepted, nd, table)
		e.CommandID = events.NewID()
		e.Trigger = events.TriggerSchedule
		e.Data = map[string]any{"verb": "compact"}
	case 2:
		e = events.New(events.CompactionStarted, nd, table)
		e.Trigger = events.TriggerSchedule
		e.Attempt = 1
	case 3:
		e = events.New(events.CompactionCompleted, nd, table)
		e.Trigger, e.Attempt, e.Result, e.DurationMS = events.TriggerSchedule, 1, events.ResultOK, 1234
		e.Data = map[string]any{"bytes_before": 2 << 20, "bytes_after": 1 << 20, "records": i, "mode": "native", "dead_ratio": 0.3}
	case 4:
		e = events.New(events.BackupStarted, nd, table)
	case 5:
		e = events.New(events.BackupCompleted, nd, table)
		e.Result, e.DurationMS = events.ResultOK, 420
		e.Data = map[string]any{"backup_id": "20261126T100000.000000000Z", "records": i, "bytes": 1 << 20}
	case 6:
		e = events.New(events.VerifyCompleted, nd, table)
		e.Result, e.DurationMS = events.ResultOK, 88
		e.Data = map[string]any{"records": i}
	default:
		e = events.New(events.CompactionSkipped, nd, table)
		e.Result = events.ResultSkipped
		e.Data = map[string]any{"reason": "dead ratio 0.01 below threshold 0.2", "next_compaction": "2026-11-26T12:00:00Z"}
	}
	return e
}

// fillStream publishes n events with async publishes (Nats-Msg-Id set as
// the outbox does) and returns the last sequence.
func fillStream(ctx context.Context, b *testing.B, js jetstream.JetStream, n int) uint64 {
	b.Helper()
	for i := 0; i < n; i++ {
		e := benchEvent(i)
		data, err := e.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync(events.PublishSubject(prefix, e), data, jetstream.WithMsgID(e.ID)); err != nil {
			b.Fatalf("publish %d: %v", i, err)
		}
		if i%2048 == 2047 || i == n-1 {
			// Let the acks catch up in batches: a stalled async
			// publisher fails instead of waiting.
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatalf("publish acks stuck at %d", i)
			}
		}
	}
	info, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		b.Fatal(err)
	}
	last := info.CachedInfo().State.LastSeq
	if want := uint64(n - (n+7)/8); last != want { // one in 8 is a table.stats
		b.Fatalf("stream holds %d events, want %d", last, want)
	}
	return last
}

// rawReplay reads the whole stream with an ordered consumer and does
// nothing with it: the baseline.
func rawReplay(ctx context.Context, b *testing.B, js jetstream.JetStream, last uint64) time.Duration {
	b.Helper()
	start := time.Now()
	cons, err := js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	var n uint64
	var bytes int
	for n < last {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(msg.Data())
		n++
	}
	d := time.Since(start)
	if bytes == 0 {
		b.Fatal("empty messages")
	}
	return d
}

// projectionStart runs the real Consumer into a fresh Projection until it
// is ready: it has read the newest event of each subject and the
// history's window (not the whole stream).
func projectionStart(ctx context.Context, b *testing.B, js jetstream.JetStream, last uint64) time.Duration {
	b.Helper()
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := New(Options{})
	c := NewConsumer(js, events.StreamName, p, 0)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-c.Ready()
	d := time.Since(start)
	if got := p.LastSeq(); got < last {
		b.Fatalf("ready at %d of %d", got, last)
	}
	cancel()
	<-done
	var applied uint64
	p.Read(func(s *State) { applied = s.Applied() })
	if applied != min(last, DefaultHistoryLimit) {
		b.Fatalf("applied %d, want the window of %d", applied, min(last, DefaultHistoryLimit))
	}
	return d
}

// BenchmarkReplay compares the start of the projections on the stream
// (newest event per subject, then the history's window: see Consumer)
// with a raw ordered-consumer replay of the same stream, in the same run.
// Each iteration runs both three times, alternating, and keeps the best of
// each. The rates are events of the stream per second of each.
//
//	CUSTODIAN_BENCH_EVENTS=1000000 go test -run '^$' -bench BenchmarkReplay -benchtime 1x ./internal/projections/
func BenchmarkReplay(b *testing.B) {
	ctx := context.Background()
	n := benchEvents(b)
	_, _, js := natstest.StartWithStream(ctx, b, prefix, jetstream.WithPublishAsyncMaxPending(4096))
	last := fillStream(ctx, b, js, n)

	b.ResetTimer()
	var raw, proj time.Duration
	for i := 0; i < b.N; i++ {
		for round := 0; round < 3; round++ {
			r := rawReplay(ctx, b, js, last)
			p := projectionStart(ctx, b, js, last)
			if raw == 0 || r < raw {
				raw = r
			}
			if proj == 0 || p < proj {
				proj = p
			}
		}
	}
	b.StopTimer()
	rawRate := float64(last) / raw.Seconds()
	projRate := float64(last) / proj.Seconds()
	b.ReportMetric(rawRate, "raw_events/s")
	b.ReportMetric(projRate, "projection_start_events/s")
	b.ReportMetric(projRate/rawRate, "ratio")
	b.Logf("%d events: raw ordered consumer %v (%.0f/s), projections' start %v (%.0f/s), ratio %.2f", n, raw, rawRate, proj, projRate, projRate/rawRate)
}

// BenchmarkDecodeApply is the projection's own cost per event, without
// NATS: decode the stream's JSON and fold it in.
func BenchmarkDecodeApply(b *testing.B) {
	const n = 4096
	msgs := make([][]byte, n)
	for i := range msgs {
		e := benchEvent(i)
		var err error
		if msgs[i], err = e.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
	p := New(Options{})
	d := newDecoder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := d.decode(msgs[i%n])
		if err != nil {
			b.Fatal(err)
		}
		p.Apply(uint64(i+1), e)
	}
}
