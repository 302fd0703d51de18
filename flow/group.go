package flow

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// Grouping chooses which properties of a remote endpoint make up the key of
// the aggregate its traffic is added to.
type Grouping uint8

const (
	// ByLocation keys by every location field and the verdict.
	ByLocation Grouping = iota
	// ByCountry keys by geolocated country and verdict.
	ByCountry
	// ByASN keys by autonomous system and verdict.
	ByASN
	// ByRemote keys by remote address (with its location and verdict).
	ByRemote
	// ByLocalRemote keys by local and remote address.
	ByLocalRemote
	// ByMetrics keys by what the exporter's metrics need: transit or not,
	// location and verdict, and the vendor of a flagged local device.
	// Folding drops the ASN first.
	ByMetrics
	// ByDevice keys by the local device (MAC, vendor, vendor country) and
	// the verdict.
	ByDevice
	// ByDomain keys by the remote's registrable domain (the public suffix
	// and one label more of the name its DNS answer gave) and the verdict.
	ByDomain
	// ByTunnel keys a flow that carries a tunnel by the tunnel (protocol,
	// both ends with their ports, the endpoint's location and the verdict),
	// and any other by location and verdict (see tunnelKey).
	ByTunnel
)

var groupingNames = map[string]Grouping{
	"location":     ByLocation,
	"country":      ByCountry,
	"asn":          ByASN,
	"remote":       ByRemote,
	"local-remote": ByLocalRemote,
	"device":       ByDevice,
	"domain":       ByDomain,
	"tunnel":       ByTunnel,
}

// ParseGrouping parses a --by value.
func ParseGrouping(s string) (Grouping, bool) {
	g, ok := groupingNames[s]
	return g, ok
}

func (g Grouping) String() string {
	for name, v := range groupingNames {
		if v == g {
			return name
		}
	}
	if g == ByMetrics {
		return "metrics"
	}
	return "invalid"
}

// Has reports which fields are part of a key under this grouping, so that
// reports can show the others as aggregated.
func (g Grouping) Has(f KeyField) bool {
	switch g {
	case ByCountry:
		return f == FieldCountry
	case ByASN:
		return f == FieldASN
	case ByRemote:
		return f != FieldLocal && f != FieldDevice
	case ByDevice:
		return f == FieldDevice
	case ByDomain:
		return f == FieldDomain
	case ByLocalRemote:
		return f != FieldDevice
	}
	// The name is kept by the remote groupings (an address's own) and
	// ByDomain only: under the others it would multiply the rows.
	return f != FieldDevice && f != FieldDomain
}

// KeyField names a part of a AggregateKey.
type KeyField uint8

// The optional parts of a AggregateKey.
const (
	FieldCountry KeyField = iota
	FieldRegistered
	FieldASN
	FieldRemote
	FieldLocal
	FieldDevice // MAC, vendor and vendor country of the local device
	FieldDomain // the remote's name: registrable under ByDomain, the whole name and CNAME chain under ByRemote and ByLocalRemote
)

// AggregateKey is the key of one aggregate. Fields outside the grouping are zero.
type AggregateKey struct {
	Internal          bool // the accountant's local-to-local aggregate
	Transit           bool // only under ByMetrics
	Folded            bool // an overflow aggregate standing for many keys
	Class             geo.Class
	Country           string
	RegisteredCountry string
	ASN               uint32
	ASOrg             string
	Jurisdiction      string
	MatchedBy         policy.Field
	// Excepted is the reason of the policy exception that kept the traffic
	// from being flagged, so that a report tells it apart from traffic that
	// matched nothing. Embedded is how the remote address carried the IPv4
	// address it was located by (NAT64, 6to4, Teredo). Neither is part of a
	// ByMetrics key: the exporter's labels do not have them.
	Excepted string
	Embedded geo.Embedding
	// Tunnel is the tunnel protocol under ByTunnel (Remote and Local are
	// then the tunnel's ends, with their ports), else "".
	Tunnel                string
	LocalPort, RemotePort uint16
	Remote                netip.Addr
	Local                 netip.Addr
	// DeviceRule is the vendors rule that flagged the local device, in
	// every grouping (it is part of the verdict).
	DeviceRule string
	// Vendor is the local device's maker under ByDevice, and under
	// ByMetrics when the device is flagged.
	Vendor string
	// MAC, VendorCountry and DevicePrivate (a locally administered MAC)
	// describe the local device under ByDevice; HasMAC is false for
	// traffic whose local device is not known.
	MAC           [6]byte
	HasMAC        bool
	DevicePrivate bool
	VendorCountry string
	// Domain is the remote's registrable domain under ByDomain, its name
	// under ByRemote and ByLocalRemote; CNAMEChain (those two only) the
	// CNAME targets after the name, joined by NUL bytes (never in a kept
	// name) so that the key stays comparable. "" when no answer named it.
	Domain     string
	CNAMEChain string
}

