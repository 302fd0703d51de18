package tunnel

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// Inventory records the tunnels the flows carry: for each active tunnel
// (protocol and both ends), where its endpoint is, its verdict and
// provider, its bytes and packets each way and when it was first and last
// seen; and, per protocol, endpoint country and jurisdiction, the tunnels
// active and started and their bytes (the metrics). It is a
// flow.TunnelObserver: a tunnel is active from the report that recognises
// its first flow to the end of its last one (a tunnel the decoder removed
// carries many inner flows). It is bounded: at most Max tunnels are listed
// (the others are counted, untracked), at most MaxSeries label sets, and
// MaxEndpoints endpoints remembered as seen. Safe for concurrent use.
type Inventory struct {
	max, maxSeries, maxSeen int

	mu      sync.Mutex
	tunnels map[tunnelKey]*Record
	series  map[Labels]*seriesCounts
	seen    map[netip.Addr]Seen

	untracked    atomic.Uint64 // tunnels not listed because the list was full
	foldedSeries atomic.Uint64 // reports whose labels were folded into country "other"
	forgotten    atomic.Uint64 // endpoints dropped from the seen set when it was full
}

// Record is one active tunnel, as /api/v1/tunnels lists it. "To" is what
// was sent to the remote endpoint, "From" what came from it.
type Record struct {
	Protocol          string    `json:"protocol"`
	Local             string    `json:"local"`
	LocalPort         uint16    `json:"local_port"`
	Remote            string    `json:"remote"`
	RemotePort        uint16    `json:"remote_port"`
	Country           string    `json:"country"`
	RegisteredCountry string    `json:"registered_country"`
	ASN               uint32    `json:"asn"`
	ASOrg             string    `json:"as_org"`
	Provider          string    `json:"provider,omitempty"`
	Jurisdiction      string    `json:"jurisdiction"` // "" when not flagged
	MatchedBy         string    `json:"matched_by"`
	Allowed           string    `json:"allowed,omitempty"` // the tunnels.allowed reason that covers the endpoint
	BytesTo           uint64    `json:"bytes_to"`
	BytesFrom         uint64    `json:"bytes_from"`
	PacketsTo         uint64    `json:"packets_to"`
	PacketsFrom       uint64    `json:"packets_from"`
	Flows             int       `json:"flows"` // active flows through the tunnel
	FirstSeen         time.Time `json:"first_seen"`
	LastSeen          time.Time `json:"last_seen"`

	first, last int64 // Unix nanoseconds: FirstSeen and LastSeen are set from them on copy
}

// Seen is what the inventory remembers of an address once seen as a
// tunnel endpoint, after its tunnels have ended too.
type Seen struct {
	Protocol  string
	FirstSeen int64 // Unix nanoseconds
	LastSeen  int64
}

// Labels are the metric labels of a tunnel: bounded by the protocol names,
// the country codes and the policy's jurisdictions.
type Labels struct {
	Protocol, Country, Jurisdiction string
}

type seriesCounts struct {
	active  int
	started uint64
	bytes   [3]uint64 // by direction: egress, ingress, transit
}

// The directions of the bytes metric.
const (
	dirEgress = iota
	dirIngress
	dirTransit
)

var dirNames = [3]string{"egress", "ingress", "transit"}

type tunnelKey struct {
	local, endpoint netip.AddrPort
	proto           uint8 // the IP protocol: a UDP and a TCP tunnel between the same ends differ
}

// InventoryOptions size an Inventory.
type InventoryOptions struct {
	MaxTunnels   int // listed tunnels; default 4096
	MaxSeries    int // label sets of the metrics; default 4096
	MaxEndpoints int // endpoints remembered as seen; default 16384
}

// Other is the country label of the series folded past MaxSeries.
const Other = "other"

// NewInventory returns an empty inventory.
func NewInventory(o InventoryOptions) *Inventory {
	if o.MaxTunnels <= 0 {
		o.MaxTunnels = 4096
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 4096
	}
	if o.MaxEndpoints <= 0 {
		o.MaxEndpoints = 16384
	}
	return &Inventory{
		max: o.MaxTunnels, maxSeries: o.MaxSeries, maxSeen: o.MaxEndpoints,
		tunnels: map[tunnelKey]*Record{},
		series:  map[Labels]*seriesCounts{},
		seen:    map[netip.Addr]Seen{},
	}
}

var _ flow.TunnelObserver = (*Inventory)(nil)

// ends returns a tunnel's two ends and its endpoint's location: the
// tunnel's own (set by the Classifier), else the flow's.
func ends(f *enrich.Facts) (local, endpoint netip.AddrPort, loc *geo.Location) {
	t := &f.Tunnel
	if t.Endpoint.IsValid() {
		return t.Local, t.Endpoint, t.Location
	}
	return f.Local, f.Remote, f.Location
}

