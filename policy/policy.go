package policy

import (
	"net/netip"
	"regexp"
	"slices"
	"sync"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
)

// Field says which part of a location made a jurisdiction match.
type Field uint8

// The fields of a location a jurisdiction matches on, in the order they are
// checked.
const (
	MatchedNone Field = iota
	MatchedCountry
	MatchedRegisteredCountry
	MatchedASN
	MatchedASOrg
)

// String returns the name of the policy-file list that matched ("country",
// "registered_country", "asn", "as_org"), or "" for MatchedNone so that it
// can be used as a label value as it is.
func (f Field) String() string {
	if f == MatchedUnlisted {
		return "flag_unlisted"
	}
	switch f {
	case MatchedCountry:
		return "country"
	case MatchedRegisteredCountry:
		return "registered_country"
	case MatchedASN:
		return "asn"
	case MatchedASOrg:
		return "as_org"
	case MatchedVendor:
		return "vendor"
	case MatchedVendorCountry:
		return "vendor_country"
	case MatchedDomain:
		return "domain"
	}
	return ""
}

// Verdict is the policy's decision about one remote address.
type Verdict struct {
	// Jurisdiction is the name of the first jurisdiction, in file order,
	// that matched, or "" when the address is not flagged.
	Jurisdiction string
	// MatchedBy is the field that made Jurisdiction match, or MatchedNone.
	MatchedBy Field
	// Excepted is the reason of the exception that suppressed a match (the
	// address is then not flagged by the jurisdictions, and Jurisdiction is
	// "" unless the tunnel rules flag it), else "".
	Excepted string

	// Device is the name of the first vendors rule, in file order, that
	// flagged the flow's local device (by its maker), or "".
	Device string
	// DeviceMatchedBy is MatchedVendor or MatchedVendorCountry when Device
	// is set.
	DeviceMatchedBy Field
	// DeviceExcepted is the reason of the device exception that suppressed
	// a vendors rule, else "".
	DeviceExcepted string
	// Tunnel is the tunnels section's verdict on a flow that carries a
	// tunnel (EvaluateTunnel). When it flags the tunnel and no top-level
	// jurisdiction matched, Jurisdiction and MatchedBy are its tunnel
	// jurisdiction and field, or UnlistedTunnel and MatchedUnlisted.
	Tunnel TunnelVerdict
}

// Flagged reports whether the remote address belongs to a jurisdiction.
func (v Verdict) Flagged() bool { return v.Jurisdiction != "" }

// DeviceFlagged reports whether the local device's maker is flagged.
func (v Verdict) DeviceFlagged() bool { return v.Device != "" }

// Any reports whether either side of the flow is flagged: the remote's
// jurisdiction or the local device's maker. Flows for which it holds are
// reported as flagged flows.
func (v Verdict) Any() bool { return v.Jurisdiction != "" || v.Device != "" }

// Policy is a parsed policy file.
type Policy struct {
	jurisdictions []jurisdiction
	exceptCIDR    []exception
	exceptASN     map[uint32]string
	local         []netip.Prefix
	vendors       []vendorRule
	watched       []WatchedDomain // the domains section, in file order
	watchedSet    domainSet       // index into watched
	sum           [32]byte
	orgs          *orgCache // nil when no jurisdiction has as_orgs, or more than 64 do
	tunnels       tunnelRules
}

type jurisdiction struct {
	name        string
	description string
	countries   countrySet
	registered  countrySet
	asns        []uint32       // sorted, for a binary search
	orgs        *regexp.Regexp // all as_orgs of the jurisdiction as one alternation, or nil
	orgBit      uint64         // this jurisdiction's bit in orgCache results
	domains     *domainSet     // suffixes of the remote's name, or nil
}

// orgCache remembers, per AS organisation, which jurisdictions' as_orgs
// match it: a bit per jurisdiction. Matching the expressions costs about a
// microsecond per organisation and jurisdiction (BenchmarkEvaluate), while
// a network has a few thousand distinct organisations at most, so a small
// map pays for itself. It is bounded by clearing it when full, which keeps
// its buckets: no allocation once it has grown.
type orgCache struct {
	mu sync.RWMutex
	m  map[string]uint64
}

const orgCacheSize = 4096

