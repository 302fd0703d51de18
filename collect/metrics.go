package collect

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/exporter"
)

// DefaultMaxInterfaces bounds the interface label values per exporter
// (and worker): past it, interfaces count as interface="other".
const DefaultMaxInterfaces = 64

// workerStats are one worker's counters. The worker is their only writer
// (plain stores of atomics, as flow.DecodeCounts); the scrape reads them
// through lists appended under mu.
type workerStats struct {
	maxIfaces int

	byLabel map[string]*exporterCounters // worker only
	mu      sync.Mutex
	list    []*exporterCounters

	received, dropped atomic.Uint64 // datagrams read from this worker's sockets, and dropped on a full queue
}

type exporterCounters struct {
	label                              string
	datagrams, records, bytes, packets atomic.Uint64
	reasons                            [NumReasons]atomic.Uint64
	rate                               atomic.Uint32 // the sampling rate last used
	last                               atomic.Int64  // Unix ns of the last datagram

	ifaces map[uint32]*ifaceCounters // worker only
	mu     sync.Mutex
	ifList []*ifaceCounters
}

type ifaceCounters struct {
	label          string
	bytes, packets [2]atomic.Uint64 // [0]: records in on the interface, [1]: out
}

func newWorkerStats(maxIfaces int) *workerStats {
	if maxIfaces <= 0 {
		maxIfaces = DefaultMaxInterfaces
	}
	return &workerStats{maxIfaces: maxIfaces, byLabel: make(map[string]*exporterCounters)}
}

func (w *workerStats) exporter(label string) *exporterCounters {
	if c, ok := w.byLabel[label]; ok {
		return c
	}
	c := &exporterCounters{label: label, ifaces: make(map[uint32]*ifaceCounters)}
	w.byLabel[label] = c
	w.mu.Lock()
	w.list = append(w.list, c)
	w.mu.Unlock()
	return c
}

func (c *exporterCounters) count(r Reason) { c.reasons[r].Store(c.reasons[r].Load() + 1) }

// iface returns the counters of interface index of an exporter: named by
// the configuration, else by its index, past the cap "other".
func (w *workerStats) iface(c *exporterCounters, cfg *ExporterConfig, index uint32) *ifaceCounters {
	if i, ok := c.ifaces[index]; ok {
		return i
	}
	label := ""
	if cfg != nil {
		label = cfg.Interfaces[index].Name
	}
	if label == "" {
		label = strconv.FormatUint(uint64(index), 10)
	}
	if len(c.ifaces) >= w.maxIfaces {
		if o, ok := c.ifaces[0]; ok { // 0 is never a record's index here: it holds "other"
			return o
		}
		label, index = otherLabel, 0
	}
	i := &ifaceCounters{label: label}
	c.ifaces[index] = i
	c.mu.Lock()
	c.ifList = append(c.ifList, i)
	c.mu.Unlock()
	return i
}

// metrics is the prometheus.Collector of a Collector.
type metrics struct {
	c *Collector

	datagrams, records, bytes, packets, errors *prometheus.Desc
	rate, last, ifBytes, ifPackets             *prometheus.Desc
	received, dropped, exporters, templates    *prometheus.Desc
	stateSaves                                 *prometheus.Desc
}

