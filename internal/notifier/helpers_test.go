package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const testPrefix = "custodian"

// connect dials the server and reconnects forever.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// env is one test's NATS server, connection and stream.
type env struct {
	t   *testing.T
	srv *natstest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := natstest.Start(t)
	nc := connect(t, srv.URL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	natstest.CreateStream(ctx, t, js, testPrefix)
	return &env{t: t, srv: srv, nc: nc, js: js}
}

// publish puts e in the stream as the supervisor does.
func (e *env) publish(ev events.Event) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	natstest.MustPublish(ctx, e.t, e.js, testPrefix, ev)
}

// publishEach publishes one event of type typ for each of n tables named
// by format (fmt.Sprintf(format, i)) and returns them.
func (e *env) publishEach(typ, format string, n int) []events.Event {
	e.t.Helper()
	evs := make([]events.Event, 0, n)
	for i := range n {
		x := ev(typ, fmt.Sprintf(format, i), nil)
		evs = append(evs, x)
		e.publish(x)
	}
	return evs
}

// testConfig is a Config with fast retries for tests.
func testConfig(name string) Config {
	return Config{
		Name:        name,
		Prefix:      testPrefix,
		GiveUp:      time.Hour,
		Burst:       100,
		BurstWindow: 30 * time.Second,
		BackoffBase: 50 * time.Millisecond,
		BackoffMax:  400 * time.Millisecond,
		GroupWait:   100 * time.Millisecond,
		AckWait:     2 * time.Second,
		HTTPTimeout: 5 * time.Second,
		Log:         testLogger(),
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("NOTIFIER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runNotifier runs Run in the background until the test ends or stop is
// called; stop waits for Run to return and fails the test on an error.
func runNotifier(t *testing.T, nc *nats.Conn, cfg Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nc, cfg) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// request is one request a sink received.
type request struct {
	Header http.Header
	Body   []byte
	At     time.Time
	Status int
}

// sink is a real HTTP server that records requests and answers with the
// status its policy gives for the n-th request (0-based).
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []request
	policy func(n int, w http.ResponseWriter) int
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.reqs)
		policy := s.policy
		status := http.StatusOK
		if policy != nil {
			status = policy(n, w)
		}
		s.reqs = append(s.reqs, request{Header: r.Header.Clone(), Body: body, At: time.Now(), Status: status})
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) URL() string { return s.srv.URL + "/hook" }

func (s *sink) setPolicy(p func(n int, w http.ResponseWriter) int) {
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
}

// failUntilHealthy makes s answer 503 until the returned flag is set, and
// 200 from then on.
func (s *sink) failUntilHealthy() *atomic.Bool {
	healthy := new(atomic.Bool)
	s.setPolicy(func(int, http.ResponseWriter) int {
		if healthy.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	return healthy
}

func (s *sink) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// ok2xx returns the requests answered 2xx.
func (s *sink) ok2xx() []request {
	var out []request
	for _, r := range s.requests() {
		if r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// webhookIDs returns, per event id, how many 2xx webhook requests carried
// it (a digest counts for each of its events).
func webhookIDs(t *testing.T, reqs []request) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range reqs {
		var b WebhookBody
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("webhook body %q: %v", r.Body, err)
		}
		if b.Event != nil {
			out[b.Event.ID]++
		}
		for _, e := range b.Events {
			out[e.ID]++
		}
	}
	return out
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drained reports whether the consumer name has nothing pending and
// nothing unacknowledged.
func (e *env) drained(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := e.js.Consumer(ctx, events.StreamName, name)
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	if err != nil {
		return false
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

// streamEvents returns every event of type typ in the stream.
func (e *env) streamEvents(typ string) []events.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.TypeFilter(testPrefix, typ)},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []events.Event
	if info.NumPending == 0 {
		return out
	}
	batch, err := c.Fetch(int(info.NumPending), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		e.t.Fatal(err)
	}
	for m := range batch.Messages() {
		ev, err := events.Unmarshal(m.Data())
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// ev builds an event for tests.
func ev(typ, table string, mod func(*events.Event)) events.Event {
	e := events.New(typ, "n1", table)
	if mod != nil {
		mod(&e)
	}
	return e
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

func connectB(b *testing.B, url string) *nats.Conn {
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}
