package projections

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the projection as Prometheus metrics. It reads the
// state under the projection's lock at scrape time, so the metrics always
// agree with the cards and the history.
type Collector struct {
	p *Projection

	eventsTotal    *prometheus.Desc
	invalidTotal   *prometheus.Desc
	lastSeq        *prometheus.Desc
	tableBytes     *prometheus.Desc
	tableRecords   *prometheus.Desc
	tableDead      *prometheus.Desc
	tableDeadRatio *prometheus.Desc
	tableState     *prometheus.Desc
	tableWrites    *prometheus.Desc
	lastBackup     *prometheus.Desc
	lastCompaction *prometheus.Desc
	lastVerify     *prometheus.Desc
	opDuration     *prometheus.Desc
}

// NewCollector returns a collector over p; register it on a registry of
// your own (prometheus.NewRegistry), never the default one.
func NewCollector(p *Projection) *Collector {
	nt := []string{"node", "table"}
	return &Collector{
		p:              p,
		eventsTotal:    prometheus.NewDesc("custodian_events_total", "Events in the stream by type and result.", []string{"type", "result"}, nil),
		invalidTotal:   prometheus.NewDesc("custodian_events_invalid_total", "Stream messages that could not be decoded as events.", nil, nil),
		lastSeq:        prometheus.NewDesc("custodian_events_last_sequence", "Stream sequence of the last event applied.", nil, nil),
		tableBytes:     prometheus.NewDesc("custodian_table_bytes", "Size of the table on disk, from the last table.stats or compaction.", nt, nil),
		tableRecords:   prometheus.NewDesc("custodian_table_records", "Live records of the table.", nt, nil),
		tableDead:      prometheus.NewDesc("custodian_table_dead_records", "Estimated dead records (overwrites and deletes since the last rewrite).", nt, nil),
		tableDeadRatio: prometheus.NewDesc("custodian_table_dead_ratio", "Estimated dead / (live + dead) records.", nt, nil),
		tableState:     prometheus.NewDesc("custodian_table_state", "1 for the state the table is in, 0 for the others.", []string{"node", "table", "state"}, nil),
		tableWrites:    prometheus.NewDesc("custodian_table_writes_failing", "1 while the table's writes fail (reason: no_space when the disk is full, internal otherwise), 0 when they work.", []string{"node", "table", "reason"}, nil),
		lastBackup:     prometheus.NewDesc("custodian_table_last_backup_timestamp_seconds", "Time of the last successful backup.", nt, nil),
		lastCompaction: prometheus.NewDesc("custodian_table_last_compaction_timestamp_seconds", "Time of the last compaction outcome.", nt, nil),
		lastVerify:     prometheus.NewDesc("custodian_table_last_verify_timestamp_seconds", "Time of the last verify outcome.", nt, nil),
		opDuration:     prometheus.NewDesc("custodian_operation_duration_seconds", "Duration of finished maintenance operations.", []string{"operation", "result"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.eventsTotal, c.invalidTotal, c.lastSeq, c.tableBytes, c.tableRecords,
		c.tableDead, c.tableDeadRatio, c.tableState, c.tableWrites, c.lastBackup, c.lastCompaction, c.lastVerify, c.opDuration} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.p.Read(func(s *State) {
		for k, v := range s.counts {
			ch <- prometheus.MustNewConstMetric(c.eventsTotal, prometheus.CounterValue, float64(v), k.Type, k.Result)
		}
		ch <- prometheus.MustNewConstMetric(c.invalidTotal, prometheus.CounterValue, float64(s.invalid))
		ch <- prometheus.MustNewConstMetric(c.lastSeq, prometheus.GaugeValue, float64(s.lastSeq))
		for _, card := range s.cards {
			n, t := card.Node, card.Table
			ch <- prometheus.MustNewConstMetric(c.tableBytes, prometheus.GaugeValue, float64(card.Bytes), n, t)
			ch <- prometheus.MustNewConstMetric(c.tableRecords, prometheus.GaugeValue, float64(card.Records), n, t)
			ch <- prometheus.MustNewConstMetric(c.tableDead, prometheus.GaugeValue, float64(card.DeadRecords), n, t)
			ch <- prometheus.MustNewConstMetric(c.tableDeadRatio, prometheus.GaugeValue, card.DeadRatio, n, t)
			for _, st := range States() {
				v := 0.0
				if card.State == st {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.tableState, prometheus.GaugeValue, v, n, t, st)
			}
			if card.Writes == "failing" {
				ch <- prometheus.MustNewConstMetric(c.tableWrites, prometheus.GaugeValue, 1, n, t, card.WritesCode)
			} else {
				ch <- prometheus.MustNewConstMetric(c.tableWrites, prometheus.GaugeValue, 0, n, t, "")
			}
			if o := card.LastBackup; o != nil {
				ch <- prometheus.MustNewConstMetric(c.lastBackup, prometheus.GaugeValue, unixSeconds(o), n, t)
			}
			if o := card.LastCompaction; o != nil {
				ch <- prometheus.MustNewConstMetric(c.lastCompaction, prometheus.GaugeValue, unixSeconds(o), n, t)
			}
			if o := card.LastVerify; o != nil {
				ch <- prometheus.MustNewConstMetric(c.lastVerify, prometheus.GaugeValue, unixSeconds(o), n, t)
			}
		}
		for k, h := range s.durations {
			buckets := make(map[float64]uint64, len(s.buckets))
			var cum uint64
			for i, b := range s.buckets {
				cum += h.counts[i]
				buckets[b] = cum
			}
			ch <- prometheus.MustNewConstHistogram(c.opDuration, h.count, h.sum, buckets, k.Operation, k.Result)
		}
	})
}

func unixSeconds(o *Outcome) float64 { return float64(o.Time.UnixNano()) / 1e9 }
