package dashboard

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// benchStreams is how many live-update clients BenchmarkStreamClientMemory
// opens: 500 unless CUSTODIAN_BENCH_STREAMS says otherwise.
func benchStreams(b *testing.B) int {
	if v := os.Getenv("CUSTODIAN_BENCH_STREAMS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CUSTODIAN_BENCH_STREAMS=%q", v)
		}
		return n
	}
	return 500
}

// inUse is the memory the process holds in heap spans and in goroutine
// stacks, after a collection.
func inUse() (heap, stack int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse), int64(m.StackInuse)
}

// BenchmarkStreamClientMemory measures what an idle live-update client
// costs the dashboard: N real TCP clients each send GET /api/stream, read
// the answer's header (200) and then stay connected without reading; the
// figure is the growth of heap and stack memory in use (after GC) divided
// by N. The clients live in the same process, but each is only a socket
// (no goroutine, no buffer), so nearly all of it is the dashboard's side.
func BenchmarkStreamClientMemory(b *testing.B) {
	n := benchStreams(b)
	e := setup(b, Config{Limits: Limits{MaxStreams: n, MaxStreamsPerAddr: n}})
	e.publish(statsSeries(100, "users")...)
	addr := strings.TrimPrefix(e.url, "http://")
	var heap, stack float64
	for i := 0; i < b.N; i++ {
		heap0, stack0 := inUse()
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			if _, err := fmt.Fprintf(c, "GET /api/stream HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
				b.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("client %d: %v %v", len(conns), resp, err)
			}
		}
		heap1, stack1 := inUse()
		heap, stack = float64(heap1-heap0)/float64(n), float64(stack1-stack0)/float64(n)
		for _, c := range conns {
			c.Close()
		}
	}
	b.ReportMetric(heap+stack, "B/client")
	b.ReportMetric(heap, "heap-B/client")
	b.ReportMetric(stack, "stack-B/client")
	b.ReportMetric(0, "ns/op")
}