// Counter indexes of a Aggregate's byte and packet pairs: traffic sent to the
// remote endpoint, and received from it.
const (
	To   = 0
	From = 1
)

// Aggregate accumulates the traffic of every remote endpoint whose key is Key.
// Only the accountant that owns it writes it; readers load its counters
// atomically at any time.
type Aggregate struct {
	Key      AggregateKey
	Bytes    [2]atomic.Uint64 // To, From
	Packets  [2]atomic.Uint64
	Flows    [2]atomic.Uint64 // new flows whose first packet went To or came From the remote endpoint
	Hosts    atomic.Uint64    // distinct remote addresses (see Summary.HostsUntracked)
	LastSeen atomic.Int64     // Unix nanoseconds of the last packet, kept for flagged groups only
	// id is a hash of Key, the same in every accountant of the process,
	// so that the host sets of accountants that split one input (Merge)
	// hash a remote host of one aggregate alike.
	id    uint64
	index int32 // in its accountant's list
}

// groupSeed keys the group ids: hostile traffic cannot aim at collisions.
var groupSeed = maphash.MakeSeed()

func newGroup(k AggregateKey) *Aggregate {
	return &Aggregate{Key: k, id: maphash.Comparable(groupSeed, k)}
}

// add is called by the group's single writer when a flow publishes its
// counts. Only flagged groups keep a last-seen time.
func (g *Aggregate) add(dir int, bytes, packets uint64, ts int64) {
	g.Bytes[dir].Add(bytes)
	g.Packets[dir].Add(packets)
	if g.Key.Jurisdiction != "" && ts > g.LastSeen.Load() {
		g.LastSeen.Store(ts)
	}
}

// groups is the bounded set of aggregates of one accountant.
type groups struct {
	mu     sync.Mutex // guards byKey and list against concurrent readers
	byKey  map[AggregateKey]*Aggregate
	list   []*Aggregate
	max    int
	folded atomic.Uint64 // endpoints whose key was folded because the set was full
}

func newGroups(max int) *groups {
	return &groups{byKey: make(map[AggregateKey]*Aggregate), max: max}
}

// get returns the group of k, creating it while there is room; past the
// cap, k is folded into a coarser key (the remote and local addresses and
// the AS and the device dropped) so that the set stays bounded whatever the
// traffic. The coarse keys form a closed set (countries × verdicts, the
// vendors rule included).
func (s *groups) get(k AggregateKey) *Aggregate {
	if g, ok := s.byKey[k]; ok {
		return g
	}
	if len(s.list) >= s.max {
		s.folded.Add(1)
		tunnel := k.Tunnel // a folded tunnel is still a tunnel, of its protocol

		k = AggregateKey{Transit: k.Transit, Folded: true, Class: k.Class, Country: k.Country,
			Jurisdiction: k.Jurisdiction, MatchedBy: k.MatchedBy, Excepted: k.Excepted, DeviceRule: k.DeviceRule}

		k.Tunnel = tunnel
		if g, ok := s.byKey[k]; ok {
			return g
		}
	}
	g := newGroup(k)
	g.index = int32(len(s.list))
	s.mu.Lock()
	s.byKey[k] = g
	s.list = append(s.list, g)
	s.mu.Unlock()
	return g
}

// snapshot returns the current groups; their counters keep moving.
func (s *groups) snapshot() []*Aggregate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Aggregate(nil), s.list...)
}
