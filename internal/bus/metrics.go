package bus

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the outbox's figures to Prometheus:
// custodian_outbox_depth (events waiting), custodian_outbox_published_total,
// custodian_outbox_publish_failures_total (failed attempts, each retried)
// and custodian_outbox_parked_total. Register it once:
// registry.MustRegister(outbox.Collector()).
func (o *Outbox) Collector() prometheus.Collector {
	return &outboxCollector{
		o: o,
		depth: prometheus.NewDesc("custodian_outbox_depth",
			"Events appended to the local outbox and not yet acknowledged by the stream.", nil, nil),
		published: prometheus.NewDesc("custodian_outbox_published_total",
			"Events published from the outbox since the process started.", nil, nil),
		failures: prometheus.NewDesc("custodian_outbox_publish_failures_total",
			"Failed publish attempts from the outbox (each is retried; nothing is dropped).", nil, nil),
		parked: prometheus.NewDesc("custodian_outbox_parked_total",
			"Outbox entries that could not be decoded and were kept aside on disk.", nil, nil),
	}
}

type outboxCollector struct {
	o                                  *Outbox
	depth, published, failures, parked *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.published
	ch <- c.failures
	ch <- c.parked
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.o.Stats()
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Depth))
	ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures))
	ch <- prometheus.MustNewConstMetric(c.parked, prometheus.CounterValue, float64(s.Parked))
}
