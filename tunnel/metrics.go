package tunnel

import (
	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "jurismon"

var (
	tunnelsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "tunnels"),
		"Active tunnels and VPNs (listed in /api/v1/tunnels), by protocol, endpoint country and jurisdiction (\"\" when not flagged).",
		[]string{"protocol", "country", "jurisdiction"}, nil)
	startedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "tunnels_started_total"),
		"Tunnels and VPNs recognised, listed or not, by protocol, endpoint country and jurisdiction.",
		[]string{"protocol", "country", "jurisdiction"}, nil)
	bytesDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "tunnel_bytes_total"),
		"IP bytes of the flows that carry a tunnel or VPN (from their first packet), by protocol, direction, endpoint country and jurisdiction.",
		[]string{"protocol", "direction", "country", "jurisdiction"}, nil)
	untrackedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "tunnel_inventory", "untracked_total"),
		"Tunnels not listed (nor counted in jurismon_tunnels) because the inventory was full (--tunnels.max).", nil, nil)
	foldedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "tunnel_inventory", "series_folded_total"),
		"Tunnel reports whose country was folded into \"other\" because the tunnel metrics had their maximum of label sets.", nil, nil)
	listedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "tunnel_inventory", "tunnels"),
		"Tunnels listed in the inventory (bounded by --tunnels.max).", nil, nil)
	forgottenDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "tunnel_inventory", "endpoints_forgotten_total"),
		"Tunnel endpoints dropped from the full set of endpoints seen (which lookup asks about).", nil, nil)
)

// Collector returns the inventory's metrics, read at scrape time.
func (inv *Inventory) Collector() prometheus.Collector { return collector{inv} }

type collector struct{ inv *Inventory }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tunnelsDesc, startedDesc, bytesDesc, untrackedDesc, foldedDesc, listedDesc, forgottenDesc} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	inv := c.inv
	inv.mu.Lock()
	type row struct {
		lb Labels
		s  seriesCounts
	}
	rows := make([]row, 0, len(inv.series))
	for lb, s := range inv.series {
		rows = append(rows, row{lb, *s})
	}
	listed := len(inv.tunnels)
	inv.mu.Unlock()
	for _, r := range rows {
		lb := r.lb
		// Every label set with a tunnel once has its gauge, 0 when none
		// is active, so that a tunnel ending shows as a drop to 0.
		ch <- prometheus.MustNewConstMetric(tunnelsDesc, prometheus.GaugeValue, float64(r.s.active), lb.Protocol, lb.Country, lb.Jurisdiction)
		if r.s.started > 0 {
			ch <- prometheus.MustNewConstMetric(startedDesc, prometheus.CounterValue, float64(r.s.started), lb.Protocol, lb.Country, lb.Jurisdiction)
		}
		for d, b := range r.s.bytes {
			if b > 0 {
				ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(b), lb.Protocol, dirNames[d], lb.Country, lb.Jurisdiction)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(untrackedDesc, prometheus.CounterValue, float64(inv.untracked.Load()))
	ch <- prometheus.MustNewConstMetric(foldedDesc, prometheus.CounterValue, float64(inv.foldedSeries.Load()))
	ch <- prometheus.MustNewConstMetric(listedDesc, prometheus.GaugeValue, float64(listed))
	ch <- prometheus.MustNewConstMetric(forgottenDesc, prometheus.CounterValue, float64(inv.forgotten.Load()))
}
