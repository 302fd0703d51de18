package latency

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/exporter"
)

// metrics are the passive signals' series. Their labels are bounded:
// country codes of the country table plus "unknown", and the configured
// jurisdictions.
type metrics struct {
	rtt, flaggedRTT      *prometheus.HistogramVec
	detours, implausible *prometheus.CounterVec
	hopChanges           *prometheus.CounterVec
}

func newPassiveMetrics() metrics {
	buckets := []float64{.001, .0025, .005, .01, .02, .04, .08, .16, .32, .64, 1.28, 2.56}
	name := func(subsystem, name string) string {
		return prometheus.BuildFQName(exporter.Namespace, subsystem, name)
	}
	return metrics{
		rtt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name("", "rtt_seconds"), Help: "TCP handshake round-trip time (SYN to SYN-ACK) of flows the host opens, by remote country.",
			Buckets: buckets,
		}, []string{"country"}),
		flaggedRTT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name("flagged", "rtt_seconds"), Help: "TCP handshake round-trip time of flows to flagged jurisdictions.",
			Buckets: buckets,
		}, []string{"jurisdiction"}),
		detours: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("rtt", "detours_total"), Help: "Handshakes whose RTT exceeds 2 × the physical minimum for the remote country + 50ms.",
		}, []string{"country"}),
		implausible: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("rtt", "implausible_total"), Help: "Handshakes whose RTT is below the physical minimum for the country the database claims.",
		}, []string{"country"}),
		hopChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("route", "hopcount_changes_total"), Help: "Changes of the hop count (from the TTL of arriving packets) of a remote prefix.",
		}, []string{"country"}),
	}
}

// Collector returns the passive signals' metrics.
func (p *PassiveRTT) Collector() prometheus.Collector { return &p.metrics }

func (m *metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.rtt, m.flaggedRTT, m.detours, m.implausible, m.hopChanges}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all() {
		c.Describe(ch)
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all() {
		c.Collect(ch)
	}
}
