package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// BenchmarkTablesAPI measures GET /api/tables (the page polls it as events
// arrive) for 50 tables with a full size series each (360 points), the
// handler called directly. Fed through the stream like the dashboard is.
//
//	go test -run '^$' -bench TablesAPI -benchmem ./internal/dashboard/
func BenchmarkTablesAPI(b *testing.B) {
	e := setup(b, Config{})
	var evs []events.Event
	for i := 0; i < 360; i++ {
		for t := 0; t < 50; t++ {
			evs = append(evs, ev(events.TableStats, "n1", fmt.Sprintf("t%02d", t), withData("bytes", 1000+i, "records", i)))
		}
	}
	e.publish(evs...)
	h := e.dash.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/tables", nil)
	req.Host = "127.0.0.1"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
