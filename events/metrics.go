package events

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/exporter"
)

var (
	writtenDesc = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "events", "written_total"),
		"Flagged-flow events recorded: written to the event file or standard output, or kept in memory only when there is no file.", nil, nil)
	droppedDesc = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "events", "dropped_total"),
		"Flagged-flow events lost, by reason: rate_limit, queue_full (the writer fell behind) or write_error.", []string{"reason"}, nil)
	rotationsDesc = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "event_log", "rotations_total"),
		"Times the event file was rotated for size.", nil, nil)
)

// collector reads the log's atomic counters at scrape time, so Observe
// never touches a prometheus type.
type collector struct{ l *Log }

// Collector returns the log's metrics.
func (l *Log) Collector() prometheus.Collector { return collector{l} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- writtenDesc
	ch <- droppedDesc
	ch <- rotationsDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(writtenDesc, prometheus.CounterValue, float64(c.l.written.Load()))
	for i, name := range reasonNames {
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(c.l.dropped[i].Load()), name)
	}
	ch <- prometheus.MustNewConstMetric(rotationsDesc, prometheus.CounterValue, float64(c.l.rotations.Load()))
}
