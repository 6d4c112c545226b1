package dashboard

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

func TestStreamDeliversNewEvents(t *testing.T) {
	e := setup(t, Config{Heartbeat: 50 * time.Millisecond})
	e.publish(ev(events.TableCreated, "n1", "users"))

	c := e.stream("/api/stream", nil)
	if ct := c.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	want := ev(events.CompactionCompleted, "n1", "users", withResult("ok", 9, ""))
	seq := natstest.MustPublish(e.ctx, t, e.js, prefix, want)
	id, data := c.next(t, 10*time.Second)
	var row map[string]any
	if err := json.Unmarshal([]byte(data), &row); err != nil {
		t.Fatal(err)
	}
	if id != e.eventID(seq) || row["id"] != want.ID || row["seq"].(float64) != float64(seq) || row["type"] != want.Type {
		t.Fatalf("event id %s row %v, want seq %d id %s", id, row, seq, want.ID)
	}

	// Heartbeats keep the connection alive while nothing happens.
	beats := 0
	deadline := time.After(10 * time.Second)
	for beats < 2 {
		select {
		case line := <-c.lines:
			if line == ": heartbeat" {
				beats++
			}
		case <-deadline:
			t.Fatal("no heartbeats")
		}
	}
}

func TestStreamCatchesUpAfterReconnect(t *testing.T) {
	e := setup(t, Config{})
	e.publish(auditSeries(5, "users")...)
	// An EventSource that saw seq 2 reconnects: it gets 3, 4, 5 in order.
	c := e.stream("/api/stream", map[string]string{"Last-Event-ID": e.eventID(2)})
	for want := 3; want <= 5; want++ {
		id, _ := c.next(t, 10*time.Second)
		if id != e.eventID(uint64(want)) {
			t.Fatalf("got id %s, want %d", id, want)
		}
	}
	// Then live ones, filtered by table.
	f := e.stream("/api/stream?table=orders", nil)
	natstest.MustPublish(e.ctx, t, e.js, prefix, ev(events.VerifyCompleted, "n1", "users"))
	natstest.MustPublish(e.ctx, t, e.js, prefix, ev(events.VerifyCompleted, "n1", "orders"))
	id, data := f.next(t, 10*time.Second)
	var row map[string]any
	_ = json.Unmarshal([]byte(data), &row)
	if id != e.eventID(7) || row["table"] != "orders" {
		t.Fatalf("filtered stream gave %s %v", id, row)
	}
	id, _ = c.next(t, 10*time.Second)
	if id != e.eventID(6) {
		t.Fatalf("unfiltered stream gave %s, want 6", id)
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d, err := New(nc, Config{Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var resp *http.Response
	for i := 0; i < 200; i++ {
		resp, err = http.Get("http://" + addr + "/api/stream")
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Run does not serve: %v", err)
	}
	defer resp.Body.Close()
	// An open event stream does not hold the shutdown up.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Fatal("New without a connection")
	}
	if _, err := New(nc, Config{Prefix: "bad prefix"}); err == nil {
		t.Fatal("New with a bad prefix")
	}
}
