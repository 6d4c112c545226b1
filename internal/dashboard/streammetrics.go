package dashboard

import "github.com/prometheus/client_golang/prometheus"

// streamCollector exports the event-stream caps' counts:
// custodian_dashboard_streams (open now) and
// custodian_dashboard_streams_refused_total (clients refused over a cap).
type streamCollector struct {
	slots   *streamSlots
	open    *prometheus.Desc
	refused *prometheus.Desc
}

func newStreamCollector(slots *streamSlots) *streamCollector {
	return &streamCollector{
		slots:   slots,
		open:    prometheus.NewDesc("custodian_dashboard_streams", "Live-update (SSE) clients connected.", nil, nil),
		refused: prometheus.NewDesc("custodian_dashboard_streams_refused_total", "Live-update clients refused over --max-streams or --max-streams-per-addr.", nil, nil),
	}
}

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.refused
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	open, refused := c.slots.stats()
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(refused))
}
