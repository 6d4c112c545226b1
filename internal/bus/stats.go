package bus

import (
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Requests are answered from their own goroutine, after micro's handler has
// returned, so micro's own error count stays 0. Each endpoint keeps its
// figures here; "nats service stats" shows them as the endpoint's data.

// EndpointStats are the figures of one endpoint.
type EndpointStats struct {
	Errors    int64  `json:"errors"`     // error replies (and refused publishes)
	LastError string `json:"last_error"` // "code: message" of the latest
	InFlight  int64  `json:"in_flight"`  // requests being handled now
}

type endpointCounters struct {
	errors   atomic.Int64
	inFlight atomic.Int64
	mu       sync.Mutex
	lastErr  string
}

func (c *endpointCounters) fail(err error) {
	c.errors.Add(1)
	msg := string(apierr.CodeOf(err)) + ": " + apierr.MessageOf(err)
	c.mu.Lock()
	c.lastErr = msg
	c.mu.Unlock()
}

func (c *endpointCounters) snapshot() EndpointStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return EndpointStats{Errors: c.errors.Load(), LastError: c.lastErr, InFlight: c.inFlight.Load()}
}

// counters returns the counters of plane/endpoint, creating them. statsMu
// is never held while calling into micro (micro calls statsHandler with its
// own lock held).
func (s *Services) counters(plane, endpoint string) *endpointCounters {
	key := plane + "/" + endpoint
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	c := s.stats[key]
	if c == nil {
		c = &endpointCounters{}
		s.stats[key] = c
	}
	return c
}

// statsHandler is the micro StatsHandler of the service of plane.
func (s *Services) statsHandler(plane string) micro.StatsHandler {
	return func(e *micro.Endpoint) any {
		return s.counters(plane, e.Name).snapshot()
	}
}

// EndpointStats reports the figures of the endpoint of table (or "node")
// on plane "kv", "cmd" or "node".
func (s *Services) EndpointStats(plane, endpoint string) EndpointStats {
	return s.counters(plane, endpoint).snapshot()
}
