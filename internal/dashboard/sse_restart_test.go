package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// The event stream is deleted and created anew while a client listens: the
// client is told (event "reset" with the new generation) and gets the new
// stream's rows from sequence 1, although the old stream had more.
func TestStreamStartsOverWithANewStream(t *testing.T) {
	e := setup(t, Config{StreamCheck: 50 * time.Millisecond})
	e.publish(auditSeries(8, "users")...)
	c := e.stream("/api/stream", nil)
	old := e.eventID(0)

	if err := e.js.DeleteStream(e.ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(e.ctx, t, e.js, prefix)
	natstest.PublishAll(e.ctx, t, e.js, prefix, auditSeries(3, "orders"))
	fresh := e.eventID(0)
	if fresh == old {
		t.Fatalf("the new stream has the old one's generation %s", old)
	}

	reset := c.nextEvent(t, 15*time.Second)
	var r struct{ Generation int64 }
	if err := json.Unmarshal([]byte(reset.data), &r); err != nil {
		t.Fatal(err)
	}
	if gen, _, _ := strings.Cut(fresh, "-"); reset.name != "reset" || fmt.Sprint(r.Generation) != gen {
		t.Fatalf("got %+v, want event reset with the generation of %s", reset, fresh)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		ev := c.nextEvent(t, 15*time.Second)
		var row map[string]any
		if err := json.Unmarshal([]byte(ev.data), &row); err != nil {
			t.Fatal(err)
		}
		if ev.name != "" || ev.id != e.eventID(seq) || row["table"] != "orders" {
			t.Fatalf("after the reset got %+v, want the new stream's row %s", ev, e.eventID(seq))
		}
	}
}

// A client that saw sequence 20 of a stream that no longer exists
// reconnects: it is told to start over (event reset) and gets every row of
// the new stream, which is shorter, instead of waiting for sequence 21.
func TestStreamResumesFromAnOldStreamAtTheStart(t *testing.T) {
	e := setup(t, Config{})
	e.publish(auditSeries(4, "users")...)
	gone := sseID{gen: 1, seq: 20}.String()
	c := e.stream("/api/stream", map[string]string{"Last-Event-ID": gone})
	if reset := c.nextEvent(t, 10*time.Second); reset.name != "reset" {
		t.Fatalf("resuming from %s: first event %+v, want reset", gone, reset)
	}
	for seq := uint64(1); seq <= 4; seq++ {
		if id, _ := c.next(t, 10*time.Second); id != e.eventID(seq) {
			t.Fatalf("resuming from %s: got %s, want %s", gone, id, e.eventID(seq))
		}
	}
	// Within the current stream a plain sequence still resumes after it.
	a := e.stream("/api/stream?after=3", nil)
	if id, _ := a.next(t, 10*time.Second); id != e.eventID(4) {
		t.Fatalf("after=3: got %s, want %s", id, e.eventID(4))
	}
}

func TestStreamRefusesABadEventID(t *testing.T) {
	e := setup(t, Config{})
	for _, bad := range []string{"x", "12-", "-3", "1-2-3", "9-x"} {
		e.expectError(http.MethodGet, "/api/stream", nil, map[string]string{"Last-Event-ID": bad}, http.StatusBadRequest, "invalid_request")
	}
	e.expectError(http.MethodGet, "/api/stream?after=x", nil, nil, http.StatusBadRequest, "invalid_request")
}
