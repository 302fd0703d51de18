package workload

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/exporter"
)

var (
	descLookups = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "workload", "socket_lookups_total"),
		"Socket owner lookups, by result: found, cached (answered from the cache, failures included), no_socket, no_owner, error.",
		[]string{"result"}, nil)
	descEvictions = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "workload", "socket_cache_evictions_total"),
		"Socket owner answers dropped from the full cache before their TTL.", nil, nil)
	descScans = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "workload", "proc_scans_total"),
		"Scans of every process's file descriptors for socket inodes, and of the other network namespaces' socket tables.", nil, nil)
	descTruncated = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "workload", "proc_scans_truncated_total"),
		"Scans stopped at the socket inode or network namespace cap before reading every process.", nil, nil)
)

type collector struct{ r *Resolver }

// Collector returns the resolver's metrics.
func (r *Resolver) Collector() prometheus.Collector { return collector{r} }

func (m collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLookups, descEvictions, descScans, descTruncated} {
		ch <- d
	}
}

func (m collector) Collect(ch chan<- prometheus.Metric) {
	for i, name := range resultNames {
		ch <- prometheus.MustNewConstMetric(descLookups, prometheus.CounterValue, float64(m.r.lookups[i].Load()), name)
	}
	ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(m.r.evictions.Load()))
	ch <- prometheus.MustNewConstMetric(descScans, prometheus.CounterValue, float64(m.r.scans.Load()))
	ch <- prometheus.MustNewConstMetric(descTruncated, prometheus.CounterValue, float64(m.r.truncated.Load()))
}
