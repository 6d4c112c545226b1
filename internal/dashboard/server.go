package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/custodian-dev/custodian/internal/projections"
)

// Server is one dashboard: a projection fed from the stream, and the HTTP
// handlers that show it.
type Server struct {
	cfg  Config
	nc   *nats.Conn
	proj *projections.Projection
	cons *projections.Consumer
	reg  *prometheus.Registry
	auth *auth
	// streams counts the open event streams against the caps.
	streams *streamSlots
	mux     *http.ServeMux
	h       http.Handler // mux behind the host guard

	consumeOnce sync.Once
	consumeDone chan struct{}
}

// New builds a dashboard over nc. It does no I/O; Run starts consuming and
// serving.
func New(nc *nats.Conn, cfg Config) (*Server, error) {
	if nc == nil {
		return nil, errors.New("dashboard: no NATS connection")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("dashboard: jetstream: %w", err)
	}
	proj := projections.New(cfg.Projections)
	streams := newStreamSlots(cfg.Limits.MaxStreams, cfg.Limits.MaxStreamsPerAddr)
	reg := prometheus.NewRegistry()
	for _, c := range append([]prometheus.Collector{projections.NewCollector(proj), newStreamCollector(streams)}, cfg.Collectors...) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("dashboard: metrics: %w", err)
		}
	}
	s := &Server{
		cfg:         cfg,
		nc:          nc,
		proj:        proj,
		cons:        projections.NewConsumer(js, cfg.Stream, proj, cfg.StreamCheck),
		reg:         reg,
		auth:        newAuth(cfg.AdminToken),
		streams:     streams,
		consumeDone: make(chan struct{}),
	}
	s.mux = s.routes()
	s.h = hostGuard(cfg.Listen, cfg.AllowedHosts, s.mux)
	return s, nil
}

// Projection is the state the dashboard shows.
func (s *Server) Projection() *projections.Projection { return s.proj }

// Ready is closed once the projection holds the streams as they were at
// start: the newest event of each subject and the newest stats of each
// table (the cards) and the history's window; nothing is replayed (see
// projections.Consumer).
func (s *Server) Ready() <-chan struct{} { return s.cons.Ready() }

// Handler is the dashboard's HTTP handler. It shows what the consumer has
// fed the projection: Run (or Serve) runs the consumer.
func (s *Server) Handler() http.Handler { return s.h }

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.handlePage)
	m.Handle("GET /assets/", assetHandler())
	m.HandleFunc("GET /api/tables", s.handleTables)
	m.HandleFunc("GET /api/tablepage", s.handleTablePage)
	m.HandleFunc("GET /api/tables/{table}", s.handleTable)
	m.HandleFunc("POST /api/tables/{table}/{verb}", s.handleAction)
	m.HandleFunc("POST /api/nodes/{node}/{verb}", s.handleNodeAction)
	m.HandleFunc("GET /api/history", s.handleHistory)
	m.HandleFunc("GET /api/stream", s.handleStream)
	m.HandleFunc("GET /api/session", s.handleSession)
	m.HandleFunc("POST /login", s.handleLogin)
	m.HandleFunc("POST /logout", s.handleLogout)
	s.otherMethods(m)
	m.HandleFunc("/api/", s.handleAPINotFound)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	m.HandleFunc("GET /healthz", s.handleHealth)
	return m
}

// Run consumes the stream and serves HTTP on cfg.Listen until ctx is done,
// then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("dashboard: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener of the caller's (which it closes).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.startConsumer(ctx)

	l := s.cfg.Limits
	hs := &http.Server{
		Handler:      s.h,
		ReadTimeout:  l.ReadTimeout, // headers and body: a slow body is cut off too
		WriteTimeout: l.WriteTimeout,
		IdleTimeout:  l.IdleTimeout,
		// Handlers (the SSE streams above all) see ctx end, so that
		// Shutdown does not wait for them.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		cancel()
		<-s.consumeDone
		return fmt.Errorf("dashboard: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	err := hs.Shutdown(sctx)
	<-s.consumeDone
	if err != nil {
		return fmt.Errorf("dashboard: shutdown: %w", err)
	}
	return nil
}

// startConsumer runs the stream consumer once for the server's lifetime.
func (s *Server) startConsumer(ctx context.Context) {
	s.consumeOnce.Do(func() {
		go func() {
			defer close(s.consumeDone)
			_ = s.cons.Run(ctx) // Run retries on its own and returns nil when ctx ends
		}()
	})
}
