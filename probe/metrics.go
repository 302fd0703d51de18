package probe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/exporter"
	"github.com/jurismon/jurismon/geo"
)

var (
	descHops = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "hops"),
		"Hops to the destination of a configured target in its latest trace (the TTL of the last answering hop).",
		[]string{"target"}, nil)
	descRTT = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "rtt_seconds"),
		"Round-trip time to the destination of a configured target in its latest trace, when it was reached.",
		[]string{"target"}, nil)
	descTransit = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "transit"),
		"Current paths that cross a country: 1 for a configured target; for target=\"auto\", the number of traffic-picked paths. Implausible hops are left out.",
		[]string{"target", "country", "jurisdiction"}, nil)
	descFlagged = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "flagged_transit"),
		"Current paths that cross a flagged jurisdiction: 1 for a configured target; for target=\"auto\", the number of traffic-picked paths.",
		[]string{"target", "jurisdiction"}, nil)
	descChanges = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "changes_total"),
		"Changes of the sequence of responding ASNs on the path to a target.",
		[]string{"target"}, nil)
	descProbes = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "probes_total"),
		"Probes sent, by result: answered, timeout, error (the send failed).",
		[]string{"result"}, nil)
	descCaptured = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "probe_captured_packets_total"),
		"Packets of the agent's own probes and of their replies that the capture saw; they are left out of the traffic metrics and events.",
		nil, nil)
	descImplausible = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "implausible_hops_total"),
		"Hops whose RTT is below the physical minimum for the country the database claims.",
		[]string{"country"}, nil)
	descDropped = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "trace_queue_dropped_total"),
		"Traces not queued because the queue was full.", nil, nil)
	descTraces = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "path", "traces_total"),
		"Traces run by the scheduler, by result: done, failed.", []string{"result"}, nil)
)

// Collector exports the state of a Scheduler and its Prober at scrape
// time. Labels stay bounded: configured target names, "auto", and ISO
// country codes.
type Collector struct {
	s *Scheduler
	p *Prober
}

// NewCollector returns the collector of s and p (either may be nil).
func NewCollector(s *Scheduler, p *Prober) *Collector { return &Collector{s: s, p: p} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHops, descRTT, descTransit, descFlagged, descChanges, descProbes, descCaptured, descImplausible, descDropped, descTraces} {
		ch <- d
	}
}

type transitKey struct{ target, country, jurisdiction string }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.p != nil {
		ch <- prometheus.MustNewConstMetric(descProbes, prometheus.CounterValue, float64(c.p.stats.answered.Load()), "answered")
		ch <- prometheus.MustNewConstMetric(descProbes, prometheus.CounterValue, float64(c.p.stats.timeout.Load()), "timeout")
		ch <- prometheus.MustNewConstMetric(descProbes, prometheus.CounterValue, float64(c.p.stats.sendErr.Load()), "error")
		ch <- prometheus.MustNewConstMetric(descCaptured, prometheus.CounterValue, float64(c.p.stats.captured.Load()))
		c.p.implMu.Lock()
		for country, n := range c.p.implausibl {
			ch <- prometheus.MustNewConstMetric(descImplausible, prometheus.CounterValue, float64(n), country)
		}
		c.p.implMu.Unlock()
	}
	if c.s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(c.s.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(descTraces, prometheus.CounterValue, float64(c.s.traced.Load()), "done")
	ch <- prometheus.MustNewConstMetric(descTraces, prometheus.CounterValue, float64(c.s.failed.Load()), "failed")
	for target, n := range c.s.changeCounts() {
		ch <- prometheus.MustNewConstMetric(descChanges, prometheus.CounterValue, float64(n), target)
	}
	transit := map[transitKey]int{}
	flagged := map[transitKey]int{}
	for _, tr := range c.s.Paths() {
		name := tr.Target.Name
		if name != AutoTarget {
			last := 0
			var rtt float64
			for _, h := range tr.Hops {
				if h.Answered {
					last = h.TTL
					if h.Addr == tr.Dst {
						rtt = h.RTT.Seconds()
					}
				}
			}
			ch <- prometheus.MustNewConstMetric(descHops, prometheus.GaugeValue, float64(last), name)
			if tr.Reached {
				ch <- prometheus.MustNewConstMetric(descRTT, prometheus.GaugeValue, rtt, name)
			}
		}
		// Each path counts once per country and jurisdiction it crosses.
		seenT := map[transitKey]bool{}
		for _, h := range tr.Hops {
			if !h.Answered || h.Implausible || h.Location == nil || h.Location.Country == "" || h.Location.Country == geo.Unknown {
				continue
			}
			k := transitKey{name, h.Location.Country, h.Jurisdiction}
			if !seenT[k] {
				seenT[k] = true
				transit[k]++
			}
			if h.Flagged {
				fk := transitKey{target: name, jurisdiction: h.Jurisdiction}
				if !seenT[fk] {
					seenT[fk] = true
					flagged[fk]++
				}
			}
		}
	}
	for k, n := range transit {
		ch <- prometheus.MustNewConstMetric(descTransit, prometheus.GaugeValue, float64(n), k.target, k.country, k.jurisdiction)
	}
	for k, n := range flagged {
		ch <- prometheus.MustNewConstMetric(descFlagged, prometheus.GaugeValue, float64(n), k.target, k.jurisdiction)
	}
}
