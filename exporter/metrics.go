package exporter

import (
	"cmp"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
)

// Namespace is the first part of every jurismon metric name: each
// component names its metrics with prometheus.BuildFQName(Namespace,
// subsystem, name) in its own metrics.go.
const Namespace = "jurismon"

// ASNMode selects which traffic gets per-ASN series.
type ASNMode string

// The --metrics.asn values.
const (
	ASNNone    ASNMode = "none"
	ASNFlagged ASNMode = "flagged"
	ASNTop     ASNMode = "top"
)

// VendorMode selects which devices' traffic gets per-vendor series.
type VendorMode string

// The --metrics.vendor values.
const (
	VendorFlagged VendorMode = "flagged" // devices a vendors rule flags
	VendorTop     VendorMode = "top"     // every vendor, the top N by bytes, the rest as vendor="other"
)

// Other is the label value of folded ASN and vendor series.
const Other = "other"

// Sources are the parts a Collector reads. Funcs may be nil.
type Sources struct {
	Accountants func() []*flow.Accountant
	Decoders    func() []*DecodeCounts
	Capture     func() []capture.InterfaceStats
	Geo         *geo.Resolver
}

// DecodeCounts counts decode results for one capture worker (flow.Worker's).
type DecodeCounts = flow.DecodeCounts

// Options tune the collector.
type Options struct {
	ASN    ASNMode
	TopASN int // series kept for --metrics.asn=top
	// Vendor and TopVendors: per-vendor device series. With VendorTop the
	// accountants must key their aggregates by every device's vendor
	// (flow.Config.AllVendors).
	Vendor     VendorMode
	TopVendors int
}

// Collector is a prometheus.Collector over the agent's state.
type Collector struct {
	src  Sources
	opts Options

	mu        sync.Mutex // scrapes are serialised: the top sets are state
	topASN    *stickyTop[asnKey, asnKey]
	topVendor *stickyTop[string, deviceKey]

	trafficBytes, trafficPackets, flows             *prometheus.Desc
	flaggedBytes, flaggedPackets, flaggedFlows      *prometheus.Desc
	flaggedLastSeen                                 *prometheus.Desc
	asnBytes, deviceBytes                           *prometheus.Desc
	conflicts, unknown                              *prometheus.Desc
	capturePackets, captureDrops, decodeErrors      *prometheus.Desc
	captureFreezes, captureUp, captureRestarts      *prometheus.Desc
	cacheRequests, cacheEntries, cacheEvictions     *prometheus.Desc
	flowEntries, flowEvictions, flowExpired, folded *prometheus.Desc
	dbInfo, dbBuild                                 *prometheus.Desc
}

