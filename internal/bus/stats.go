package bus

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Each plane (kv, cmd, node) keeps its figures here, for all its tables
// together: "nats service stats" shows them as the one endpoint of the
// plane's service (requests, errors, processing time) and its data.

// EndpointStats are the figures of a plane beyond micro's own: they are
// the endpoint's data in "nats service stats" and "nats service info".
type EndpointStats struct {
	Tables         int    `json:"tables"`                     // tables subscribed (kv, cmd)
	Errors         int64  `json:"errors"`                     // error replies (and refused publishes)
	LastError      string `json:"last_error"`                 // "code: message" of the latest
	LastErrorTable string `json:"last_error_table,omitempty"` // the table it was about
	InFlight       int64  `json:"in_flight"`                  // requests being handled now
}

// planeCounters are the live figures of one plane.
type planeCounters struct {
	requests   atomic.Int64
	errors     atomic.Int64
	inFlight   atomic.Int64
	processing atomic.Int64 // nanoseconds from inbox to reply, summed
	mu         sync.Mutex
	lastErr    string
	lastTable  string
}

// fail counts an error reply about table.
func (c *planeCounters) fail(table string, err error) {
	c.errors.Add(1)
	msg := string(apierr.CodeOf(err)) + ": " + apierr.MessageOf(err)
	c.mu.Lock()
	c.lastErr, c.lastTable = msg, table
	c.mu.Unlock()
}

// done adds the time a request took since start.
func (c *planeCounters) done(start time.Time) { c.processing.Add(int64(time.Since(start))) }

func (c *planeCounters) snapshot(tables int) EndpointStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return EndpointStats{Tables: tables, Errors: c.errors.Load(), LastError: c.lastErr, LastErrorTable: c.lastTable, InFlight: c.inFlight.Load()}
}

// EndpointStats reports the figures of plane "kv", "cmd" or "node".
func (s *Services) EndpointStats(plane string) EndpointStats {
	c := s.stats[plane]
	if c == nil {
		return EndpointStats{}
	}
	return c.snapshot(s.tableCount(plane))
}

// tableCount is the number of tables subscribed on plane (0 for node).
func (s *Services) tableCount(plane string) int {
	if plane == planeNode {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tables)
}
