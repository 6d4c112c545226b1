package projections

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/custodian-dev/custodian/internal/events"
)

func gather(t *testing.T, p *Projection) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(p))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func metricValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range mf.GetMetric() {
		if labelsMatch(m, labels) {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func TestMetricsFromState(t *testing.T) {
	p := New(Options{})
	evs := []events.Event{
		ev(0, events.TableStats, "users", data("bytes", 4096.0, "records", 100.0, "dead_records", 5.0, "dead_ratio", 0.05)),
		ev(1, events.CompactionStarted, "users"),
		ev(2, events.CompactionCompleted, "users", result("ok", 2500), data("bytes_before", 4096.0, "bytes_after", 2048.0)),
		ev(3, events.CompactionFailed, "orders", failed("x"), result("failed", 20)),
		ev(4, events.BackupStarted, "orders"),
	}
	for i, e := range evs {
		p.Apply(uint64(i+1), e)
	}
	p.Apply(3, evs[2]) // redelivery: no double count
	mfs := gather(t, p)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"custodian_events_total", map[string]string{"type": "compaction.completed", "result": "ok"}, 1},
		{"custodian_events_total", map[string]string{"type": "table.stats", "result": ""}, 1},
		{"custodian_events_last_sequence", nil, 5},
		{"custodian_table_bytes", map[string]string{"node": "n1", "table": "users"}, 2048},
		{"custodian_table_records", map[string]string{"node": "n1", "table": "users"}, 100},
		{"custodian_table_dead_records", map[string]string{"node": "n1", "table": "users"}, 5},
		{"custodian_table_dead_ratio", map[string]string{"node": "n1", "table": "users"}, 0.05},
		{"custodian_table_state", map[string]string{"node": "n1", "table": "orders", "state": "backing_up"}, 1},
		{"custodian_table_state", map[string]string{"node": "n1", "table": "orders", "state": "ok"}, 0},
		{"custodian_table_state", map[string]string{"node": "n1", "table": "users", "state": "ok"}, 1},
		{"custodian_operation_duration_seconds", map[string]string{"operation": "compaction", "result": "ok"}, 1},
		{"custodian_operation_duration_seconds", map[string]string{"operation": "compaction", "result": "failed"}, 1},
	}
	for _, c := range checks {
		if got := metricValue(t, mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := mfs["custodian_operation_duration_seconds"].GetMetric()
	for _, m := range h {
		if labelsMatch(m, map[string]string{"operation": "compaction", "result": "ok"}) {
			if m.GetHistogram().GetSampleSum() != 2.5 {
				t.Errorf("duration sum %v", m.GetHistogram().GetSampleSum())
			}
			for _, b := range m.GetHistogram().GetBucket() {
				want := uint64(0)
				if b.GetUpperBound() >= 5 {
					want = 1
				}
				if b.GetCumulativeCount() != want {
					t.Errorf("bucket le=%v count %d want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
				}
			}
		}
	}
	for name := range mfs {
		if len(name) < 10 || name[:10] != "custodian_" {
			t.Errorf("metric %s lacks the custodian_ prefix", name)
		}
	}
}