func newOrgCache(p *Policy) *orgCache {
	n := 0
	for i := range p.jurisdictions {
		if j := &p.jurisdictions[i]; j.orgs != nil {
			if n == 64 {
				return nil // match directly: no bits left
			}
			j.orgBit = 1 << n
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return &orgCache{m: make(map[string]uint64, orgCacheSize)}
}

// orgMatch reports whether the as_orgs of j match org.
func (p *Policy) orgMatch(j *jurisdiction, org string) bool {
	c := p.orgs
	if c == nil {
		return j.orgs.MatchString(org)
	}
	c.mu.RLock()
	bits, ok := c.m[org]
	c.mu.RUnlock()
	if !ok {
		for i := range p.jurisdictions {
			if k := &p.jurisdictions[i]; k.orgs != nil && k.orgs.MatchString(org) {
				bits |= k.orgBit
			}
		}
		c.mu.Lock()
		if len(c.m) >= orgCacheSize {
			clear(c.m)
		}
		c.m[org] = bits
		c.mu.Unlock()
	}
	return bits&j.orgBit != 0
}

type exception struct {
	prefix netip.Prefix
	reason string
}

// Empty returns a policy that flags nothing and has no local networks, as
// "jurisdictions: []" does: the policy of a command run without --config.
func Empty() *Policy {
	p, err := Parse([]byte("jurisdictions: []\n"))
	if err != nil {
		panic("policy: the empty policy does not parse: " + err.Error())
	}
	return p
}

// Evaluate returns the verdict for a flow's facts: today its remote
// address (f.Remote) and that address's location (f.Location); rules on the
// other facts (tunnel, domain, device, process) are added here, without
// touching the accountant. The first jurisdiction in file order that
// matches wins; within one, fields are checked in the order country,
// registered country, ASN, AS organisation. A match is suppressed when the
// address (or the IPv4 address it embeds, for NAT64, 6to4 and Teredo) is in
// an exception's CIDR, its ASN is an exception's, or it is in
// local_networks (which are never remote). Special-purpose addresses
// (Location.Class other than geo.ClassPublic) and a nil Location are never
// flagged. A flow that carries a tunnel is judged by the tunnels section
// too (see Verdict.Tunnel). Evaluate does not allocate and does not keep f.
func (p *Policy) Evaluate(f *enrich.Facts) Verdict {
	v := p.evaluateRemote(f)
	// A device is judged by the flows it has with the world: its chatter
	// with special-purpose addresses (multicast group reports, link-local
	// neighbours) says nothing about where its data goes.
	if f.Location != nil && f.Location.Class == geo.ClassPublic {
		p.evaluateDevice(&f.Device, &v)
	}
	if f.Tunnel.Protocol != "" {
		p.evaluateTunnel(f, &v)
	}
	return v
}

// evaluateTunnel adds the tunnels section's verdict on a flow that carries
// a tunnel: it flags the flow when no top-level jurisdiction did.
func (p *Policy) evaluateTunnel(f *enrich.Facts, v *Verdict) {
	v.Tunnel = p.EvaluateTunnel(f)
	if v.Jurisdiction == "" {
		switch {
		case v.Tunnel.Jurisdiction != "":
			v.Jurisdiction, v.MatchedBy = v.Tunnel.Jurisdiction, v.Tunnel.MatchedBy
		case v.Tunnel.Unlisted:
			v.Jurisdiction, v.MatchedBy = UnlistedTunnel, MatchedUnlisted
		}
	}
}

// evaluateRemote judges the remote endpoint by its location.
func (p *Policy) evaluateRemote(f *enrich.Facts) Verdict {
	loc := f.Location
	if loc == nil || loc.Class != geo.ClassPublic || len(p.jurisdictions) == 0 {
		return Verdict{}
	}
	ci, cok := countryIndex(loc.Country)
	ri, rok := countryIndex(loc.RegisteredCountry)
	// geo.Unknown means the database had no organisation: it must not be
	// matched by a permissive expression.
	org := loc.ASOrg != "" && loc.ASOrg != geo.Unknown
	for i := range p.jurisdictions {
		j := &p.jurisdictions[i]
		var by Field
		switch {
		case cok && j.countries.has(ci):
			by = MatchedCountry
		case rok && j.registered.has(ri):
			by = MatchedRegisteredCountry
		case loc.ASN != 0 && hasASN(j.asns, loc.ASN):
			by = MatchedASN
		case org && j.orgs != nil && p.orgMatch(j, loc.ASOrg):
			by = MatchedASOrg
		case j.domains != nil && matchDomain(j.domains, f.Domain.Name):
			by = MatchedDomain
		default:
			continue
		}
		// Exceptions are looked at only for a match: they are rare, and
		// the common unflagged path stays a few bit tests.
		addr := f.Remote.Addr().Unmap()
		if reason, ok := p.exceptASN[loc.ASN]; ok {
			return Verdict{Excepted: reason}
		}
		// An address located by the IPv4 address it embeds (NAT64, 6to4,
		// Teredo) reaches that host: an exception for it holds too.
		var inner netip.Addr
		if loc.Embedded != geo.EmbedNone {
			_, inner = geo.Embedded(addr)
		}
		for _, e := range p.exceptCIDR {
			if e.prefix.Contains(addr) || (inner.IsValid() && e.prefix.Contains(inner)) {
				return Verdict{Excepted: e.reason}
			}
		}
		if p.IsLocal(addr) {
			return Verdict{}
		}
		return Verdict{Jurisdiction: j.name, MatchedBy: by}
	}
	return Verdict{}
}

func hasASN(sorted []uint32, asn uint32) bool {
	_, ok := slices.BinarySearch(sorted, asn)
	return ok
}

// LocalNetworks returns a copy of the configured local_networks (not the
// special-purpose private ranges, which geo classifies).
func (p *Policy) LocalNetworks() []netip.Prefix { return slices.Clone(p.local) }

// IsLocal reports whether a is in the configured local_networks. An
// IPv4-mapped IPv6 address is treated as the IPv4 address it carries.
func (p *Policy) IsLocal(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.local {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Jurisdictions returns the jurisdiction names in file order.
func (p *Policy) Jurisdictions() []string {
	names := make([]string, len(p.jurisdictions))
	for i := range p.jurisdictions {
		names[i] = p.jurisdictions[i].name
	}
	return names
}

// Description returns the description of a jurisdiction, or "".
func (p *Policy) Description(name string) string {
	for i := range p.jurisdictions {
		if p.jurisdictions[i].name == name {
			return p.jurisdictions[i].description
		}
	}
	return ""
}

// Checksum returns the SHA-256 of the file the policy was parsed from, so a
// reload can skip a file that has not changed.
func (p *Policy) Checksum() [32]byte { return p.sum }
