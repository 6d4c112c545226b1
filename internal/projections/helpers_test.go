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

// withoutStats leaves out the table.stats (they go to the stats stream).
func withoutStats(evs []events.Event) []events.Event {
	var out []events.Event
	for _, e := range evs {
		if !events.IsStats(e) {
			out = append(out, e)
		}
	}
	return out
}

// publishStats publishes the table.stats among evs to the stats stream,
// in order, and returns the last sequence.
func publishStats(ctx context.Context, t *testing.T, js jetstream.JetStream, evs []events.Event) uint64 {
	t.Helper()
	var seq uint64
	for _, e := range evs {
		if events.IsStats(e) {
			seq = natstest.MustPublish(ctx, t, js, prefix, e)
		}
	}
	return seq
}

func waitStatsSeq(t *testing.T, p *Projection, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.StatsLastSeq() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("projection stuck at stats seq %d, want %d", p.StatsLastSeq(), seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sameView says how two projections differ in what they show ("" when they
// do not): the cards (all but StateSince and the counters, which count
// only the events read), the history and the stats history.
func sameView(a, b *Projection) string {
	var ca, cb []Card
	var ha, hb, sa, sb []Row
	a.Read(func(s *State) {
		ca, ha, sa = s.Cards(), s.History(Filter{Limit: 100000}), s.StatsHistory(Filter{Limit: 100000})
	})
	b.Read(func(s *State) {
		cb, hb, sb = s.Cards(), s.History(Filter{Limit: 100000}), s.StatsHistory(Filter{Limit: 100000})
	})
	if len(ca) != len(cb) {
		return fmt.Sprintf("%d cards vs %d", len(ca), len(cb))
	}
	for i := range ca {
		x, y := ca[i], cb[i]
		x.StateSince, y.StateSince = time.Time{}, time.Time{}
		x.Counters, y.Counters = nil, nil
		if !reflect.DeepEqual(x, y) {
			return fmt.Sprintf("card %s/%s:\n%+v\nvs\n%+v", x.Node, x.Table, x, y)
		}
	}
	if !reflect.DeepEqual(ha, hb) {
		return fmt.Sprintf("history: %d rows vs %d", len(ha), len(hb))
	}
	if !reflect.DeepEqual(sa, sb) {
		return fmt.Sprintf("stats history: %d rows vs %d", len(sa), len(sb))
	}
	return ""
}
