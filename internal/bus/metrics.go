package bus

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the outbox's figures to Prometheus:
// custodian_outbox_depth (events waiting), custodian_outbox_published_total
// and custodian_outbox_publish_failures_total (failed attempts, each
// retried). Register it once: registry.MustRegister(outbox.Collector()).
func (o *Outbox) Collector() prometheus.Collector { return outboxCollector{o} }

type outboxCollector struct{ o *Outbox }

var (
	outboxDepthDesc = prometheus.NewDesc("custodian_outbox_depth",
		"Events appended to the local outbox and not yet acknowledged by the stream.", nil, nil)
	outboxPublishedDesc = prometheus.NewDesc("custodian_outbox_published_total",
		"Events published from the outbox since the process started.", nil, nil)
	outboxFailuresDesc = prometheus.NewDesc("custodian_outbox_publish_failures_total",
		"Failed publish attempts from the outbox (each is retried; nothing is dropped).", nil, nil)
	outboxParkedDesc = prometheus.NewDesc("custodian_outbox_parked_total",
		"Outbox entries that could not be decoded and were kept aside on disk.", nil, nil)
)

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- outboxPublishedDesc
	ch <- outboxFailuresDesc
	ch <- outboxParkedDesc
}

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.o.Stats()
	ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(s.Depth))
	ch <- prometheus.MustNewConstMetric(outboxPublishedDesc, prometheus.CounterValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(outboxFailuresDesc, prometheus.CounterValue, float64(s.Failures))
	ch <- prometheus.MustNewConstMetric(outboxParkedDesc, prometheus.CounterValue, float64(s.Parked))
}
