package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/exporter"
)

// reloadMetrics export the outcome of configuration reloads, as blackbox
// and Prometheus itself do.
type reloadMetrics struct {
	ok, okTime prometheus.Gauge
	failures   prometheus.Counter
}

func newReloadMetrics() *reloadMetrics {
	return &reloadMetrics{
		ok: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(exporter.Namespace, "config", "last_reload_successful"),
			Help: "Whether the last reload of the policy and databases succeeded.",
		}),
		okTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(exporter.Namespace, "config", "last_reload_success_timestamp_seconds"),
			Help: "Time of the last successful reload.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prometheus.BuildFQName(exporter.Namespace, "config", "reload_failures_total"),
			Help: "Reloads refused because a policy or database file was bad (the last good state kept serving).",
		}),
	}
}

func (m *reloadMetrics) succeeded() {
	m.ok.Set(1)
	m.okTime.SetToCurrentTime()
}

func (m *reloadMetrics) failed() { m.ok.Set(0); m.failures.Inc() }

func (m *reloadMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.ok.Describe(ch)
	m.okTime.Describe(ch)
	m.failures.Describe(ch)
}

func (m *reloadMetrics) Collect(ch chan<- prometheus.Metric) {
	m.ok.Collect(ch)
	m.okTime.Collect(ch)
	m.failures.Collect(ch)
}
