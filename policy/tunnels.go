package policy

import (
	"net/netip"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
)

// The tunnels section judges the remote endpoint of a flow that carries a
// tunnel or VPN (enrich.Facts.Tunnel.Protocol set, by the tunnel package):
//
//	tunnels:
//	  allowed:                  # endpoints that are fine, with the reason
//	    - cidr: 198.51.100.0/24
//	      reason: our corporate VPN concentrator
//	    - asn: 64500
//	      reason: our VPN provider under contract
//	  flag_unlisted: true       # flag every VPN to an endpoint not allowed
//	  jurisdictions:            # like the top-level ones, for tunnel endpoints only
//	    - name: vpn-exit-restricted
//	      countries: [CN, RU]
//	  providers: vpn-servers.csv  # cidr,provider lines, relative to the policy file
//
// A policy may accept traffic to a country in general and still flag every
// VPN ending there: the tunnel jurisdictions apply to tunnel endpoints
// only, and their names must differ from the top-level ones (both are
// values of the jurisdiction label).

// UnlistedTunnel is the Jurisdiction of a verdict that flag_unlisted made
// (a VPN to an endpoint not allowed): the value of the jurisdiction label
// for such flows. It cannot be a jurisdiction's name, which uses only
// a-z, 0-9, _ and -.
const UnlistedTunnel = "tunnel:unlisted"

// MatchedUnlisted is the MatchedBy of such a verdict ("flag_unlisted"). It
// is far from the other fields' values so that new ones fit before it.
const MatchedUnlisted Field = 0x40

// TunnelVerdict is the tunnels section's decision about one tunnel's
// remote endpoint.
type TunnelVerdict struct {
	// Jurisdiction is the first tunnel jurisdiction, in file order, that
	// the endpoint matched, and MatchedBy the field that matched.
	Jurisdiction string
	MatchedBy    Field
	// Unlisted is set when flag_unlisted is on and the tunnel is a VPN
	// whose endpoint is not allowed (and matched no tunnel jurisdiction).
	Unlisted bool
	// Allowed is the reason of the allowed entry the endpoint is in; such
	// an endpoint is never flagged by the tunnel rules.
	Allowed string
}

// Flagged reports whether the tunnel rules flag the endpoint.
func (v TunnelVerdict) Flagged() bool { return v.Jurisdiction != "" || v.Unlisted }

// vpnProtocols are the Facts.Tunnel.Protocol values flag_unlisted applies
// to: VPNs someone chose to run. The decapsulated tunnels (gre, vxlan,
// geneve, ipip) are network plumbing, not VPN apps, and are judged by the
// tunnel jurisdictions and allowed entries only. The names are the tunnel
// package's (its tests check they agree).
var vpnProtocols = map[string]bool{
	"wireguard": true, "openvpn": true, "ipsec": true, "l2tp": true, "pptp": true, "tailscale": true,
}

// IsVPNProtocol reports whether flag_unlisted applies to a tunnel protocol.
func IsVPNProtocol(protocol string) bool { return vpnProtocols[protocol] }

// tunnelRules is the compiled tunnels section.
type tunnelRules struct {
	allowedCIDR   []exception
	allowedASN    map[uint32]string
	flagUnlisted  bool
	jurisdictions []jurisdiction
	providers     string // the provider list's path, as written or resolved by Load
}

// EvaluateTunnel returns the tunnel rules' verdict for a flow's facts:
// nothing for a flow without a tunnel, for a special-purpose or unlocated
// endpoint, or for one in local_networks. An allowed endpoint (by CIDR, or
// by its ASN) is never flagged; otherwise the tunnel jurisdictions are
// tried in file order as Evaluate tries the top-level ones, then
// flag_unlisted for VPNs. The endpoint judged is the tunnel's
// (Facts.Tunnel.Endpoint and its Location) when it is set, as the tunnel
// package sets it, else the flow's remote. Evaluate calls it for every
// flow with a tunnel. It does not allocate and does not keep f.
func (p *Policy) EvaluateTunnel(f *enrich.Facts) TunnelVerdict {
	t := &p.tunnels
	loc, endpoint := f.Location, f.Remote
	if f.Tunnel.Endpoint.IsValid() {
		loc, endpoint = f.Tunnel.Location, f.Tunnel.Endpoint
	}
	if f.Tunnel.Protocol == "" || loc == nil || loc.Class != geo.ClassPublic {
		return TunnelVerdict{}
	}
	addr := endpoint.Addr().Unmap()
	if p.IsLocal(addr) {
		return TunnelVerdict{}
	}
	for _, a := range t.allowedCIDR {
		if a.prefix.Contains(addr) {
			return TunnelVerdict{Allowed: a.reason}
		}
	}
	if reason, ok := t.allowedASN[loc.ASN]; ok && loc.ASN != 0 {
		return TunnelVerdict{Allowed: reason}
	}
	if name, by := matchJurisdiction(t.jurisdictions, loc); by != MatchedNone {
		return TunnelVerdict{Jurisdiction: name, MatchedBy: by}
	}
	if t.flagUnlisted && vpnProtocols[f.Tunnel.Protocol] {
		return TunnelVerdict{Unlisted: true}
	}
	return TunnelVerdict{}
}

