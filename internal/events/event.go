// Package events defines the event envelope of the contract, the event type
// names and the subjects events travel on. It does no I/O.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event is one entry of the CUSTODIAN_EVENTS stream, exactly as the contract
// shows it. Data holds the type-specific figures (bytes_before, bytes_after,
// records, backup_id, dead_ratio, reason, ...).
type Event struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Time       time.Time      `json:"time"`
	Node       string         `json:"node"`
	Table      string         `json:"table"`
	CommandID  string         `json:"command_id"`
	Trigger    string         `json:"trigger,omitempty"`
	Attempt    int            `json:"attempt,omitempty"`
	Result     string         `json:"result,omitempty"`
	DurationMS int64          `json:"duration_ms"`
	Error      string         `json:"error,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
}

// Emitter takes events for publication. The bus's outbox implements it; an
// Emit that returns nil has made the event durable (it will be published).
type Emitter interface {
	Emit(ctx context.Context, e Event) error
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ctx context.Context, e Event) error

// Emit calls f.
func (f EmitterFunc) Emit(ctx context.Context, e Event) error { return f(ctx, e) }

// New returns an event of type typ with a fresh UUIDv7 id and the current
// time (UTC, nanoseconds). table is "" for node-level events.
func New(typ, node, table string) Event {
	return Event{
		ID:    NewID(),
		Type:  typ,
		Time:  time.Now().UTC(),
		Node:  node,
		Table: table,
	}
}

// NewID returns a UUIDv7 string: ids sort by creation time.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only when the system's random source fails.
		return uuid.NewString()
	}
	return id.String()
}

// Marshal encodes the event as the JSON the stream carries.
func (e Event) Marshal() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("event %s %s: marshal: %w", e.Type, e.ID, err)
	}
	return b, nil
}

// Unmarshal decodes an event from the stream.
func Unmarshal(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("event: unmarshal: %w", err)
	}
	if e.ID == "" || e.Type == "" {
		return Event{}, fmt.Errorf("event: unmarshal: missing id or type")
	}
	return e, nil
}

// Final reports whether a *.failed event is final (no further attempt will
// follow). A compaction's first failure is retried, so a compaction.failed
// is final when its data says so ("final": true, as the supervisor writes
// on every one: also on a first failure whose retry a shutdown cut), and
// without that field at attempt >= 2; every other failure is final. Events
// that are not failures are not final failures.
func (e Event) Final() bool {
	if !IsFailure(e.Type) {
		return false
	}
	if e.Type == CompactionFailed {
		if final, ok := e.Data["final"].(bool); ok {
			return final
		}
		return e.Attempt >= 2
	}
	return true
}
