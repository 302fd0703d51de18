package dns

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/exporter"
)

// counters are the cache's metrics, atomic adds on the packet path, read at
// scrape time.
type counters struct {
	messages      [numResults]atomic.Uint64
	answers       atomic.Uint64
	evictions     atomic.Uint64
	nameEvictions atomic.Uint64
	tcpReplaced   atomic.Uint64 // TCP framing states a Tap gave to another connection
	lateNames     atomic.Uint64 // flows named by the Inspector after they started
}

var (
	descEntries = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "dns", "addresses"),
		"Answered addresses held in the passive DNS map with a name still offered (TTL and grace not passed, in packet time).", nil, nil)
	descCapacity = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "dns", "addresses_capacity"),
		"Addresses the passive DNS map holds at most.", nil, nil)
	descMessages = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "dns", "messages_total"),
		"DNS responses read from the wire, by result: decoded, partial (cut short by a fragment or a TCP segment), ignored (queries, error responses), malformed.",
		[]string{"result"}, nil)
	descAnswers = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "dns", "answers_total"),
		"A and AAAA answers stored in the passive DNS map.", nil, nil)
	descEvictions = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "dns", "evictions_total"),
		"Names forgotten before they expired, by what: address (the map was full: the least recently answered address of its set went) or name (an address answered for more names than it keeps: the oldest name went).",
		[]string{"what"}, nil)
	descTCPReplaced = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "dns", "tcp_states_replaced_total"),
		"TCP connections from port 53 whose framing state another connection took (each worker keeps a fixed number): the next message of the connection may be misread.", nil, nil)
	descLate = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "dns", "late_names_total"),
		"Flows named after they started: the answer was read (on another capture worker) after the flow's first packet.", nil, nil)
)

type collector struct{ c *Cache }

// Collector returns the cache's metrics.
func (c *Cache) Collector() prometheus.Collector { return collector{c} }

func (m collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEntries, descCapacity, descMessages, descAnswers, descEvictions, descTCPReplaced, descLate} {
		ch <- d
	}
}

func (m collector) Collect(ch chan<- prometheus.Metric) {
	c := m.c
	ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(c.Len(c.now.Load())))
	ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(c.Capacity()))
	for r := range numResults {
		ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(c.metrics.messages[r].Load()), r.String())
	}
	ch <- prometheus.MustNewConstMetric(descAnswers, prometheus.CounterValue, float64(c.metrics.answers.Load()))
	ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(c.metrics.evictions.Load()), "address")
	ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(c.metrics.nameEvictions.Load()), "name")
	ch <- prometheus.MustNewConstMetric(descTCPReplaced, prometheus.CounterValue, float64(c.metrics.tcpReplaced.Load()))
	ch <- prometheus.MustNewConstMetric(descLate, prometheus.CounterValue, float64(c.metrics.lateNames.Load()))
}
