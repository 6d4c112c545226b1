package scale

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/natstest"
)

// Sizes of BenchmarkManyTables beyond CUSTODIAN_BENCH_TABLES.
const (
	// benchWorkers is how many requests the harness keeps in flight while
	// it creates and writes (2 cores).
	benchWorkers = 8
	// benchSamples is how many gets each latency figure takes at most (a
	// closed-table get needs a table of its own: at most tables - 2).
	benchSamples = 1000
	// rawOpenCap bounds the raw goleveldb databases held open together in
	// the memory baseline: goleveldb holds 4 descriptors per database and
	// the host allows 20,000; its figures are per database.
	rawOpenCap = 3000
)

// BenchmarkManyTables measures a node that owns many tables (issue 12),
// with the real supervisor binary against a nats-server started here:
//
//  1. it creates CUSTODIAN_BENCH_TABLES tables (default 200) with
//     custodian.node.<node>.create and writes 3 keys to each with
//     custodian.kv.<table>.put, then lets them go idle for
//     CUSTODIAN_BENCH_IDLE (default 45s, past the default idle_close of 30s): resident memory (VmRSS, per
//     table: total and added since the node had none), peak (VmHWM) and
//     open files (/proc/<pid>/fd);
//  2. it stops the supervisor (SIGTERM) and starts it again: start_s is
//     the time until a get on the last and on the first table answers;
//  3. p50/p99 of a get on a table not used since that start (an idle
//     table: closed, where idle tables are closed), each sample on another
//     table, and of a get on a table just used (open);
//  4. custodian.node.<node>.compact {"force":true}: tables per second until
//     every table's compaction.completed (or skipped) event is seen.
//
// Baselines in the same run: raw goleveldb with its default options in a
// child process (the same tables created, then min(tables, 3000) of them
// opened together: memory and descriptors per database, time per open;
// every one opened, compacted and closed: tables per second), and a NATS
// request answered here by a get on raw goleveldb (held open, or opened
// and closed for each request), timed alternately with the supervisor's.
// CUSTODIAN_BENCH_MAX_OPEN_TABLES, when set, is written to the config as
// max_open_tables (a key the supervisor refuses until it exists). Run
// without -race.
func BenchmarkManyTables(b *testing.B) {
	n := envInt(b, "CUSTODIAN_BENCH_TABLES", 200)
	if n < 3 {
		b.Fatalf("CUSTODIAN_BENCH_TABLES=%d: want at least 3", n)
	}
	maxOpen := envInt(b, "CUSTODIAN_BENCH_MAX_OPEN_TABLES", 0)
	idle := envDuration(b, "CUSTODIAN_BENCH_IDLE", 45*time.Second)
	bin := buildSupervisor(b)
	for range b.N {
		benchManyTables(b, bin, n, maxOpen, idle)
	}
}

