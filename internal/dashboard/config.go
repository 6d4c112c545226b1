// Package dashboard serves the operator's view of Custodian over HTTP: the
// page, the JSON API, Server-Sent Events and Prometheus metrics, all built
// from the event stream by internal/projections, and the action buttons
// that send commands over NATS.
package dashboard

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/projections"
)

// DefaultListen is where the dashboard listens unless told: loopback only.
const DefaultListen = "127.0.0.1:8080"

// Config configures a Server.
type Config struct {
	Listen     string // host:port, DefaultListen when empty
	AdminToken string // when set, every POST needs it (Bearer header or login cookie)
	Prefix     string // subject prefix, events.DefaultPrefix when empty
	// AllowedHosts are Host names served besides loopback ones when Listen
	// is a loopback address (a reverse proxy's public name). Other names
	// are refused there, against DNS rebinding.
	AllowedHosts []string
	// Collectors are registered on /metrics beside the projection's (the
	// supervisor's one-command mode adds its outbox depth).
	Collectors []prometheus.Collector
	// Checks are health checks of the process the dashboard runs in (the
	// supervisor's one-command mode adds its outbox): /healthz answers 503
	// with the check's name and error while one fails.
	Checks map[string]func() error

	// Optional tuning; zero means the default.
	Stream         string              // event stream, events.StreamName
	Projections    projections.Options // history and series bounds
	CommandTimeout time.Duration       // NATS request timeout of an action (10s; 10m with "wait")
	Heartbeat      time.Duration       // SSE comment interval (15s)
	StreamCheck    time.Duration       // how often to look whether the stream was created anew (projections.DefaultStreamCheck)
	// Limits caps live-update clients and bounds request and answer
	// times (see Limits; zero fields mean the defaults).
	Limits Limits
}

func (c Config) withDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Prefix == "" {
		c.Prefix = events.DefaultPrefix
	}
	if !events.ValidPrefix(c.Prefix) {
		return c, fmt.Errorf("dashboard: invalid prefix %q", c.Prefix)
	}
	if c.Stream == "" {
		c.Stream = events.StreamName
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 10 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	l := c.Limits
	if l.MaxStreams < 0 || l.MaxStreamsPerAddr < 0 || l.ReadTimeout < 0 || l.WriteTimeout < 0 || l.IdleTimeout < 0 {
		return c, fmt.Errorf("dashboard: negative limit in %+v", l)
	}
	c.Limits = l.withDefaults()
	return c, nil
}
