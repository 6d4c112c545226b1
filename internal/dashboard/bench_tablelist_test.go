package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// BenchmarkTablesPage measures the page's request, GET /api/tablepage with
// limit=20 (the list's page), at 10,000 tables: the first page, a search
// and a state filter, each against the first page at 100 tables as the
// baseline of the same run (the handler called directly; the tables fed
// through the stream as table.created events, one in 100 degraded).
//
//	go test -run '^$' -bench TablesPage -benchmem -count 3 ./internal/dashboard/
func BenchmarkTablesPage(b *testing.B) {
	for _, n := range []int{100, 10000} {
		e := setup(b, Config{})
		evs := make([]events.Event, 0, n+n/100)
		for i := range n {
			evs = append(evs, ev(events.TableCreated, "n1", fmt.Sprintf("tenant-%05d", i)))
		}
		for i := 0; i < n; i += 100 {
			evs = append(evs, ev(events.TableDegraded, "n1", fmt.Sprintf("tenant-%05d", i), withResult("failed", 0, "bad block")))
		}
		e.publishAsync(evs)
		h := e.dash.Handler()
		for _, q := range []struct{ name, query string }{
			{"page", "limit=20"},
			{"search", "limit=20&q=tenant-001"},
			{"degraded", "limit=20&state=degraded"},
			{"last-page", fmt.Sprintf("limit=20&offset=%d", n-20)},
		} {
			b.Run(fmt.Sprintf("tables=%d/%s", n, q.name), func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/api/tablepage?"+q.query, nil)
				req.Host = "127.0.0.1"
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}
