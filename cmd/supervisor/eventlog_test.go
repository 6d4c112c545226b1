package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// refusingEmitter refuses every event.
type refusingEmitter struct{ n int }

func (r *refusingEmitter) Emit(context.Context, events.Event) error {
	r.n++
	return errors.New("disk full")
}

// TestLoggingEmitterNamesIncidents: incidents reach the log (with the emit
// error when the outbox refused them), routine events do not, and every
// event still goes to the next emitter.
func TestLoggingEmitterNamesIncidents(t *testing.T) {
	var buf bytes.Buffer
	next := &refusingEmitter{}
	l := loggingEmitter{next: next, log: slog.New(slog.NewTextHandler(&buf, nil))}
	mk := func(typ string, data map[string]any) events.Event {
		e := events.New(typ, "n1", "users")
		e.Trigger = events.TriggerAuto
		e.Data = data
		return e
	}
	for _, e := range []events.Event{
		mk(events.CorruptionDetected, map[string]any{"op": "open"}),
		mk(events.RestoreCompleted, map[string]any{"backup_id": "b1"}),
		mk(events.TableStats, map[string]any{"writes": "failing", "writes_code": "no_space", "writes_changed": true}),
		mk(events.TableStats, map[string]any{"writes": "ok", "running": "restore"}), // progress: not logged
		mk(events.CompactionCompleted, nil),
		mk(events.TableStats, map[string]any{"bytes": 10}),
	} {
		if err := l.Emit(context.Background(), e); err == nil {
			t.Fatalf("the emit error was swallowed")
		}
	}
	out := buf.String()
	for _, want := range []string{"type=corruption.detected", "op=open", "type=restore.completed", "backup_id=b1", "writes_code=no_space", `emit_error="disk full"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "compaction.completed") || strings.Count(out, "type=table.stats") != 1 {
		t.Errorf("routine events logged:\n%s", out)
	}
	if next.n != 6 {
		t.Errorf("%d events reached the outbox, want 6", next.n)
	}
}