func newMetrics(c *Collector) *metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "collector", name), help, labels, nil)
	}
	return &metrics{
		c:          c,
		datagrams:  d("datagrams_total", "Datagrams received from each exporter (exporter=\"other\": past the exporter cap).", "exporter"),
		records:    d("records_total", "Flow records accounted, per exporter.", "exporter"),
		bytes:      d("bytes_total", "IP bytes of the accounted records, scaled by the sampling rate, per exporter.", "exporter"),
		packets:    d("packets_total", "Packets of the accounted records, scaled by the sampling rate, per exporter.", "exporter"),
		errors:     d("errors_total", "Datagrams, sets or records not (fully) accounted, or accounted with the default sampling rate, by reason.", "exporter", "reason"),
		rate:       d("sampling_rate", "The sampling rate last used for an exporter's records (1 in N packets).", "exporter"),
		last:       d("last_datagram_timestamp_seconds", "When the last datagram of an exporter arrived.", "exporter"),
		ifBytes:    d("interface_bytes_total", "IP bytes (scaled) of the records that entered (direction=\"in\") or left (\"out\") an exporter's interface, by SNMP index or configured name.", "exporter", "interface", "direction"),
		ifPackets:  d("interface_packets_total", "Packets (scaled) of the records that entered or left an exporter's interface.", "exporter", "interface", "direction"),
		received:   d("received_datagrams_total", "Datagrams read from the sockets of each worker.", "worker"),
		dropped:    d("dropped_datagrams_total", "Datagrams dropped because a worker's queue was full.", "worker"),
		exporters:  d("exporters", "Exporters whose templates are kept."),
		templates:  d("templates", "NetFlow v9 and IPFIX templates kept, all exporters."),
		stateSaves: d("state_save_errors_total", "Failed writes of the template state file."),
	}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(m, ch) }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	type ex struct {
		datagrams, records, bytes, packets uint64
		reasons                            [NumReasons]uint64
		rate                               uint32
		last                               int64
	}
	type ifk struct{ exporter, iface string }
	exs := map[string]*ex{}
	ifs := map[ifk]*[4]uint64{}
	for i, w := range m.c.stats {
		wl := strconv.Itoa(i)
		ch <- prometheus.MustNewConstMetric(m.received, prometheus.CounterValue, float64(w.received.Load()), wl)
		ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(w.dropped.Load()), wl)
		w.mu.Lock()
		list := w.list
		w.mu.Unlock()
		for _, c := range list {
			e := exs[c.label]
			if e == nil {
				e = &ex{}
				exs[c.label] = e
			}
			e.datagrams += c.datagrams.Load()
			e.records += c.records.Load()
			e.bytes += c.bytes.Load()
			e.packets += c.packets.Load()
			for r := range NumReasons {
				e.reasons[r] += c.reasons[r].Load()
			}
			if l := c.last.Load(); l > e.last {
				e.last, e.rate = l, c.rate.Load()
			}
			c.mu.Lock()
			il := c.ifList
			c.mu.Unlock()
			for _, ic := range il {
				k := ifk{c.label, ic.label}
				v := ifs[k]
				if v == nil {
					v = &[4]uint64{}
					ifs[k] = v
				}
				v[0] += ic.bytes[0].Load()
				v[1] += ic.bytes[1].Load()
				v[2] += ic.packets[0].Load()
				v[3] += ic.packets[1].Load()
			}
		}
	}
	for l, e := range exs {
		ch <- prometheus.MustNewConstMetric(m.datagrams, prometheus.CounterValue, float64(e.datagrams), l)
		ch <- prometheus.MustNewConstMetric(m.records, prometheus.CounterValue, float64(e.records), l)
		ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.CounterValue, float64(e.bytes), l)
		ch <- prometheus.MustNewConstMetric(m.packets, prometheus.CounterValue, float64(e.packets), l)
		for r := range NumReasons {
			ch <- prometheus.MustNewConstMetric(m.errors, prometheus.CounterValue, float64(e.reasons[r]), l, r.String())
		}
		if e.rate != 0 {
			ch <- prometheus.MustNewConstMetric(m.rate, prometheus.GaugeValue, float64(e.rate), l)
		}
		ch <- prometheus.MustNewConstMetric(m.last, prometheus.GaugeValue, float64(e.last)/1e9, l)
	}
	for k, v := range ifs {
		ch <- prometheus.MustNewConstMetric(m.ifBytes, prometheus.CounterValue, float64(v[0]), k.exporter, k.iface, "in")
		ch <- prometheus.MustNewConstMetric(m.ifBytes, prometheus.CounterValue, float64(v[1]), k.exporter, k.iface, "out")
		ch <- prometheus.MustNewConstMetric(m.ifPackets, prometheus.CounterValue, float64(v[2]), k.exporter, k.iface, "in")
		ch <- prometheus.MustNewConstMetric(m.ifPackets, prometheus.CounterValue, float64(v[3]), k.exporter, k.iface, "out")
	}
	nex, nt := m.c.tmpl.count()
	ch <- prometheus.MustNewConstMetric(m.exporters, prometheus.GaugeValue, float64(nex))
	ch <- prometheus.MustNewConstMetric(m.templates, prometheus.GaugeValue, float64(nt))
	ch <- prometheus.MustNewConstMetric(m.stateSaves, prometheus.CounterValue, float64(m.c.saveErrors.Load()))
}
