package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

const prefix = "custodian"

// env is a dashboard served over real HTTP, fed from a real stream on a
// real embedded nats-server.
type env struct {
	t    testing.TB
	ctx  context.Context
	nats *natstest.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	dash *Server
	url  string
	done chan error
}

func setup(t testing.TB, cfg Config) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, nc, js := natstest.StartWithStream(ctx, t, prefix)
	dash, err := New(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, nats: srv, nc: nc, js: js, dash: dash, url: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	go func() { e.done <- dash.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("dashboard did not shut down")
		}
	})
	select {
	case <-dash.Ready():
	case <-time.After(15 * time.Second):
		t.Fatal("dashboard not ready")
	}
	return e
}

// publish puts events into their streams (table.stats into
// CUSTODIAN_STATS, the others into CUSTODIAN_EVENTS) and waits until the
// dashboard has applied them; it returns the last sequence of
// CUSTODIAN_EVENTS (0 when only table.stats were published).
func (e *env) publish(evs ...events.Event) uint64 {
	e.t.Helper()
	var seq, statsSeq uint64
	for _, ev := range evs {
		s := natstest.MustPublish(e.ctx, e.t, e.js, prefix, ev)
		if events.IsStats(ev) {
			statsSeq = s
		} else {
			seq = s
		}
	}
	e.waitSeq(seq)
	e.waitStatsSeq(statsSeq)
	return seq
}

func (e *env) waitStatsSeq(seq uint64) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for e.dash.Projection().StatsLastSeq() < seq {
		if time.Now().After(deadline) {
			e.t.Fatalf("dashboard stuck at stats seq %d, want %d", e.dash.Projection().StatsLastSeq(), seq)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// statsSeries is n table.stats events of node n1 for table, with bytes
// 0, 1, ..., n-1.
func statsSeries(n int, table string) []events.Event {
	evs := make([]events.Event, 0, n)
	for i := 0; i < n; i++ {
		evs = append(evs, ev(events.TableStats, "n1", table, withData("bytes", i)))
	}
	return evs
}

// auditSeries is n verify.completed events of node n1 for table (events of
// CUSTODIAN_EVENTS: sequences 1..n of a new stream).
func auditSeries(n int, table string) []events.Event {
	evs := make([]events.Event, 0, n)
	for i := 0; i < n; i++ {
		evs = append(evs, ev(events.VerifyCompleted, "n1", table, withData("records", i)))
	}
	return evs
}

// statusWithHost sends GET url with the Host header set to host and
// returns the status code.
func statusWithHost(t testing.TB, url, host string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) waitSeq(seq uint64) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for e.dash.Projection().LastSeq() < seq {
		if time.Now().After(deadline) {
			e.t.Fatalf("dashboard stuck at seq %d, want %d", e.dash.Projection().LastSeq(), seq)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// request builds a request to the dashboard with the headers hdr.
func (e *env) request(ctx context.Context, method, path string, body io.Reader, hdr map[string]string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// do sends a request and decodes a JSON answer into out (when non-nil).
func (e *env) do(method, path string, body io.Reader, hdr map[string]string, out any) *http.Response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(e.request(e.ctx, method, path, body, hdr))
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// expectError checks a status and the contract's error shape.
func (e *env) expectError(method, path string, body io.Reader, hdr map[string]string, status int, code string) {
	e.t.Helper()
	var ae apiError
	resp := e.do(method, path, body, hdr, &ae)
	if resp.StatusCode != status || ae.Error.Code != code || ae.Error.Message == "" {
		e.t.Fatalf("%s %s: %d %+v, want %d %s", method, path, resp.StatusCode, ae, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: content type %q", method, path, ct)
	}
}

// responder answers <prefix>.cmd.<table>.<verb> like the supervisor: a
// reply with a fresh command id at once, then command.accepted and the
// outcome published as real events into the stream.
type responder struct {
	mu     sync.Mutex
	busy   sync.Mutex // held by a callback at work; cleanup waits for it
	closed bool
	got    []*nats.Msg
	ids    []string
	node   string
}

func (e *env) respond(table, verb string) *responder {
	e.t.Helper()
	r := &responder{node: "n1"}
	sub, err := e.nc.Subscribe(events.CmdSubject(prefix, table, verb), func(m *nats.Msg) {
		r.busy.Lock()
		defer r.busy.Unlock()
		if r.closed {
			return
		}
		id := events.NewID()
		r.mu.Lock()
		r.got = append(r.got, m)
		r.ids = append(r.ids, id)
		r.mu.Unlock()
		b, _ := json.Marshal(events.CommandReply{CommandID: id, Accepted: true, Table: table, Verb: verb})
		_ = m.Respond(b)
		acc := events.New(events.CommandAccepted, r.node, table)
		acc.CommandID = id
		acc.Trigger = events.TriggerManual
		acc.Data = map[string]any{"verb": verb}
		done := events.New(outcomeType(verb), r.node, table)
		done.CommandID = id
		done.Trigger = events.TriggerManual
		done.Result = events.ResultOK
		done.DurationMS = 3
		done.Data = map[string]any{"bytes_before": 4096, "bytes_after": 1024, "records": 10}
		for _, ev := range []events.Event{acc, done} {
			if _, err := natstest.Publish(context.Background(), e.js, prefix, ev); err != nil {
				e.t.Errorf("responder publish: %v", err)
			}
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = sub.Unsubscribe()
		r.busy.Lock()
		r.closed = true
		r.busy.Unlock()
	})
	return r
}

func outcomeType(verb string) string {
	switch verb {
	case events.VerbCompact:
		return events.CompactionCompleted
	case events.VerbBackup:
		return events.BackupCompleted
	case events.VerbVerify:
		return events.VerifyCompleted
	case events.VerbDrill:
		return events.DrillCompleted
	}
	return events.RestoreCompleted
}

func (r *responder) requests() ([]*nats.Msg, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*nats.Msg(nil), r.got...), append([]string(nil), r.ids...)
}

// sseClient reads Server-Sent Events.
type sseClient struct {
	resp  *http.Response
	lines chan string
}

func (e *env) stream(path string, hdr map[string]string) *sseClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	resp, err := http.DefaultClient.Do(e.request(ctx, http.MethodGet, path, nil, hdr))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); resp.Body.Close() })
	return readSSE(resp)
}

// readSSE reads the lines of an event stream's answer.
func readSSE(resp *http.Response) *sseClient {
	c := &sseClient{resp: resp, lines: make(chan string, 1024)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c
}

// sseEvent is one Server-Sent Event; name is "" for a plain message.
type sseEvent struct{ name, id, data string }

// next returns the next event's id and data.
func (c *sseClient) next(t testing.TB, within time.Duration) (id, data string) {
	t.Helper()
	ev := c.nextEvent(t, within)
	return ev.id, ev.data
}

// nextEvent returns the next event with data.
func (c *sseClient) nextEvent(t testing.TB, within time.Duration) sseEvent {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	var ev sseEvent
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatal("event stream ended")
			}
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.data != "":
				return ev
			}
		case <-timer.C:
			t.Fatal("no event within the wait")
		}
	}
}

// eventID is the SSE id the dashboard should give seq of the stream as it
// is now: its creation time in unix ns, "-", seq.
func (e *env) eventID(seq uint64) string {
	e.t.Helper()
	st, err := e.js.Stream(e.ctx, events.StreamName)
	if err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("%d-%d", st.CachedInfo().Created.UnixNano(), seq)
}
