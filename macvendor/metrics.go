package macvendor

import (
	"maps"
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

var (
	devicesDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "devices"),
		"Local devices seen within the inventory window, by their maker's country and whether a vendors rule flags them.",
		[]string{"vendor_country", "flagged"}, nil)
	devicesNewDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "devices_new_total"),
		"Local devices seen for the first time (or again after eviction from the inventory), by maker's country and flagged.",
		[]string{"vendor_country", "flagged"}, nil)
	inventoryDevicesDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "device_inventory", "devices"),
		"Devices held in the inventory (bounded by --vendors.max-devices).", nil, nil)
	inventoryEvictedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "device_inventory", "evictions_total"),
		"Devices evicted from the full inventory, least recently seen first.", nil, nil)
)

// InventoryCollector returns the inventory's metrics.
func (inv *Inventory) Collector() prometheus.Collector { return inventoryCollector{inv} }

type inventoryCollector struct{ inv *Inventory }

func (c inventoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- devicesDesc
	ch <- devicesNewDesc
	ch <- inventoryDevicesDesc
	ch <- inventoryEvictedDesc
}

func (c inventoryCollector) Collect(ch chan<- prometheus.Metric) {
	inv := c.inv
	since := inv.now().Add(-inv.window).UnixNano()
	inv.mu.Lock()
	live := map[newKey]int{}
	for _, d := range inv.devices {
		if d.last >= since {
			live[newKey{d.country, d.rule != ""}]++
		}
	}
	news := maps.Clone(inv.newBy)
	n := len(inv.devices)
	inv.mu.Unlock()
	for k, v := range live {
		ch <- prometheus.MustNewConstMetric(devicesDesc, prometheus.GaugeValue, float64(v), k.country, strconv.FormatBool(k.flagged))
	}
	for k, v := range news {
		ch <- prometheus.MustNewConstMetric(devicesNewDesc, prometheus.CounterValue, float64(v), k.country, strconv.FormatBool(k.flagged))
	}
	ch <- prometheus.MustNewConstMetric(inventoryDevicesDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(inventoryEvictedDesc, prometheus.CounterValue, float64(inv.evicted.Load()))
}
