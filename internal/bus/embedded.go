package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultListen is the client address of the embedded server.
const DefaultListen = "127.0.0.1:4222"

// DefaultEmbeddedMaxPayload is the embedded server's max_payload: larger than
// the services' default body limit so that a too-large request reaches the
// service and is answered with too_large instead of being refused by the
// client library.
const DefaultEmbeddedMaxPayload = 8 << 20

// EmbeddedOptions configure the embedded nats-server.
type EmbeddedOptions struct {
	// Listen is the client address host:port (default 127.0.0.1:4222). Port
	// 0 picks a free port (see Embedded.ClientURL).
	Listen string
	// StoreDir is the JetStream store, normally <data>/nats. Required.
	StoreDir string
	// ServerName names the server (default: "custodian-" + host name).
	ServerName string
	// MaxPayload is the largest message the server accepts (default
	// DefaultEmbeddedMaxPayload).
	MaxPayload int32
	// ReadyTimeout bounds the wait for the server to accept connections
	// (default 10 s).
	ReadyTimeout time.Duration
	// Logger, when set, receives the server's log. A fatal log line is
	// written as an error and never exits the process.
	Logger server.Logger
}

// Embedded is a running in-process nats-server with JetStream.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a nats-server with JetStream on opts.Listen with its
// store under opts.StoreDir and waits until it accepts connections. A port
// that is already taken is a clear error.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("embedded nats: no store directory")
	}
	listen := opts.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded nats: listen address %q: bad port", listen)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if port != 0 {
		// nats-server reports a taken port only through its logger (and a
		// fatal log line would exit the process): probe it first.
		l, err := net.Listen("tcp", net.JoinHostPort(host, portStr))
		if err != nil {
			return nil, fmt.Errorf("embedded nats: cannot listen on %s (is another server running? use --nats-listen): %w", listen, err)
		}
		if err := l.Close(); err != nil {
			return nil, fmt.Errorf("embedded nats: probe %s: %w", listen, err)
		}
	}
	if err := os.MkdirAll(opts.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: store directory: %w", err)
	}
	name := opts.ServerName
	if name == "" {
		h, _ := os.Hostname()
		name = "custodian-" + nodeOr(h)
	}
	maxPayload := opts.MaxPayload
	if maxPayload <= 0 {
		maxPayload = DefaultEmbeddedMaxPayload
	}
	sopts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		MaxPayload: maxPayload,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
	}
	if port == 0 {
		sopts.Port = server.RANDOM_PORT
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded nats: not started on %s: %w", listen, err)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if opts.Logger != nil {
		srv.SetLoggerV2(nonFatalLogger{opts.Logger}, false, false, false)
	}
	// nats-server's Start must have returned before Shutdown: the two race
	// inside it otherwise (the race detector caught it in CI).
	started := make(chan struct{})
	go func() {
		defer close(started)
		srv.Start()
	}()
	stop := func() {
		<-started
		srv.Shutdown()
		srv.WaitForShutdown()
	}

	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if !srv.ReadyForConnections(max(timeout, 0)) {
		stop()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embedded nats: not ready for connections on %s: %w", listen, err)
		}
		return nil, fmt.Errorf("embedded nats: not ready for connections on %s after %s", listen, timeout)
	}
	if !srv.JetStreamEnabled() {
		stop()
		return nil, fmt.Errorf("embedded nats: JetStream did not start (store %s)", opts.StoreDir)
	}
	return &Embedded{srv: srv}, nil
}

func nodeOr(h string) string {
	if h == "" {
		return "node"
	}
	return h
}

// Server is the running server.
func (e *Embedded) Server() *server.Server { return e.srv }

// ClientURL is the nats:// URL operators and other processes connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// InProcess is the connection option for a client in this process: it
// bypasses TCP.
func (e *Embedded) InProcess() nats.Option { return nats.InProcessServer(e.srv) }

// Connect opens an in-process client connection that reconnects forever.
func (e *Embedded) Connect(ctx context.Context, name string, extra ...nats.Option) (*nats.Conn, error) {
	o := ConnOptions{URL: e.ClientURL(), Name: name}
	return o.Connect(ctx, append([]nats.Option{e.InProcess()}, extra...)...)
}

// Shutdown stops the server and waits until it has stopped (JetStream
// store flushed and closed). It returns early with ctx's error if ctx ends
// first; the server keeps shutting down in the background.
func (e *Embedded) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("embedded nats: shutdown: %w", ctx.Err())
	}
}

// nonFatalLogger turns the server's fatal log lines into errors so that the
// embedded server can never exit the supervisor's process.
type nonFatalLogger struct{ server.Logger }

func (l nonFatalLogger) Fatalf(format string, v ...any) { l.Errorf(format, v...) }
