package projections

import (
	"fmt"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
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
