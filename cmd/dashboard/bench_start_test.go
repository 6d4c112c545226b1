package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// benchSize reads a positive size from the environment, def when unset.
func benchSize(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q", name, v)
	}
	return n
}

// startCycle is the life of a table as the event stream tells it: each
// table goes through these in turn (9 types: 9 subjects per table).
var startCycle = []string{
	events.CommandAccepted, events.CompactionStarted, events.CompactionCompleted,
	events.BackupStarted, events.BackupCompleted, events.BackupPruned,
	events.DrillStarted, events.VerifyCompleted, events.CompactionStarted, events.CompactionSkipped,
}

// startEvent is event i of a stream spread over tables tables of node n1.
func startEvent(i, tables int) events.Event {
	table := fmt.Sprintf("t%05d", i%tables)
	typ := startCycle[(i/tables)%len(startCycle)]
	e := events.New(typ, "n1", table)
	e.CommandID = "c" + strconv.Itoa(i/tables)
	e.Trigger = events.TriggerSchedule
	switch typ {
	case events.CompactionCompleted:
		e.Result, e.DurationMS = events.ResultOK, 1234
		e.Data = map[string]any{"bytes_before": 2 << 20, "bytes_after": 1 << 20, "records": i, "mode": "native", "dead_ratio": 0.3}
	case events.CompactionSkipped:
		e.Result = events.ResultSkipped
		e.Data = map[string]any{"reason": "dead ratio 0.01 below threshold 0.2"}
	case events.BackupCompleted:
		e.Result, e.DurationMS = events.ResultOK, 420
		e.Data = map[string]any{"backup_id": "20261126T100000.000000000Z-abcdef", "records": i, "bytes": 1 << 20, "position": 3000000000451}
	case events.BackupPruned:
		e.Data = map[string]any{"backup_id": "20261120T100000.000000000Z-abcdef"}
	case events.VerifyCompleted:
		e.Result, e.DurationMS = events.ResultOK, 88
		e.Data = map[string]any{"records": i, "bytes": 1 << 20, "digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	case events.CommandAccepted:
		e.Data = map[string]any{"verb": "compact"}
	}
	return e
}

// fill publishes evs(i) for i < n with async publishes and waits for the
// acknowledgements in batches.
func fill(b *testing.B, js jetstream.JetStream, n int, ev func(int) events.Event) {
	b.Helper()
	for i := 0; i < n; i++ {
		e := ev(i)
		data, err := e.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync(events.PublishSubject(events.DefaultPrefix, e), data); err != nil {
			b.Fatalf("publish %d: %v", i, err)
		}
		if i%4096 == 4095 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(2 * time.Minute):
				b.Fatalf("publish acks stuck at %d", i)
			}
		}
	}
}

