package dashboard

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// A table.stats (from CUSTODIAN_STATS) reaches a live client without an
// id, marked stream "stats": the client's Last-Event-ID stays a sequence
// of the event stream.
func TestStreamSendsStatsWithoutAnID(t *testing.T) {
	e := setup(t, Config{})
	c := e.stream("/api/stream", nil)
	natstest.MustPublish(e.ctx, t, e.js, prefix, ev(events.TableStats, "n1", "users", withData("bytes", 7)))
	got := c.nextEvent(t, 10*time.Second)
	var row map[string]any
	if err := json.Unmarshal([]byte(got.data), &row); err != nil {
		t.Fatal(err)
	}
	if got.id != "" || row["type"] != events.TableStats || row["stream"] != "stats" || row["seq"].(float64) != 1 {
		t.Fatalf("stats row: id %q row %v", got.id, row)
	}
	seq := natstest.MustPublish(e.ctx, t, e.js, prefix, ev(events.VerifyCompleted, "n1", "users"))
	if got := c.nextEvent(t, 10*time.Second); got.id != e.eventID(seq) {
		t.Fatalf("event row: id %q, want %s", got.id, e.eventID(seq))
	}
}
