package macvendor

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "jurismon"

var (
	registryInfoDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "vendor", "registry_info"),
		"IEEE MAC registry files in use: 1 per file, with its registry, path and modification time (Unix seconds).",
		[]string{"registry", "path", "modified"}, nil)
	registryEntriesDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "vendor", "registry_assignments"),
		"Assignments read from each IEEE MAC registry file.", []string{"registry"}, nil)
	registryMalformedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "vendor", "registry_malformed_lines"),
		"Lines of each IEEE MAC registry file that could not be read and were skipped.", []string{"registry"}, nil)
	reloadsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "vendor", "registry_loads_total"),
		"Successful loads of the IEEE MAC registry.", nil, nil)
	reloadFailsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "vendor", "registry_load_failures_total"),
		"Reloads of the IEEE MAC registry that failed (the last good one stayed in use).", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Source) Describe(ch chan<- *prometheus.Desc) {
	ch <- registryInfoDesc
	ch <- registryEntriesDesc
	ch <- registryMalformedDesc
	ch <- reloadsDesc
	ch <- reloadFailsDesc
}

// Collect implements prometheus.Collector.
func (s *Source) Collect(ch chan<- prometheus.Metric) {
	for _, f := range s.cur.Load().files {
		ch <- prometheus.MustNewConstMetric(registryInfoDesc, prometheus.GaugeValue, 1,
			f.Registry, f.Path, strconv.FormatInt(f.ModTime.Unix(), 10))
		ch <- prometheus.MustNewConstMetric(registryEntriesDesc, prometheus.GaugeValue, float64(f.Entries), f.Registry)
		ch <- prometheus.MustNewConstMetric(registryMalformedDesc, prometheus.GaugeValue, float64(f.Malformed), f.Registry)
	}
	ch <- prometheus.MustNewConstMetric(reloadsDesc, prometheus.CounterValue, float64(s.loads.Load()))
	ch <- prometheus.MustNewConstMetric(reloadFailsDesc, prometheus.CounterValue, float64(s.fails.Load()))
}
