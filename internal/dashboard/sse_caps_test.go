package dashboard

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// streamFrom opens GET /api/stream from the local address ip (any of
// 127.0.0.0/8 reaches the dashboard on Linux): the dashboard sees each ip
// as another client address. The answer's body is closed at cleanup, or
// by close.
func (e *env) streamFrom(ip string) (resp *http.Response, close func()) {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	ctx, cancel := context.WithCancel(e.ctx)
	resp, err := (&http.Client{Transport: tr}).Do(e.request(ctx, http.MethodGet, "/api/stream", nil, nil))
	if err != nil {
		cancel()
		e.t.Fatalf("stream from %s: %v", ip, err)
	}
	close = func() { cancel(); resp.Body.Close(); tr.CloseIdleConnections() }
	e.t.Cleanup(close)
	return resp, close
}

// expectRefused checks a refused stream: 503 too_many_streams in the
// contract's error shape, with a Retry-After.
func expectRefused(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("over the cap: %d, want 503", resp.StatusCode) // (a stream's body does not end: not read)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "15" ||
		resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(b), `"code":"too_many_streams"`) {
		t.Fatalf("over the cap: %d, Retry-After %q, %s %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), b)
	}
}

// metrics returns the text of GET /metrics.
func (e *env) metrics() string {
	e.t.Helper()
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// waitStreams waits until the dashboard counts n open streams.
func (e *env) waitStreams(n int) {
	e.t.Helper()
	want := fmt.Sprintf("custodian_dashboard_streams %d\n", n)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.metrics(), want) {
		if time.Now().After(deadline) {
			e.t.Fatalf("/metrics never said %q", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStreamClientsAreCapped(t *testing.T) {
	e := setup(t, Config{Limits: Limits{MaxStreams: 2, MaxStreamsPerAddr: 1}})

	// One stream from 127.0.0.1 fills that address's share.
	first, closeFirst := e.streamFrom("127.0.0.1")
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first stream: %d", first.StatusCode)
	}
	again, _ := e.streamFrom("127.0.0.1")
	expectRefused(t, again)
	// Another address still gets one, and that fills the cap for all.
	other, _ := e.streamFrom("127.0.0.2")
	if other.StatusCode != http.StatusOK {
		t.Fatalf("stream from another address: %d", other.StatusCode)
	}
	third, _ := e.streamFrom("127.0.0.3")
	expectRefused(t, third)

	// Only the streams are capped: the API answers beside them.
	var rows []map[string]any
	if resp := e.do(http.MethodGet, "/api/history", nil, nil, &rows); resp.StatusCode != http.StatusOK {
		t.Fatalf("history at the cap: %d", resp.StatusCode)
	}
	// The accepted streams work.
	seq := natstest.MustPublish(e.ctx, t, e.js, prefix, ev(events.VerifyCompleted, "n1", "users"))
	c := readSSE(other)
	if id, _ := c.next(t, 10*time.Second); id != e.eventID(seq) {
		t.Fatalf("stream at the cap gave id %s, want %s", id, e.eventID(seq))
	}

	// A client that leaves gives its slot back.
	closeFirst()
	e.waitStreams(1)
	back, _ := e.streamFrom("127.0.0.1")
	if back.StatusCode != http.StatusOK {
		t.Fatalf("stream after one left: %d", back.StatusCode)
	}

	// The counts are on /metrics.
	e.waitStreams(2)
	if m := e.metrics(); !strings.Contains(m, "custodian_dashboard_streams_refused_total 2\n") {
		t.Fatalf("/metrics: %s", m)
	}
}
