package offsite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/tables"
)

// putN runs n puts on 16 writers over 1,000 keys and returns the time.
func putN(b *testing.B, tb *tables.Table, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	value := json.RawMessage(`{"name":"ada lovelace","visits":12345,"tags":["a","b","c"]}`)
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := tb.Put(ctx, fmt.Sprintf("k%05d", i%1000), value); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

// BenchmarkShippingOverhead: table puts (16 writers, fsynced) while the
// journal shipper runs every 250 ms to an embedded JetStream server,
// against the same puts on a table not shipped; rounds alternate. Goal
// (issue 11): put with --offsite on >= 0.9 of off.
//
//	go test -run '^$' -bench ShippingOverhead -benchtime 1x ./internal/offsite/
func BenchmarkShippingOverhead(b *testing.B) {
	ctx := context.Background()
	srv := natstest.Start(b)
	js, err := jetstream.New(srv.Connect(b))
	if err != nil {
		b.Fatal(err)
	}
	sh, err := NewShipper(ctx, js, Config{Node: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	open := func(name string) *tables.Table {
		s, err := tables.OpenStore(b.TempDir(), tables.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		tb, err := s.Open(ctx, name, true)
		if err != nil {
			b.Fatal(err)
		}
		return tb
	}
	shipped, plain := open("shipped"), open("plain")
	sh.Track("shipped", shipped)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); sh.Run(rctx, 250*time.Millisecond) }()
	const per, rounds = 8000, 6
	var on, off time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			on += putN(b, shipped, per)
			off += putN(b, plain, per)
		}
	}
	b.StopTimer()
	cancel()
	<-done
	if err := sh.ShipAll(ctx); err != nil {
		b.Fatal(err)
	}
	n := float64(per * rounds * b.N)
	b.ReportMetric(on.Seconds()*1e6/n, "µs/put_offsite_on")
	b.ReportMetric(off.Seconds()*1e6/n, "µs/put_offsite_off")
	b.ReportMetric(off.Seconds()/on.Seconds(), "put_on/off")
}

// benchMiB is the table size of BenchmarkRebuild: CUSTODIAN_BENCH_MIB
// (scripts/bench.sh full: 256), default 32.
func benchMiB(b *testing.B) int {
	if v := os.Getenv("CUSTODIAN_BENCH_MIB"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			return n
		}
		b.Fatalf("CUSTODIAN_BENCH_MIB=%q", v)
	}
	return 32
}

// BenchmarkRebuild: a table of CUSTODIAN_BENCH_MIB MiB (4 KiB values)
// backed up and copied off-site, then 10,000 more writes shipped; the
// time to rebuild it from the bucket and the stream (download, fetch the
// journal, restore) against a local restore of the same backup and
// journal. Both on one machine (embedded server): the network is
// loopback.
//
//	CUSTODIAN_BENCH_MIB=256 go test -run '^$' -bench Rebuild -benchtime 1x ./internal/offsite/
func BenchmarkRebuild(b *testing.B) {
	ctx := context.Background()
	srv := natstest.Start(b)
	js, err := jetstream.New(srv.Connect(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Node: "bench"}
	sh, err := NewShipper(ctx, js, cfg)
	if err != nil {
		b.Fatal(err)
	}
	bk, err := NewBackups(ctx, js, cfg)
	if err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	s, err := tables.OpenStore(root, tables.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tb, err := s.Open(ctx, "t", true)
	if err != nil {
		b.Fatal(err)
	}
	sh.Track("t", tb)
	mib := benchMiB(b)
	var ops []tables.Op
	for i := 0; i < mib*256; i++ { // 4 KiB values
		ops = append(ops, tables.Op{Op: "put", Key: fmt.Sprintf("k%08d", i),
			Value: json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":"%x"}`, i, make([]byte, 2000)))})
		if len(ops) == 100 {
			if err := tb.Batch(ctx, ops); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	m, err := tb.Backup(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir, _ := s.BackupDir("t", m.ID)
	if _, err := bk.Upload(ctx, "t", m.ID, dir); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10_000; i++ {
		if err := tb.Put(ctx, fmt.Sprintf("w%05d", i), json.RawMessage(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := sh.ShipAll(ctx); err != nil {
		b.Fatal(err)
	}
	var rebuild, local time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Local: quarantine and restore from the same backup and journal.
		t0 := time.Now()
		if _, err := tb.Quarantine(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := tb.RestoreFrom(ctx, m.ID, nil); err != nil {
			b.Fatal(err)
		}
		local += time.Since(t0)

		// From nothing.
		fresh := filepath.Join(b.TempDir(), "data")
		t0 = time.Now()
		if _, err := Rebuild(ctx, js, bk, cfg, fresh, "t"); err != nil {
			b.Fatal(err)
		}
		fs, err := tables.OpenStore(fresh, tables.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ft, err := fs.Open(ctx, "t", false)
		if !tables.IsCorruption(err) {
			b.Fatalf("open of a rebuilt table: %v", err)
		}
		rr, err := ft.RestoreFrom(ctx, m.ID, nil)
		if err != nil || rr.Lost || rr.JournalRecords < 10_000 {
			b.Fatalf("restore of the rebuilt table: %+v %v", rr, err)
		}
		rebuild += time.Since(t0)
		fs.Close()
	}
	b.ReportMetric(rebuild.Seconds()/float64(b.N), "rebuild_s")
	b.ReportMetric(local.Seconds()/float64(b.N), "local_restore_s")
	b.ReportMetric(rebuild.Seconds()/local.Seconds(), "rebuild/local")
}