func benchManyTables(b *testing.B, bin string, n, maxOpen int, idle time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Minute)
	defer cancel()
	samples := min(benchSamples, n-2)

	// Raw goleveldb, in a child process of its own.
	rawDir := b.TempDir()
	runRaw(b, "create", rawDir, n)
	rawN := min(n, rawOpenCap)
	rawOpen := runRaw(b, "open", rawDir, rawN)
	rawCompact := runRaw(b, "compact", rawDir, n)

	// The supervisor with no table yet.
	srv := natstest.Start(b)
	nc, err := nats.Connect(srv.URL(), nats.Name("scale-client"))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	const node = "scale"
	c := client{nc: nc, node: node}
	cfg := filepath.Join(b.TempDir(), "supervisor.yaml")
	nodeConfig{Data: b.TempDir(), Node: node, NATSURL: srv.URL(), MaxOpenTables: maxOpen}.write(b, cfg)
	p := startSupervisor(b, bin, cfg)
	if err := c.waitStatus(ctx, p); err != nil {
		b.Fatal(err)
	}
	empty := settle(b, p, 2*time.Second)

	// N tables, a few keys each, then idle.
	start := time.Now()
	if err := c.fill(ctx, 0, n, benchWorkers); err != nil {
		b.Fatalf("%d tables: %v", n, err)
	}
	fillTook := time.Since(start)
	idled := settle(b, p, idle)
	b.Logf("%d tables: empty %v; after writes and %v idle %v", n, empty, idle, idled)

	// Stop, start again: until the last and the first table answer.
	start = time.Now()
	p.stop(b, 10*time.Minute)
	stopTook := time.Since(start)
	start = time.Now()
	p = startSupervisor(b, bin, cfg)
	if _, err := c.waitServing(ctx, p, tableName(n-1), start); err != nil {
		b.Fatal(err)
	}
	startTook, err := c.waitServing(ctx, p, tableName(0), start)
	if err != nil {
		b.Fatal(err)
	}
	subs := srv.S.NumSubscriptions()

	// Gets, each alternating with the same get on raw goleveldb behind a
	// NATS responder: each closed sample on a table not used since the
	// start, the open ones on the table the start probe just read.
	serveRaw(b, srv.URL(), rawDir)
	closed, rawClosed, err := timedPair(ctx, samples, func(ctx context.Context, i int) error {
		_, err := c.get(ctx, tableName(1+i), "k1")
		return err
	}, func(ctx context.Context, i int) error {
		_, err := c.request(ctx, rawClosedSubject, map[string]string{"table": tableName(1 + i), "key": "k1"})
		return err
	})
	if err != nil {
		b.Fatalf("get on an idle table: %v", err)
	}
	open, rawOpenGets, err := timedPair(ctx, benchSamples, func(ctx context.Context, _ int) error {
		_, err := c.get(ctx, tableName(0), "k1")
		return err
	}, func(ctx context.Context, _ int) error {
		_, err := c.request(ctx, rawOpenSubject, map[string]string{"key": "k1"})
		return err
	})
	if err != nil {
		b.Fatalf("get on an open table: %v", err)
	}
	restarted, err := readProc(fmt.Sprint(p.pid()))
	if err != nil {
		b.Fatal(err)
	}

	// Node-wide compaction.
	compactTook, err := compactAll(ctx, nc, node, n, `{"force":true}`)
	if err != nil {
		b.Fatal(err)
	}
	final, err := readProc(fmt.Sprint(p.pid()))
	if err != nil {
		b.Fatal(err)
	}
	p.stop(b, 10*time.Minute)
	b.Logf("restarted: %v after gets; %v after the compaction of every table", restarted, final)

	kib := func(bytes int64) float64 { return float64(bytes) / 1024 }
	perTable := kib(idled.RSS) / float64(n)
	added := kib(idled.RSS-empty.RSS) / float64(n)
	rawPerTable := kib(rawOpen.After.RSS-rawOpen.Before.RSS) / float64(rawN)
	rawOpenPerTable := rawOpen.Took.Seconds() / float64(rawN)
	compactRate := float64(n) / compactTook.Seconds()
	rawCompactRate := float64(n) / rawCompact.Took.Seconds()
	getClosed, getOpen := percentileMS(closed, 99), percentileMS(open, 99)
	rawGetClosed, rawGetOpen := percentileMS(rawClosed, 99), percentileMS(rawOpenGets, 99)

	b.ReportMetric(float64(n), "tables")
	b.ReportMetric(float64(n)/fillTook.Seconds(), "create_tables/s")
	b.ReportMetric(mib(idled.RSS), "rss_MiB")
	b.ReportMetric(perTable, "rss_KiB/table")
	b.ReportMetric(added, "rss_KiB/table_added")
	b.ReportMetric(mib(idled.HWM), "hwm_MiB")
	b.ReportMetric(float64(idled.FDs), "fds")
	b.ReportMetric(float64(idled.FDs-empty.FDs)/float64(n), "fds/table")
	b.ReportMetric(stopTook.Seconds(), "stop_s")
	b.ReportMetric(startTook.Seconds(), "start_s")
	b.ReportMetric(mib(restarted.RSS), "rss_MiB_restart")
	b.ReportMetric(float64(restarted.FDs), "fds_restart")
	b.ReportMetric(mib(final.HWM), "hwm_MiB_restart")
	b.ReportMetric(float64(subs), "nats_subs")
	b.ReportMetric(percentileMS(closed, 50), "get_p50_ms_closed")
	b.ReportMetric(getClosed, "get_p99_ms_closed")
	b.ReportMetric(percentileMS(open, 50), "get_p50_ms_open")
	b.ReportMetric(getOpen, "get_p99_ms_open")
	b.ReportMetric(compactRate, "compact_tables/s")

	b.ReportMetric(rawPerTable, "raw_rss_KiB/table")
	b.ReportMetric(float64(rawOpen.After.FDs-rawOpen.Before.FDs)/float64(rawN), "raw_fds/table")
	b.ReportMetric(rawOpenPerTable*1000, "raw_open_ms/table")
	b.ReportMetric(rawGetClosed, "raw_get_p99_ms_closed")
	b.ReportMetric(rawGetOpen, "raw_get_p99_ms_open")
	b.ReportMetric(rawCompactRate, "raw_compact_tables/s")

	b.ReportMetric(added/rawPerTable, "rss_x_raw")
	b.ReportMetric(startTook.Seconds()/(rawOpenPerTable*float64(n)), "start_x_raw")
	b.ReportMetric(getClosed/rawGetClosed, "get_closed_x_raw")
	b.ReportMetric(getOpen/rawGetOpen, "get_open_x_raw")
	b.ReportMetric(compactRate/rawCompactRate, "compact_x_raw")
}

// settle waits d (the process goes idle) and reads its figures.
func settle(tb testing.TB, p *supervisorProc, d time.Duration) procFigures {
	tb.Helper()
	select {
	case <-p.done:
		tb.Fatal(p.exitError())
	case <-time.After(d):
	}
	f, err := readProc(fmt.Sprint(p.pid()))
	if err != nil {
		tb.Fatal(err)
	}
	return f
}
