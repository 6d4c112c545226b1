package bus

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	srvtest "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// runJS starts a real nats-server with JetStream on a free port and a file
// store in storeDir; the server is shut down at the end of the test.
func runJS(t testing.TB, storeDir string, port int) *server.Server {
	t.Helper()
	opts := srvtest.DefaultTestOptions
	opts.Port = port
	opts.JetStream = true
	opts.StoreDir = storeDir
	opts.MaxPayload = DefaultEmbeddedMaxPayload
	s := srvtest.RunServer(&opts)
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// startJS starts a server (see runJS) on a free port with a temporary
// store and opens JetStream over a TCP connection to it.
func startJS(t testing.TB) jetstream.JetStream {
	t.Helper()
	s := runJS(t, t.TempDir(), -1)
	return newJS(t, connectTCP(t, s.ClientURL()))
}

// startStream is startJS with the events stream created (see
// ensureStream).
func startStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js := startJS(t)
	ensureStream(t, js)
	return js
}

func connectTCP(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	o := ConnOptions{URL: url, Name: t.Name()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := o.Connect(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newJS(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func ensureStream(t testing.TB, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := EnsureStream(ctx, js, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// streamEvents reads every message of CUSTODIAN_EVENTS in order, then of
// CUSTODIAN_STATS (when there), with the plain stream API (not the code
// under test), returning the decoded events and their Nats-Msg-Id headers.
func streamEvents(t testing.TB, js jetstream.JetStream) ([]events.Event, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var evs []events.Event
	var ids []string
	for _, name := range []string{events.StreamName, events.StatsStreamName} {
		s, err := js.Stream(ctx, name)
		if name == events.StatsStreamName && errors.Is(err, jetstream.ErrStreamNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				t.Fatalf("%s: get msg %d: %v", name, seq, err)
			}
			e, err := events.Unmarshal(m.Data)
			if err != nil {
				t.Fatalf("%s: msg %d: %v", name, seq, err)
			}
			if want := events.PublishSubject(events.DefaultPrefix, e); m.Subject != want || events.PublishStream(e) != name {
				t.Fatalf("%s: msg %d on subject %s, want %s in %s", name, seq, m.Subject, want, events.PublishStream(e))
			}
			evs = append(evs, e)
			ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
		}
	}
	return evs, ids
}

// testEvent is an event of the contract with a marker in Data (one of the
// audit stream: table.stats go to CUSTODIAN_STATS).
func testEvent(i int) events.Event {
	e := events.New(events.VerifyCompleted, "n1", fmt.Sprintf("t%d", i%3))
	e.Trigger = events.TriggerSchedule
	e.Result = events.ResultOK
	e.Data = map[string]any{"i": i}
	return e
}

func eventIndex(t testing.TB, e events.Event) int {
	t.Helper()
	v, ok := e.Data["i"].(float64)
	if !ok {
		t.Fatalf("event %s has no index: %v", e.ID, e.Data)
	}
	return int(v)
}

// runOutbox runs the publisher until the test ends.
func runOutbox(t testing.TB, o *Outbox, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, js) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("outbox run: %v", err)
		}
	})
}

func withTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func itoa(i int) string { return fmt.Sprint(i) }

// natsConnectRetry connects even when no server listens yet: the client
// keeps trying in the background.
func natsConnectRetry(o ConnOptions) (*nats.Conn, error) {
	opts := append(o.NatsOptions(), nats.RetryOnFailedConnect(true))
	return nats.Connect(o.URL, opts...)
}

// outageRig is a real nats-server with JetStream on a fixed port and store,
// a TCP connection to it, the events stream and a running outbox: what the
// outage tests stop and start the server around.
type outageRig struct {
	srv *natstest.Server // stopped and started again on the same port and store
	nc  *nats.Conn
	js  jetstream.JetStream
	o   *Outbox
}

// startOutageRig starts the server, connects, ensures the stream and runs
// an outbox publishing to it until the test ends.
func startOutageRig(t testing.TB) *outageRig {
	t.Helper()
	r := &outageRig{srv: natstest.Start(t)}
	r.nc = connectTCP(t, r.srv.URL())
	r.js = newJS(t, r.nc)
	ensureStream(t, r.js)
	r.o = openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	runOutbox(t, r.o, r.js)
	return r
}

// stopServer shuts the server down and waits until it is gone.
func (r *outageRig) stopServer() { r.srv.Stop() }

// restartServer starts the server again on the same port and store.
func (r *outageRig) restartServer(t testing.TB) {
	t.Helper()
	r.srv.Restart()
}