// matchJurisdiction returns the first of js that loc matches, and the field
// that matched, in Evaluate's order. The tunnel jurisdictions are few and
// judged once per tunnel, so their as_orgs are matched directly rather
// than through the top-level jurisdictions' cache.
func matchJurisdiction(js []jurisdiction, loc *geo.Location) (string, Field) {
	ci, cok := countryIndex(loc.Country)
	ri, rok := countryIndex(loc.RegisteredCountry)
	org := loc.ASOrg != "" && loc.ASOrg != geo.Unknown
	for i := range js {
		j := &js[i]
		switch {
		case cok && j.countries.has(ci):
			return j.name, MatchedCountry
		case rok && j.registered.has(ri):
			return j.name, MatchedRegisteredCountry
		case loc.ASN != 0 && hasASN(j.asns, loc.ASN):
			return j.name, MatchedASN
		case org && j.orgs != nil && j.orgs.MatchString(loc.ASOrg):
			return j.name, MatchedASOrg
		}
	}
	return "", MatchedNone
}

// TunnelJurisdictions returns the tunnel jurisdictions' names in file order.
func (p *Policy) TunnelJurisdictions() []string {
	names := make([]string, len(p.tunnels.jurisdictions))
	for i := range p.tunnels.jurisdictions {
		names[i] = p.tunnels.jurisdictions[i].name
	}
	return names
}

// FlagUnlistedTunnels reports whether flag_unlisted is on.
func (p *Policy) FlagUnlistedTunnels() bool { return p.tunnels.flagUnlisted }

// TunnelProviders returns the path of the provider list (a CSV of
// cidr,provider lines, read by the tunnel package), or "". Load resolves a
// relative path against the policy file's folder.
func (p *Policy) TunnelProviders() string { return p.tunnels.providers }

func (t *tunnelRules) resolveProviders(policyPath string) {
	if t.providers != "" && !filepath.IsAbs(t.providers) {
		t.providers = filepath.Join(filepath.Dir(policyPath), t.providers)
	}
}

// The tunnels section of the file.
type tunnelsFile struct {
	Allowed       []allowedFile      `yaml:"allowed"`
	FlagUnlisted  yaml.Node          `yaml:"flag_unlisted"`
	Jurisdictions []jurisdictionFile `yaml:"jurisdictions"`
	Providers     yaml.Node          `yaml:"providers"`

	compiled tunnelRules
	names    []string // the valid jurisdictions' names and lines, for the
	lines    []int    // check against the top-level ones
}

type plainTunnels tunnelsFile

// allowedFile is an allowed tunnel endpoint: an exception's shape.
type allowedFile struct{ exceptionFile }

type plainAllowed exceptionFile

func (a *allowedFile) UnmarshalYAML(unmarshal func(any) error) error {
	return a.decode(unmarshal, (*plainAllowed)(&a.exceptionFile), "allowed tunnel endpoint")
}

// UnmarshalYAML decodes the tunnels section and checks it.
func (t *tunnelsFile) UnmarshalYAML(unmarshal func(any) error) error {
	var at nodeAt
	_ = unmarshal(&at)
	*t = tunnelsFile{}
	var ps problems
	// As for the whole file: the checks below still run after a decoding
	// problem, so that one run reports every problem.
	if err := decodeEntry(at.n, unmarshal((*plainTunnels)(t)), &ps); err != nil {
		return err
	}
	nullItems(at.n, "allowed", "allowed tunnel endpoint", &ps)
	nullItems(at.n, "jurisdictions", "tunnel jurisdiction", &ps)
	r := &t.compiled
	r.allowedASN = map[uint32]string{}
	firstCIDR := map[netip.Prefix]int{}
	firstASN := map[uint32]int{}
	for i := range t.Allowed {
		a := &t.Allowed[i].exceptionFile
		switch {
		case !a.valid:
		case a.prefix.IsValid():
			if first, ok := firstCIDR[a.prefix]; ok {
				ps.add(a.line, "tunnels: %s is allowed twice (first at line %d)", a.prefix, first)
				continue
			}
			firstCIDR[a.prefix] = a.line
			r.allowedCIDR = append(r.allowedCIDR, exception{prefix: a.prefix, reason: a.reason})
		default:
			if first, ok := firstASN[a.asn]; ok {
				ps.add(a.line, "tunnels: AS%d is allowed twice (first at line %d)", a.asn, first)
				continue
			}
			firstASN[a.asn] = a.line
			r.allowedASN[a.asn] = a.reason
		}
	}
	if n := resolve(&t.FlagUnlisted); !absent(n) {
		v, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			ps.add(n.Line, "tunnels: flag_unlisted must be true or false, not %s", kind(n))
		}
		r.flagUnlisted = v
	}
	first := map[string]int{}
	for i := range t.Jurisdictions {
		j := &t.Jurisdictions[i]
		if !j.valid {
			continue
		}
		if line, ok := first[j.compiled.name]; ok {
			ps.add(j.line, "tunnels: jurisdiction %q is defined twice (first at line %d)", j.compiled.name, line)
			continue
		}
		first[j.compiled.name] = j.line
		r.jurisdictions = append(r.jurisdictions, j.compiled)
		t.names = append(t.names, j.compiled.name)
		t.lines = append(t.lines, j.line)
	}
	if path, ok := scalar(&t.Providers); ok && path != "" {
		r.providers = path
	} else if !absent(&t.Providers) {
		ps.add(resolve(&t.Providers).Line, "tunnels: providers must be the path of a CSV file, not %s", kind(&t.Providers))
	}
	return ps.err()
}