// ObserveTunnel implements flow.TunnelObserver.
func (inv *Inventory) ObserveTunnel(ev *flow.TunnelEvent) {
	f := ev.Facts
	local, endpoint, loc := ends(f)
	lb := Labels{Protocol: f.Tunnel.Protocol, Country: countryLabel(loc), Jurisdiction: ev.Verdict.Jurisdiction}
	k := tunnelKey{local, endpoint, f.Proto}

	inv.mu.Lock()
	defer inv.mu.Unlock()
	r := inv.tunnels[k]
	if ev.Started {
		switch {
		case r != nil:
			r.Flows++
		case len(inv.tunnels) < inv.max:
			r = newRecord(f, local, endpoint, loc, ev)
			inv.tunnels[k] = r
			inv.seriesOf(lb).active++
			inv.seriesOf(lb).started++
		default:
			inv.untracked.Add(1)
			inv.seriesOf(lb).started++
		}
	}
	s := inv.seriesOf(lb)
	switch {
	case ev.Transit:
		s.bytes[dirTransit] += ev.BytesTo + ev.BytesFrom
	default:
		s.bytes[dirEgress] += ev.BytesTo
		s.bytes[dirIngress] += ev.BytesFrom
	}
	inv.noteSeen(endpoint.Addr(), f.Tunnel.Protocol, ev)
	if r == nil {
		return
	}
	if old := r.labels(); old != lb {
		// Renamed (WireGuard found to be Tailscale) or judged again:
		// the active count follows the tunnel.
		inv.seriesOf(old).active--
		inv.seriesOf(lb).active++
		r.setFacts(f, loc, ev.Verdict)
	}
	r.BytesTo += ev.BytesTo
	r.BytesFrom += ev.BytesFrom
	r.PacketsTo += ev.PacketsTo
	r.PacketsFrom += ev.PacketsFrom
	r.first = min(r.first, ev.First)
	r.last = max(r.last, ev.Last)
	if ev.Ended {
		if r.Flows--; r.Flows <= 0 {
			inv.seriesOf(lb).active--
			delete(inv.tunnels, k)
		}
	}
}

func newRecord(f *enrich.Facts, local, endpoint netip.AddrPort, loc *geo.Location, ev *flow.TunnelEvent) *Record {
	r := &Record{
		Local: addrString(local.Addr()), LocalPort: local.Port(),
		Remote: addrString(endpoint.Addr()), RemotePort: endpoint.Port(),
		Flows: 1, first: ev.First, last: ev.Last,
	}
	r.setFacts(f, loc, ev.Verdict)
	return r
}

func (r *Record) setFacts(f *enrich.Facts, loc *geo.Location, v policy.Verdict) {
	r.Protocol, r.Provider = f.Tunnel.Protocol, f.Tunnel.Provider
	r.Country, r.RegisteredCountry, r.ASN, r.ASOrg = "", "", 0, ""
	if loc != nil {
		r.Country, r.RegisteredCountry, r.ASN, r.ASOrg = countryLabel(loc), loc.RegisteredCountry, loc.ASN, loc.ASOrg
	}
	r.Jurisdiction, r.MatchedBy, r.Allowed = v.Jurisdiction, v.MatchedBy.String(), v.Tunnel.Allowed
}

func (r *Record) labels() Labels {
	return Labels{Protocol: r.Protocol, Country: r.Country, Jurisdiction: r.Jurisdiction}
}

// seriesOf returns the counts of a label set, folding the country into
// Other once MaxSeries sets exist.
func (inv *Inventory) seriesOf(lb Labels) *seriesCounts {
	if s, ok := inv.series[lb]; ok {
		return s
	}
	if len(inv.series) >= inv.maxSeries {
		inv.foldedSeries.Add(1)
		lb.Country = Other
		if s, ok := inv.series[lb]; ok {
			return s
		}
	}
	s := &seriesCounts{}
	inv.series[lb] = s
	return s
}

// noteSeen remembers an endpoint. A full set forgets an arbitrary other
// endpoint (counted): it is a memory for lookups, not an account.
func (inv *Inventory) noteSeen(a netip.Addr, protocol string, ev *flow.TunnelEvent) {
	s, ok := inv.seen[a]
	if !ok {
		if len(inv.seen) >= inv.maxSeen {
			for old := range inv.seen {
				delete(inv.seen, old)
				inv.forgotten.Add(1)
				break
			}
		}
		s.FirstSeen = ev.First
	}
	s.Protocol = protocol
	s.FirstSeen = min(s.FirstSeen, ev.First)
	s.LastSeen = max(s.LastSeen, ev.Last)
	inv.seen[a] = s
}

// Tunnels returns copies of the active tunnels, most bytes first.
func (inv *Inventory) Tunnels() []Record {
	inv.mu.Lock()
	out := make([]Record, 0, len(inv.tunnels))
	for _, r := range inv.tunnels {
		c := *r
		c.FirstSeen, c.LastSeen = time.Unix(0, r.first).UTC(), time.Unix(0, r.last).UTC()
		out = append(out, c)
	}
	inv.mu.Unlock()
	slices.SortFunc(out, func(a, b Record) int {
		if c := cmp.Compare(b.BytesTo+b.BytesFrom, a.BytesTo+a.BytesFrom); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Remote, b.Remote), cmp.Compare(a.RemotePort, b.RemotePort),
			cmp.Compare(a.Local, b.Local), cmp.Compare(a.LocalPort, b.LocalPort), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}

// Endpoint returns what is remembered of a as a tunnel endpoint.
func (inv *Inventory) Endpoint(a netip.Addr) (Seen, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	s, ok := inv.seen[a.Unmap()]
	if !ok {
		s, ok = inv.seen[a]
	}
	return s, ok
}

// Started returns the tunnels started so far by protocol (listed or not).
func (inv *Inventory) Started() map[string]uint64 {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := map[string]uint64{}
	for lb, s := range inv.series {
		if s.started > 0 {
			out[lb.Protocol] += s.started
		}
	}
	return out
}

// Untracked returns how many tunnels were not listed because the list was full.
func (inv *Inventory) Untracked() uint64 { return inv.untracked.Load() }

// countryLabel is the endpoint's country code, geo.Unknown, or "special"
// for a special-purpose address, as the traffic metrics label them.
func countryLabel(loc *geo.Location) string {
	switch {
	case loc == nil:
		return geo.Unknown
	case loc.Class != geo.ClassPublic:
		return "special"
	case loc.Country == "":
		return geo.Unknown
	}
	return loc.Country
}

// addrString is "" rather than netip's "invalid IP" for a missing address.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