// New returns a Collector reading src.
func New(src Sources, opts Options) *Collector {
	if opts.ASN == "" {
		opts.ASN = ASNNone
	}
	if opts.TopASN <= 0 {
		opts.TopASN = 50
	}
	if opts.Vendor == "" {
		opts.Vendor = VendorFlagged
	}
	if opts.TopVendors <= 0 {
		opts.TopVendors = 20
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	flagged := []string{"direction", "jurisdiction", "country", "asn", "as_org", "matched_by"}
	return &Collector{
		src:             src,
		opts:            opts,
		topASN:          newStickyTop[asnKey, asnKey](opts.TopASN),
		topVendor:       newStickyTop[string, deviceKey](opts.TopVendors),
		trafficBytes:    d("traffic_bytes_total", "IP bytes by direction and remote country (transit traffic counts for both endpoints).", "direction", "country"),
		trafficPackets:  d("traffic_packets_total", "IP packets by direction and remote country.", "direction", "country"),
		flows:           d("flows_total", "New flows by the direction of their first packet and remote country.", "direction", "country"),
		flaggedBytes:    d("flagged_bytes_total", "IP bytes to and from flagged jurisdictions.", flagged...),
		flaggedPackets:  d("flagged_packets_total", "IP packets to and from flagged jurisdictions.", flagged...),
		flaggedFlows:    d("flagged_flows_total", "New flows with a flagged endpoint.", flagged...),
		flaggedLastSeen: d("flagged_last_seen_timestamp_seconds", "Time of the last packet to or from a flagged jurisdiction.", "jurisdiction", "country"),
		asnBytes:        d("traffic_asn_bytes_total", "IP bytes by direction and remote AS (see --metrics.asn).", "direction", "asn", "as_org"),
		deviceBytes:     d("device_bytes_total", "IP bytes of local devices by vendor (those a vendors rule flags, or with --metrics.vendor=top the top vendors and the rest as vendor=\"other\"), direction, remote country and jurisdiction.", "vendor", "direction", "country", "jurisdiction"),
		conflicts:       d("location_conflicts_total", "Remote endpoints whose geolocated, registered and AS countries disagree, by pair.", "kind"),
		unknown:         d("lookups_unknown_total", "Remote endpoints whose country or AS was not in the databases."),
		capturePackets:  d("capture_packets_total", "Frames received by the capture.", "interface"),
		captureDrops:    d("capture_drops_total", "Frames lost before accounting, by stage (kernel: the socket ring was full).", "interface", "stage"),
		captureFreezes:  d("capture_ring_freezes_total", "Times the capture ring froze because no block was free (frames are dropped meanwhile).", "interface"),
		captureUp:       d("capture_up", "Whether capture is running on the interface (0 while it is missing, down or being re-opened).", "interface"),
		captureRestarts: d("capture_restarts_total", "Times capture came back on the interface after it went down or away.", "interface"),
		decodeErrors:    d("decode_errors_total", "Frames that could not be decoded, by reason.", "reason"),
		cacheRequests:   d("geo_cache_requests_total", "Geo lookups by cache result.", "result"),
		cacheEntries:    d("geo_cache_entries", "Database networks in the lookup cache."),
		cacheEvictions:  d("geo_cache_evictions_total", "Networks evicted from the full lookup cache."),
		flowEntries:     d("flow_table_entries", "Flows being tracked."),
		flowEvictions:   d("flow_table_evictions_total", "Flows evicted because the flow table was full."),
		flowExpired:     d("flow_table_expirations_total", "Flows ended by the idle timeout."),
		folded:          d("aggregates_folded_total", "Remote endpoints folded into a per-country aggregate because the aggregate cap was reached."),
		dbInfo:          d("geo_database_info", "The geo databases in use.", "database", "type", "source"),
		dbBuild:         d("geo_database_build_timestamp_seconds", "Build time of each geo database.", "database"),
	}
}

// Describe implements prometheus.Collector. It sends every descriptor,
// not only those with series yet: flagged and per-ASN series appear later.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.trafficBytes, c.trafficPackets, c.flows,
		c.flaggedBytes, c.flaggedPackets, c.flaggedFlows, c.flaggedLastSeen,
		c.asnBytes, c.deviceBytes, c.conflicts, c.unknown,
		c.capturePackets, c.captureDrops, c.captureFreezes, c.captureUp, c.captureRestarts, c.decodeErrors,
		c.cacheRequests, c.cacheEntries, c.cacheEvictions,
		c.flowEntries, c.flowEvictions, c.flowExpired, c.folded,
		c.dbInfo, c.dbBuild,
	} {
		ch <- d
	}
}

type dirCountry struct{ dir, country string }

type flaggedKey struct {
	dir, jurisdiction, country, asn, org, matched string
}

type asnKey struct {
	dir string
	asn uint32
	org string
}

type jc struct{ jurisdiction, country string }