// completePage waits until the dashboard at url serves a complete page:
// healthz ready, the page, every table's card and the newest 100 rows of
// the history.
func completePage(ctx context.Context, url string, tables int) error {
	client := &http.Client{Timeout: time.Minute}
	get := func(path string, out any) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if out != nil && resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				return resp.StatusCode, err
			}
		}
		return resp.StatusCode, nil
	}
	for {
		if code, err := get("/healthz", nil); err == nil && code == http.StatusOK {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if code, err := get("/", nil); err != nil || code != http.StatusOK {
		return fmt.Errorf("page: %d %v", code, err)
	}
	var cards []struct {
		Table         string `json:"table"`
		LastBackup    any    `json:"last_backup"`
		Compaction    any    `json:"last_compaction"`
		Bytes         int64  `json:"bytes"`
		StatsTimeText string `json:"stats_time"`
	}
	if code, err := get("/api/tables", &cards); err != nil || code != http.StatusOK {
		return fmt.Errorf("tables: %d %v", code, err)
	}
	if len(cards) != tables {
		return fmt.Errorf("%d cards, want %d", len(cards), tables)
	}
	for _, c := range cards {
		if c.LastBackup == nil || c.Compaction == nil || c.StatsTimeText == "" {
			return fmt.Errorf("card %s incomplete: %+v", c.Table, c)
		}
	}
	var rows []json.RawMessage
	if code, err := get("/api/history?limit=100", &rows); err != nil || code != http.StatusOK || len(rows) != 100 {
		return fmt.Errorf("history: %d rows, %d %v", len(rows), code, err)
	}
	return nil
}

// BenchmarkColdStart starts the dashboard binary against a stream of
// CUSTODIAN_BENCH_EVENTS events (default 200,000) over
// CUSTODIAN_BENCH_TABLES tables (default 10,000; with 3 table.stats each
// in CUSTODIAN_STATS) and measures the time from its start to a complete
// page (healthz ready, the page, every card with its last backup,
// compaction and stats, the newest 100 history rows), best of 3 starts. Baselines measured
// in the same run: reading the stream's last message (the least a start
// can do) and a bare ordered consumer reading the whole stream (the least
// a replay can do).
//
//	CUSTODIAN_BENCH_EVENTS=10000000 go test -run '^$' -bench BenchmarkColdStart -benchtime 1x -timeout 90m ./cmd/dashboard/
func BenchmarkColdStart(b *testing.B) {
	n := benchSize(b, "CUSTODIAN_BENCH_EVENTS", 200_000)
	tables := benchSize(b, "CUSTODIAN_BENCH_TABLES", 10_000)
	ctx := context.Background()
	srv := natstest.Start(b)
	_, js := srv.JetStream(b, jetstream.WithPublishAsyncMaxPending(8192))
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	fill(b, js, n, func(i int) events.Event { return startEvent(i, tables) })
	fill(b, js, 3*tables, func(i int) events.Event {
		e := events.New(events.TableStats, "n1", fmt.Sprintf("t%05d", i%tables))
		e.Trigger, e.Result = events.TriggerSchedule, events.ResultOK
		e.Data = map[string]any{"bytes": 1<<20 + i, "records": i, "dead_records": 3, "dead_ratio": 0.01, "dead_bytes": 4096, "queue": 0, "writes": "ok"}
		return e
	})
	b.Logf("filled %d events and %d table.stats in %s", n, 3*tables, time.Since(began).Round(time.Second))
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		b.Fatal(err)
	}
	if last := stream.CachedInfo().State.LastSeq; last != uint64(n) {
		b.Fatalf("stream holds %d events, want %d", last, n)
	}
	bin := build(b)

	// Baselines: the stream's last message; a bare replay of it all.
	t0 := time.Now()
	if _, err := stream.GetLastMsgForSubject(ctx, events.StreamSubjects(events.DefaultPrefix)); err != nil {
		b.Fatal(err)
	}
	lastMsg := time.Since(t0)
	replay := bareReplay(ctx, b, stream, uint64(n))

	b.ResetTimer()
	var best time.Duration
	for i := 0; i < b.N; i++ {
		for range startRounds {
			d := coldStart(ctx, b, bin, srv.URL(), tables)
			if best == 0 || d < best {
				best = d
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(best.Milliseconds()), "start_ms")
	b.ReportMetric(float64(lastMsg.Microseconds())/1000, "last_msg_ms")
	b.ReportMetric(float64(replay.Milliseconds()), "bare_replay_ms")
	b.ReportMetric(best.Seconds()/replay.Seconds(), "start/replay")
	b.Logf("%d events, %d tables: complete page %s after start (best of %d); last message %s; bare replay of the stream %s",
		n, tables, best.Round(time.Millisecond), b.N*startRounds, lastMsg, replay.Round(time.Millisecond))
}

// startRounds is how many cold starts each iteration runs (the best
// counts): filling the stream is what takes long.
const startRounds = 3

// coldStart runs the dashboard binary and returns the time from its start
// to a complete page.
func coldStart(ctx context.Context, b *testing.B, bin, natsURL string, tables int) time.Duration {
	b.Helper()
	addr := freeAddr(b)
	cmd := exec.Command(bin, "--nats", natsURL, "--listen", addr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := completePage(wctx, "http://"+addr, tables); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// bareReplay reads the whole stream with an ordered consumer and does
// nothing with it.
func bareReplay(ctx context.Context, b *testing.B, stream jetstream.Stream, last uint64) time.Duration {
	b.Helper()
	start := time.Now()
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	for n := uint64(0); n < last; n++ {
		if _, err := it.Next(jetstream.NextContext(ctx)); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}
