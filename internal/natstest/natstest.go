// Package natstest starts real embedded nats-servers with JetStream for
// tests (projections, dashboard, notifier, bus), and publishes real events
// into a real CUSTODIAN_EVENTS stream created as the contract says.
package natstest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// Server is an embedded nats-server that a test can stop and start again
// on the same port and store.
type Server struct {
	t    testing.TB
	dir  string
	port int
	S    *server.Server
}

// Start runs a JetStream server on a free port with its store under a
// temporary directory; the test's cleanup shuts it down.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), port: -1}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      s.port,
		JetStream: true,
		StoreDir:  s.dir,
		NoLog:     true,
		NoSigs:    true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatalf("nats server not ready")
	}
	s.S = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
}

// URL is the client URL.
func (s *Server) URL() string { return s.S.ClientURL() }

// Stop shuts the server down (a no-op when it is already down).
func (s *Server) Stop() {
	if s.S == nil {
		return
	}
	s.S.Shutdown()
	s.S.WaitForShutdown()
	s.S = nil
}

// Restart starts the server again on the same port and store.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Connect opens a client connection that reconnects forever; the test's
// cleanup closes it.
func (s *Server) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// CreateStream creates the event stream as the contract says: file
// storage, subjects <prefix>.events.>, a duplicate window of 2 minutes.
// A create right after a test deleted the stream can meet nats-server
// removing the account's empty store directory in a goroutine ("error
// creating store for stream", 10049); it is tried again, as
// bus.EnsureStream does.
//
// It creates the stats stream too (see CreateStatsStream) unless it
// exists, and returns the event stream.
func CreateStream(ctx context.Context, t testing.TB, js jetstream.JetStream, prefix string) jetstream.Stream {
	t.Helper()
	st := createStream(ctx, t, js, jetstream.StreamConfig{
		Name:       events.StreamName,
		Subjects:   []string{events.StreamSubjects(prefix)},
		Storage:    jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	})
	if _, err := js.Stream(ctx, events.StatsStreamName); errors.Is(err, jetstream.ErrStreamNotFound) {
		CreateStatsStream(ctx, t, js, prefix)
	}
	return st
}

// CreateStatsStream creates the stats stream CUSTODIAN_STATS as the
// contract says: subjects <prefix>.stats.>, at most 1,440 messages per
// subject.
func CreateStatsStream(ctx context.Context, t testing.TB, js jetstream.JetStream, prefix string) jetstream.Stream {
	t.Helper()
	return createStream(ctx, t, js, jetstream.StreamConfig{
		Name:              events.StatsStreamName,
		Subjects:          []string{events.StatsStreamSubjects(prefix)},
		Storage:           jetstream.FileStorage,
		Duplicates:        2 * time.Minute,
		MaxMsgsPerSubject: 1440,
	})
}

func createStream(ctx context.Context, t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	for attempt := 1; ; attempt++ {
		st, err := js.CreateStream(ctx, cfg)
		if err == nil {
			return st
		}
		var apiErr *jetstream.APIError
		if attempt == 3 || !errors.As(err, &apiErr) || apiErr.ErrorCode != 10049 {
			t.Fatalf("create stream %s: %v", cfg.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Publish publishes e on its subject (events.PublishSubject: a
// table.stats goes to the stats stream) with Nats-Msg-Id = e.ID and returns
// the stream sequence.
func Publish(ctx context.Context, js jetstream.JetStream, prefix string, e events.Event) (uint64, error) {
	b, err := e.Marshal()
	if err != nil {
		return 0, err
	}
	ack, err := js.Publish(ctx, events.PublishSubject(prefix, e), b, jetstream.WithMsgID(e.ID))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// MustPublish is Publish that fails the test on error.
func MustPublish(ctx context.Context, t testing.TB, js jetstream.JetStream, prefix string, e events.Event) uint64 {
	t.Helper()
	seq, err := Publish(ctx, js, prefix, e)
	if err != nil {
		t.Fatalf("publish %s: %v", e.Type, err)
	}
	return seq
}

// JetStream connects to s (see Connect) and opens a JetStream context on
// that connection with opts.
func (s *Server) JetStream(t testing.TB, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := s.Connect(t)
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// StartWithStream starts a server (see Start), connects to it (see
// JetStream) and creates the event stream for prefix (see CreateStream).
func StartWithStream(ctx context.Context, t testing.TB, prefix string, opts ...jetstream.JetStreamOpt) (*Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	s := Start(t)
	nc, js := s.JetStream(t, opts...)
	CreateStream(ctx, t, js, prefix)
	return s, nc, js
}

// PublishAll publishes evs in order (see MustPublish) and returns the
// sequence of the last one (0 when evs is empty).
func PublishAll(ctx context.Context, t testing.TB, js jetstream.JetStream, prefix string, evs []events.Event) uint64 {
	t.Helper()
	var seq uint64
	for _, e := range evs {
		seq = MustPublish(ctx, t, js, prefix, e)
	}
	return seq
}
