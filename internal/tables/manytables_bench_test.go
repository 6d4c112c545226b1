package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb/opt"
)

// benchTables is how many tables BenchmarkIdleTables opens:
// CUSTODIAN_BENCH_TABLES, default 200.
func benchTables(b *testing.B) int { return benchEnv(b, "CUSTODIAN_BENCH_TABLES", 200) }

// rssBytes is the process's resident memory (Linux /proc/self/statm).
func rssBytes(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm:", err)
	}
	f := strings.Fields(string(raw))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// openFiles is the number of the process's open file descriptors.
func openFiles(b *testing.B) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// smallTables sizes goleveldb for many small tables (issue 12's
// experiment): a 256 KiB write buffer (the memtable goleveldb allocates
// whole per database), a 256 KiB block cache and 16 open table files.
func smallTables(o *opt.Options) {
	o.WriteBuffer = 256 << 10
	o.BlockCacheCapacity = 256 << 10
	o.OpenFilesCacheCapacity = 16
}

// BenchmarkIdleTables: CUSTODIAN_BENCH_TABLES tables created, a few keys
// written to each, then idle: resident memory and open files added per
// table, with today's goleveldb options and with smallTables; and the put
// throughput of one table with smallTables / with today's (16 writers).
// The figures issue 12 starts from.
//
//	CUSTODIAN_BENCH_TABLES=1000 go test -run '^$' -bench IdleTables -benchtime 1x ./internal/tables/
func BenchmarkIdleTables(b *testing.B) {
	n := benchTables(b)
	ctx := context.Background()
	for _, v := range []struct {
		name    string
		tune    func(*opt.Options)
		maxOpen int // > 0: the bound, and every table put to sleep before measuring
	}{{"goleveldb", goleveldbDefaults, 0}, {"small", smallTables, 0}, {"sized", nil, 0}, {"asleep", nil, 64}} {
		b.Run(v.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runtime.GC()
				heap0, rss0, fd0 := heapInUse(), rssBytes(b), openFiles(b)
				s, err := OpenStore(b.TempDir(), Options{NoSync: true, MaxOpen: v.maxOpen})
				if err != nil {
					b.Fatal(err)
				}
				s.tune = v.tune
				t0 := time.Now()
				for k := 0; k < n; k++ {
					tb, err := s.Open(ctx, fmt.Sprintf("t%05d", k), true)
					if err != nil {
						b.Fatal(err)
					}
					for j := 0; j < 5; j++ {
						if err := tb.Put(ctx, fmt.Sprintf("k%d", j), json.RawMessage(`{"v":1}`)); err != nil {
							b.Fatal(err)
						}
					}
				}
				open := time.Since(t0)
				if v.maxOpen > 0 {
					if _, err := s.SleepIdle(ctx, 0); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				heap, rss, fds := heapInUse()-heap0, rssBytes(b)-rss0, openFiles(b)-fd0
				b.ReportMetric(float64(heap)/float64(n)/1024, "KiB_heap/table")
				// RSS: meaningful for the first variant only (Go keeps
				// freed memory for a while).
				b.ReportMetric(float64(rss)/float64(n)/1024, "KiB_rss/table")
				b.ReportMetric(float64(fds)/float64(n), "fds/table")
				b.ReportMetric(open.Seconds()*1000/float64(n), "ms_create/table")
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("put", func(b *testing.B) {
		// Throughput of one busy table: goleveldb's 4 MiB write buffer,
		// the store's small one, and the small one grown by an idle
		// sweep (sizing.go), alternating rounds.
		var took [3]time.Duration
		for r := 0; r < 3; r++ {
			for i := range took {
				s, err := OpenStore(b.TempDir(), Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					s.tune = goleveldbDefaults
				}
				tb, err := s.Open(ctx, "t", true)
				if err != nil {
					b.Fatal(err)
				}
				value := json.RawMessage(`{"name":"ada lovelace","visits":12345,"tags":["a","b","c"],"pad":"` + strings.Repeat("x", 200) + `"}`)
				if i == 2 {
					runN(b, 12000, 16, func(k int) error { return tb.Put(ctx, fmt.Sprintf("w%06d", k), value) })
					if _, err := s.SleepIdle(ctx, time.Hour); err != nil || !tb.isBusySized() {
						b.Fatalf("the sweep did not grow a busy table's buffer (%v)", err)
					}
				}
				t0 := time.Now()
				runN(b, 30000, 16, func(k int) error { return tb.Put(ctx, fmt.Sprintf("k%06d", k), value) })
				took[i] += time.Since(t0)
				s.Close()
			}
		}
		b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "put_small/goleveldb")
		b.ReportMetric(took[0].Seconds()/took[2].Seconds(), "put_grown/goleveldb")
	})
}

// goleveldbDefaults undoes the store's sizing (sizing.go): goleveldb's own
// defaults, a 4 MiB write buffer, 8 MiB block cache and 500 open files per
// database.
func goleveldbDefaults(o *opt.Options) {
	o.WriteBuffer, o.BlockCacheCapacity, o.OpenFilesCacheCapacity = 0, 0, 0
	o.BlockCacher, o.OpenFilesCacher = nil, nil
}

// heapInUse is the Go heap's bytes in use.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
