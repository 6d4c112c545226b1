package notifier

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// startWorker runs a worker for a webhook sink until the test ends.
func startWorker(t *testing.T, cfg Config, s *sink) *worker {
	t.Helper()
	cfg = cfg.withDefaults()
	w := newWorker(NewWebhook(s.URL(), "", &http.Client{Timeout: 5 * time.Second}), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// TestBurstTrickleTurnsIntoDigests: events arriving one by one go out one
// by one until more than Burst would reach the sink within the window;
// the rest go out in digests, each event exactly once.
func TestBurstTrickleTurnsIntoDigests(t *testing.T) {
	s := newSink(t)
	cfg := testConfig("n")
	cfg.Burst = 3
	cfg.BurstWindow = 2 * time.Second
	cfg.GroupWait = 10 * time.Millisecond
	w := startWorker(t, cfg, s)

	results := make(chan sinkResult, 100)
	var ids []string
	for i := range 8 {
		e := ev(events.BackupFailed, fmt.Sprintf("t%d", i), nil)
		ids = append(ids, e.ID)
		if err := w.submit(context.Background(), &job{note: render(testPrefix, e, SeverityHigh), result: results}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var digests int
	for range ids {
		select {
		case r := <-results:
			if !r.ok {
				t.Fatalf("delivery failed: %v", r.err)
			}
			if r.digestID != "" {
				digests++
			}
		case <-time.After(30 * time.Second):
			t.Fatal("timed out waiting for deliveries")
		}
	}
	reqs := s.requests()
	got := webhookIDs(t, reqs)
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("event %s delivered %d times, want 1", id, got[id])
		}
	}
	single := 0
	for _, r := range reqs {
		var b WebhookBody
		mustJSON(t, r.Body, &b)
		if !b.Digest {
			single++
		}
	}
	if single != cfg.Burst {
		t.Errorf("%d single notifications, want the first %d", single, cfg.Burst)
	}
	if digests != len(ids)-cfg.Burst || len(reqs) > cfg.Burst+2 {
		t.Errorf("%d requests, %d events in digests: want %d events in at most 2 digests", len(reqs), digests, len(ids)-cfg.Burst)
	}
}

// TestFailedDigestIsRetriedWhole: a digest answered 503 is sent again with
// the same id and events, and each event is reported delivered once, after
// the 2xx.
func TestFailedDigestIsRetriedWhole(t *testing.T) {
	s := newSink(t)
	s.setPolicy(func(n int, _ http.ResponseWriter) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cfg := testConfig("n")
	cfg.Burst = 2
	cfg.GroupWait = 200 * time.Millisecond
	w := startWorker(t, cfg, s)
	results := make(chan sinkResult, 10)
	for i := range 5 {
		e := ev(events.TableDegraded, fmt.Sprintf("t%d", i), nil)
		if err := w.submit(context.Background(), &job{note: render(testPrefix, e, SeverityCritical), result: results}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		select {
		case r := <-results:
			if !r.ok || r.attempts != 2 {
				t.Errorf("result ok=%v attempts=%d, want delivered on the 2nd attempt", r.ok, r.attempts)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("timed out")
		}
	}
	reqs := s.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (503, then 200)", len(reqs))
	}
	if reqs[0].Header.Get("Idempotency-Key") != reqs[1].Header.Get("Idempotency-Key") {
		t.Error("the retried digest has another Idempotency-Key")
	}
	if got := webhookIDs(t, s.ok2xx()); len(got) != 5 {
		t.Errorf("the 2xx digest carries %d events, want 5", len(got))
	}
}