type deviceKey struct{ vendor, dir, country, jurisdiction string }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var accts []*flow.Accountant
	if c.src.Accountants != nil {
		accts = c.src.Accountants()
	}
	var (
		bytes    = map[dirCountry]float64{}
		packets  = map[dirCountry]float64{}
		flows    = map[dirCountry]float64{}
		fBytes   = map[flaggedKey]float64{}
		fPackets = map[flaggedKey]float64{}
		fFlows   = map[flaggedKey]float64{}
		lastSeen = map[jc]int64{}
		asns     = map[asnKey]uint64{}
		flagASN  = map[asnKey]uint64{}
		devBytes = map[deviceKey]uint64{}
	)
	var conflicts [flow.NumConflicts]uint64
	var unknown, entries, evicted, expired, folded uint64
	for _, a := range accts {
		st := &a.Stats
		in := a.Internal()
		internal := dirCountry{flow.Internal.String(), "local"}
		bytes[internal] += float64(in.Bytes[flow.To].Load())
		packets[internal] += float64(in.Packets[flow.To].Load())
		flows[internal] += float64(in.Flows[flow.To].Load())
		for k := range conflicts {
			conflicts[k] += st.Conflicts[k].Load()
		}
		unknown += st.UnknownLookups.Load()
		entries += uint64(st.FlowEntries.Load())
		evicted += st.FlowsEvicted.Load()
		expired += st.FlowsExpired.Load()
		folded += a.Folded()
		for _, g := range a.Aggregates() {
			k := &g.Key
			country := countryLabel(k)
			for side := range 2 {
				dir := directionOf(k, side)
				b, p, f := g.Bytes[side].Load(), g.Packets[side].Load(), g.Flows[side].Load()
				if b == 0 && p == 0 && f == 0 {
					continue
				}
				dc := dirCountry{dir, country}
				bytes[dc] += float64(b)
				packets[dc] += float64(p)
				flows[dc] += float64(f)
				ak := asnKey{dir, k.ASN, k.ASOrg}
				if k.Folded || k.Class != geo.ClassPublic {
					ak = asnKey{dir: dir, org: Other}
				}
				asns[ak] += b
				if k.DeviceRule != "" || (c.opts.Vendor == VendorTop && k.Vendor != "") {
					vendor := k.Vendor
					if vendor == "" {
						vendor = Other // folded past the aggregate cap
					}
					devBytes[deviceKey{vendor, dir, country, k.Jurisdiction}] += b
				}
				if k.Jurisdiction != "" {
					flagASN[ak] += b
					asn, org := asnLabels(k)
					fk := flaggedKey{dir, k.Jurisdiction, country, asn, org, k.MatchedBy.String()}
					fBytes[fk] += float64(b)
					fPackets[fk] += float64(p)
					fFlows[fk] += float64(f)
				}
			}
			if k.Jurisdiction != "" {
				if ts := g.LastSeen.Load(); ts > lastSeen[jc{k.Jurisdiction, country}] {
					lastSeen[jc{k.Jurisdiction, country}] = ts
				}
			}
		}
	}
	emit := func(d *prometheus.Desc, m map[dirCountry]float64) {
		for k, v := range m {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, k.dir, k.country)
		}
	}
	emit(c.trafficBytes, bytes)
	emit(c.trafficPackets, packets)
	emit(c.flows, flows)
	emitFlagged := func(d *prometheus.Desc, m map[flaggedKey]float64) {
		for k, v := range m {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, k.dir, k.jurisdiction, k.country, k.asn, k.org, k.matched)
		}
	}
	emitFlagged(c.flaggedBytes, fBytes)
	emitFlagged(c.flaggedPackets, fPackets)
	emitFlagged(c.flaggedFlows, fFlows)
	for k, ts := range lastSeen {
		ch <- prometheus.MustNewConstMetric(c.flaggedLastSeen, prometheus.GaugeValue, float64(ts)/1e9, k.jurisdiction, k.country)
	}
	c.collectASN(ch, asns, flagASN)
	c.collectVendors(ch, devBytes)
	for k, v := range conflicts {
		ch <- prometheus.MustNewConstMetric(c.conflicts, prometheus.CounterValue, float64(v), flow.Conflict(k).String())
	}
	ch <- prometheus.MustNewConstMetric(c.unknown, prometheus.CounterValue, float64(unknown))
	ch <- prometheus.MustNewConstMetric(c.flowEntries, prometheus.GaugeValue, float64(entries))
	ch <- prometheus.MustNewConstMetric(c.flowEvictions, prometheus.CounterValue, float64(evicted))
	ch <- prometheus.MustNewConstMetric(c.flowExpired, prometheus.CounterValue, float64(expired))
	ch <- prometheus.MustNewConstMetric(c.folded, prometheus.CounterValue, float64(folded))
	c.collectHealth(ch)
}

