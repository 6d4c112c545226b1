package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkNoSyncPut is the table's share of a data-plane put: Put on a
// NoSync table from 16 goroutines over 1000 existing keys (every put an
// overwrite), the shape of the bus benchmark BenchmarkDataPlaneVsNATSKV.
// It is for profiling the write path (the old value's length for the
// dead estimate, the goleveldb write, the estimate's bookkeeping):
//
//	go test -run '^$' -bench NoSyncPut -benchmem ./internal/tables/
func BenchmarkNoSyncPut(b *testing.B) {
	s, err := OpenStore(b.TempDir(), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tb, err := s.Open(context.Background(), "t", true)
	if err != nil {
		b.Fatal(err)
	}
	const keys, writers = 1000, 16
	value := json.RawMessage(`{"name":"ada lovelace","visits":12345,"tags":["a","b","c"]}`)
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("k%05d", i)
	}
	ctx := context.Background()
	for _, k := range names {
		if err := tb.Put(ctx, k, value); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	runWriters(b, writers, func(i int) error { return tb.Put(ctx, names[i%keys], value) })
	b.StopTimer()
	st, err := tb.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// Every timed put overwrote a key: the estimate must have seen it.
	if st.Records != keys || st.DeadRecords != int64(b.N) {
		b.Fatalf("estimate after %d overwrites of %d keys: %d records, %d dead", b.N, keys, st.Records, st.DeadRecords)
	}
}

// runWriters runs b.N calls of put, numbered 0..b.N-1, on writers
// goroutines, and waits for them; the first error fails the benchmark.
func runWriters(b *testing.B, writers int, put func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := put(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
