package bus

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the outbox's figures to Prometheus:
// custodian_outbox_depth (events waiting), custodian_outbox_published_total,
// custodian_outbox_publish_failures_total (failed attempts, each retried)
// custodian_outbox_parked_total, custodian_outbox_held (events held in
// memory while the disk refuses writes), custodian_outbox_write_failures_total
// and custodian_outbox_healthy (1 while Health is nil). Register it once:
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
		held: prometheus.NewDesc("custodian_outbox_held",
			"Events held in memory because the outbox's disk refuses writes (lost if the process dies).", nil, nil),
		writeFailures: prometheus.NewDesc("custodian_outbox_write_failures_total",
			"Failed writes of the outbox's database (a full disk); the database is reopened once space is back.", nil, nil),
		healthy: prometheus.NewDesc("custodian_outbox_healthy",
			"1 while the outbox can write to disk and publish, 0 otherwise (see /healthz).", nil, nil),
	}
}

type outboxCollector struct {
	o                                  *Outbox
	depth, published, failures, parked *prometheus.Desc
	held, writeFailures, healthy       *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.published
	ch <- c.failures
	ch <- c.parked
	ch <- c.held
	ch <- c.writeFailures
	ch <- c.healthy
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.o.Stats()
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Depth))
	ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures))
	ch <- prometheus.MustNewConstMetric(c.parked, prometheus.CounterValue, float64(s.Parked))
	ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(s.Held))
	ch <- prometheus.MustNewConstMetric(c.writeFailures, prometheus.CounterValue, float64(s.WriteFailures))
	healthy := 1.0
	if c.o.Health() != nil {
		healthy = 0
	}
	ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, healthy)
}