func (c *Collector) collectHealth(ch chan<- prometheus.Metric) {
	if c.src.Capture != nil {
		for _, s := range c.src.Capture() {
			ch <- prometheus.MustNewConstMetric(c.capturePackets, prometheus.CounterValue, float64(s.Packets), s.Interface)
			ch <- prometheus.MustNewConstMetric(c.captureDrops, prometheus.CounterValue, float64(s.KernelDrops), s.Interface, "kernel")
			ch <- prometheus.MustNewConstMetric(c.captureFreezes, prometheus.CounterValue, float64(s.QueueFreezes), s.Interface)
			up := 0.0
			if s.Up {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(c.captureUp, prometheus.GaugeValue, up, s.Interface)
			ch <- prometheus.MustNewConstMetric(c.captureRestarts, prometheus.CounterValue, float64(s.Restarts), s.Interface)
		}
	}
	if c.src.Decoders != nil {
		var sum [capture.NumResults]uint64
		for _, d := range c.src.Decoders() {
			for r := range capture.NumResults {
				sum[r] += d.Load(r)
			}
		}
		for r := range capture.NumResults {
			if r.Malformed() {
				ch <- prometheus.MustNewConstMetric(c.decodeErrors, prometheus.CounterValue, float64(sum[r]), r.String())
			}
		}
	}
	if g := c.src.Geo; g != nil {
		hits, misses, entries, evictions := g.CacheStats()
		ch <- prometheus.MustNewConstMetric(c.cacheRequests, prometheus.CounterValue, float64(hits), "hit")
		ch <- prometheus.MustNewConstMetric(c.cacheRequests, prometheus.CounterValue, float64(misses), "miss")
		ch <- prometheus.MustNewConstMetric(c.cacheEntries, prometheus.GaugeValue, float64(entries))
		ch <- prometheus.MustNewConstMetric(c.cacheEvictions, prometheus.CounterValue, float64(evictions))
		for _, db := range g.Databases() {
			ch <- prometheus.MustNewConstMetric(c.dbInfo, prometheus.GaugeValue, 1, db.Name, db.Type, db.Source)
			ch <- prometheus.MustNewConstMetric(c.dbBuild, prometheus.GaugeValue, float64(db.BuildTime.Unix()), db.Name)
		}
	}
}

func directionOf(k *flow.AggregateKey, side int) string {
	switch {
	case k.Transit:
		return flow.Transit.String()
	case side == flow.To:
		return flow.Egress.String()
	default:
		return flow.Ingress.String()
	}
}

// countryLabel is the ISO code, "unknown", or "special" for special-purpose
// addresses, which have no country.
func countryLabel(k *flow.AggregateKey) string {
	if k.Class != geo.ClassPublic {
		return "special"
	}
	if k.Country == "" {
		return geo.Unknown
	}
	return k.Country
}

func asnLabels(k *flow.AggregateKey) (asn, org string) {
	if k.Folded || k.Class != geo.ClassPublic {
		return Other, Other
	}
	return strconv.FormatUint(uint64(k.ASN), 10), k.ASOrg
}

func (c *Collector) collectASN(ch chan<- prometheus.Metric, asns, flagged map[asnKey]uint64) {
	type kv struct {
		k asnKey
		v uint64
	}
	var out []kv
	other := map[string]uint64{}
	switch c.opts.ASN {
	case ASNNone:
		return
	case ASNFlagged:
		// Only the flagged traffic of each AS: an AS key such as the
		// unknown AS or "other" also stands for unflagged endpoints.
		for k, v := range flagged {
			out = append(out, kv{k, v})
		}
	case ASNTop:
		// Rank ASNs by bytes in both directions together; neither "other"
		// nor the unknown AS is an AS to rank.
		kept, folded := c.topASN.update(asns,
			func(k asnKey) (asnKey, bool) { return asnKey{asn: k.asn, org: k.org}, k.asn != 0 },
			func(k asnKey) asnKey { return asnKey{dir: k.dir} },
			func(a, b asnKey) int { return cmp.Compare(a.asn, b.asn) })
		for k, v := range kept {
			out = append(out, kv{k, v})
		}
		for k, v := range folded {
			other[k.dir] += v
		}
		for d, v := range other {
			ch <- prometheus.MustNewConstMetric(c.asnBytes, prometheus.CounterValue, float64(v), d, Other, Other)
		}
	}
	for _, e := range out {
		asn := strconv.FormatUint(uint64(e.k.asn), 10)
		if e.k.asn == 0 && e.k.org == Other {
			asn = Other
		}
		ch <- prometheus.MustNewConstMetric(c.asnBytes, prometheus.CounterValue, float64(e.v), e.k.dir, asn, e.k.org)
	}
}

// collectVendors emits the per-vendor device bytes: every flagged vendor's
// series (their number is bounded by the vendors rules), or with
// --metrics.vendor=top the top N vendors by bytes and the rest as "other".
func (c *Collector) collectVendors(ch chan<- prometheus.Metric, devBytes map[deviceKey]uint64) {
	out := devBytes
	if c.opts.Vendor == VendorTop {
		kept, other := c.topVendor.update(devBytes,
			func(k deviceKey) (string, bool) { return k.vendor, k.vendor != Other },
			func(k deviceKey) deviceKey { return deviceKey{Other, k.dir, k.country, k.jurisdiction} },
			strings.Compare)
		out = kept
		for k, v := range other {
			out[k] += v
		}
	}
	for k, v := range out {
		ch <- prometheus.MustNewConstMetric(c.deviceBytes, prometheus.CounterValue, float64(v), k.vendor, k.dir, k.country, k.jurisdiction)
	}
}
