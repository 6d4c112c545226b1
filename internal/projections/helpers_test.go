package projections

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

var baseTime = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// ev builds an event of typ on node n1 at baseTime + i seconds.
func ev(i int, typ, table string, mods ...func(*events.Event)) events.Event {
	e := events.Event{
		ID:    fmt.Sprintf("id-%06d", i),
		Type:  typ,
		Time:  baseTime.Add(time.Duration(i) * time.Second),
		Node:  "n1",
		Table: table,
	}
	for _, m := range mods {
		m(&e)
	}
	return e
}

func data(kv ...any) func(*events.Event) {
	return func(e *events.Event) {
		if e.Data == nil {
			e.Data = map[string]any{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Data[kv[i].(string)] = kv[i+1]
		}
	}
}

func result(r string, ms int64) func(*events.Event) {
	return func(e *events.Event) { e.Result = r; e.DurationMS = ms }
}

func failed(msg string) func(*events.Event) {
	return func(e *events.Event) { e.Result = events.ResultFailed; e.Error = msg }
}

func node(n string) func(*events.Event) { return func(e *events.Event) { e.Node = n } }

func trigger(tr string) func(*events.Event) { return func(e *events.Event) { e.Trigger = tr } }

// script is a deterministic mix of every kind of event over two nodes and
// three tables, n events long. Figures are float64, as JSON decodes them,
// so that events that went through the stream compare equal.
func script(n int) []events.Event {
	out := make([]events.Event, 0, n)
	tables := []string{"users", "orders", "demo"}
	nodes := []string{"n1", "n2"}
	for i := 0; len(out) < n; i++ {
		t := tables[i%len(tables)]
		nd := node(nodes[(i/len(tables))%len(nodes)])
		k := len(out)
		switch i % 11 {
		case 0:
			out = append(out, ev(k, events.TableStats, t, nd, data("bytes", float64(1000+i), "records", float64(10+i), "dead_records", float64(i%7), "dead_ratio", float64(i%7)/10)))
		case 1:
			out = append(out, ev(k, events.CommandAccepted, t, nd, data("verb", "compact")))
		case 2:
			out = append(out, ev(k, events.CompactionStarted, t, nd, trigger(events.TriggerManual)))
		case 3:
			out = append(out, ev(k, events.CompactionCompleted, t, nd, result(events.ResultOK, int64(i)), data("bytes_before", float64(2000+i), "bytes_after", float64(1500+i), "records", float64(10+i), "next_compaction", baseTime.Add(time.Hour).Format(time.RFC3339Nano))))
		case 4:
			out = append(out, ev(k, events.BackupStarted, t, nd))
		case 5:
			out = append(out, ev(k, events.BackupCompleted, t, nd, result(events.ResultOK, 40), data("backup_id", fmt.Sprintf("b%04d", i), "records", float64(10+i), "bytes", float64(900))))
		case 6:
			out = append(out, ev(k, events.VerifyFailed, t, nd, failed("checksum mismatch"), data("records", float64(3))))
		case 7:
			out = append(out, ev(k, events.TableDegraded, t, nd, data("reason", "corruption")))
		case 8:
			out = append(out, ev(k, events.RestoreStarted, t, nd, trigger(events.TriggerAuto)))
		case 9:
			out = append(out, ev(k, events.RestoreCompleted, t, nd, trigger(events.TriggerAuto), result(events.ResultOK, 70), data("records", float64(10+i), "backup_id", "b1", "backup_age_ms", float64(5000))))
		case 10:
			out = append(out, ev(k, events.NotificationSent, "", nd))
		}
	}
	return out
}

const prefix = "custodian"

// fresh gives each event a new id, so that the stream's duplicate window
// does not drop a script's events across tests.
func fresh(evs []events.Event) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		e.ID = events.NewID()
		out[i] = e
	}
	return out
}

// startConsumer runs a consumer of the event stream into a new projection
// until ctx ends; tune, if any, adjusts the consumer before it runs. Run's
// result arrives on the channel.
func startConsumer(ctx context.Context, t *testing.T, js jetstream.JetStream, opts Options, tune ...func(*Consumer)) (*Projection, *Consumer, chan error) {
	t.Helper()
	p := New(opts)
	c := NewConsumer(js, events.StreamName, p, 0)
	for _, f := range tune {
		f(c)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return p, c, done
}

func waitSeq(t *testing.T, p *Projection, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.LastSeq() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("projection stuck at %d, want %d", p.LastSeq(), seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitReady(t *testing.T, c *Consumer) {
	t.Helper()
	select {
	case <-c.Ready():
	case <-time.After(20 * time.Second):
		t.Fatalf("consumer not ready: %+v", c.Status())
	}
}

// sameState tells whether a and b hold deeply equal states.
func sameState(a, b *Projection) bool {
	var equal bool
	a.Read(func(sa *State) { b.Read(func(sb *State) { equal = reflect.DeepEqual(sa, sb) }) })
	return equal
}

func stateOf(p *Projection) *State {
	var s *State
	p.Read(func(st *State) { s = st })
	return s
}

// publishAllRetry publishes evs in order through a reconnecting client: a
// publish that fails while the server restarts is retried with the same
// message id.
func publishAllRetry(ctx context.Context, t *testing.T, js jetstream.JetStream, evs []events.Event) {
	t.Helper()
	for _, e := range evs {
		publishRetry(ctx, t, js, e)
	}
}

// publishRetry publishes through a reconnecting client: a publish that
// fails while the server restarts is retried with the same message id.
func publishRetry(ctx context.Context, t *testing.T, js jetstream.JetStream, e events.Event) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := natstest.Publish(pctx, js, prefix, e)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish %s: %v", e.Type, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
