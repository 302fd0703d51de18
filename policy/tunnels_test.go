package policy

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
)

const tunnelPolicy = `
jurisdictions:
  - name: sanctioned
    countries: [RU]
tunnels:
  allowed:
    - cidr: 198.51.100.0/25
      reason: our corporate VPN concentrator
    - asn: 64500
      reason: our VPN provider under contract
  flag_unlisted: true
  jurisdictions:
    - name: vpn-exit-cn
      countries: [CN]
    - name: vpn-hosting
      registered_countries: [HK]
      asns: [64511]
      as_orgs: ["(?i)bullet ?proof"]
  providers: servers.csv
local_networks: [192.0.2.0/24]
`

func TestEvaluateTunnel(t *testing.T) {
	p := mustParse(t, tunnelPolicy)
	tests := []struct {
		name  string
		proto string
		addr  string
		loc   *geo.Location
		want  TunnelVerdict
	}{
		{"no tunnel", "", "203.0.113.5", loc("CN", "CN", 64999, "Other"), TunnelVerdict{}},
		{"tunnel jurisdiction by country", "wireguard", "203.0.113.5", loc("CN", "CN", 64999, "Other"), TunnelVerdict{Jurisdiction: "vpn-exit-cn", MatchedBy: MatchedCountry}},
		{"registered country", "openvpn", "203.0.113.5", loc("DE", "HK", 64999, "Other"), TunnelVerdict{Jurisdiction: "vpn-hosting", MatchedBy: MatchedRegisteredCountry}},
		{"asn", "ipsec", "2001:db8::5", loc("DE", "DE", 64511, "Other"), TunnelVerdict{Jurisdiction: "vpn-hosting", MatchedBy: MatchedASN}},
		{"as_org", "ipsec", "203.0.113.5", loc("DE", "DE", 64999, "BulletProof Hosting"), TunnelVerdict{Jurisdiction: "vpn-hosting", MatchedBy: MatchedASOrg}},
		{"allowed by cidr, even in a tunnel jurisdiction", "wireguard", "198.51.100.7", loc("CN", "CN", 64999, "Other"), TunnelVerdict{Allowed: "our corporate VPN concentrator"}},
		{"next prefix not allowed", "wireguard", "198.51.100.200", loc("DE", "DE", 64999, "Other"), TunnelVerdict{Unlisted: true}},
		{"allowed by asn", "openvpn", "203.0.113.5", loc("CN", "CN", 64500, "Other"), TunnelVerdict{Allowed: "our VPN provider under contract"}},
		{"unlisted vpn", "tailscale", "203.0.113.5", loc("DE", "DE", 64999, "Other"), TunnelVerdict{Unlisted: true}},
		{"unlisted plain tunnel is not a vpn", "vxlan", "203.0.113.5", loc("DE", "DE", 64999, "Other"), TunnelVerdict{}},
		{"plain tunnel in a tunnel jurisdiction", "gre", "203.0.113.5", loc("CN", "CN", 64999, "Other"), TunnelVerdict{Jurisdiction: "vpn-exit-cn", MatchedBy: MatchedCountry}},
		{"top-level jurisdictions do not apply", "l2tp", "203.0.113.5", loc("RU", "RU", 64999, "Other"), TunnelVerdict{Unlisted: true}},
		{"local network", "wireguard", "192.0.2.9", loc("CN", "CN", 64999, "Other"), TunnelVerdict{}},
		{"special-purpose endpoint", "wireguard", "10.0.0.1", &geo.Location{Class: geo.ClassPrivate}, TunnelVerdict{}},
		{"no location", "wireguard", "203.0.113.5", nil, TunnelVerdict{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := enrich.At(netip.MustParseAddr(tt.addr), tt.loc)
			f.Tunnel.Protocol = tt.proto
			got := p.EvaluateTunnel(&f)
			if got != tt.want {
				t.Errorf("EvaluateTunnel = %+v, want %+v", got, tt.want)
			}
			if got.Flagged() != (tt.want.Jurisdiction != "" || tt.want.Unlisted) {
				t.Errorf("Flagged() = %v", got.Flagged())
			}
			// Evaluate carries the tunnel rules' verdict.
			if v := p.Evaluate(&f); v.Tunnel != got {
				t.Errorf("Evaluate's Tunnel = %+v, want %+v", v.Tunnel, got)
			}
		})
	}
	if got := p.TunnelJurisdictions(); len(got) != 2 || got[0] != "vpn-exit-cn" || got[1] != "vpn-hosting" {
		t.Errorf("TunnelJurisdictions() = %q", got)
	}
	if !p.FlagUnlistedTunnels() || p.TunnelProviders() != "servers.csv" {
		t.Errorf("flag_unlisted %v, providers %q", p.FlagUnlistedTunnels(), p.TunnelProviders())
	}
	f := enrich.At(netip.MustParseAddr("203.0.113.5"), loc("CN", "CN", 64999, "BulletProof"))
	f.Tunnel.Protocol = "wireguard"
	if n := testing.AllocsPerRun(100, func() { p.EvaluateTunnel(&f) }); n != 0 {
		t.Errorf("EvaluateTunnel allocates %v times", n)
	}
}

// Evaluate flags a tunnel the tunnel rules flag, unless a top-level
// jurisdiction already did, and judges a decapsulated tunnel by its outer
// endpoint.
func TestEvaluateJudgesTunnels(t *testing.T) {
	p := mustParse(t, tunnelPolicy)
	de, cn, ru := loc("DE", "DE", 64999, "Other"), loc("CN", "CN", 64999, "Other"), loc("RU", "RU", 64999, "Other")
	tests := []struct {
		name                string
		proto               string
		remote              *geo.Location
		endpoint            string // the tunnel's endpoint when not the remote
		endpointLoc         *geo.Location
		wantJurisdiction    string
		wantBy              Field
		wantTunnelFlagged   bool
		wantTunnelAllowedBy string
	}{
		{"no tunnel, no flag", "", de, "", nil, "", MatchedNone, false, ""},
		{"no tunnel, top-level", "", ru, "", nil, "sanctioned", MatchedCountry, false, ""},
		{"tunnel jurisdiction", "wireguard", cn, "", nil, "vpn-exit-cn", MatchedCountry, true, ""},
		{"unlisted vpn", "openvpn", de, "", nil, UnlistedTunnel, MatchedUnlisted, true, ""},
		{"top-level wins", "wireguard", ru, "", nil, "sanctioned", MatchedCountry, true, ""},
		{"plain tunnel not flagged", "vxlan", de, "", nil, "", MatchedNone, false, ""},
		{"decapsulated: the outer endpoint is judged", "gre", de, "203.0.113.77", cn, "vpn-exit-cn", MatchedCountry, true, ""},
		{"decapsulated: allowed outer endpoint", "ipip", cn, "198.51.100.9", cn, "", MatchedNone, false, "our corporate VPN concentrator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := enrich.At(netip.MustParseAddr("203.0.113.5"), tt.remote)
			f.Tunnel.Protocol = tt.proto
			if tt.endpoint != "" {
				f.Tunnel.Endpoint = netip.AddrPortFrom(netip.MustParseAddr(tt.endpoint), 0)
				f.Tunnel.Location = tt.endpointLoc
			}
			v := p.Evaluate(&f)
			if v.Jurisdiction != tt.wantJurisdiction || v.MatchedBy != tt.wantBy {
				t.Errorf("Evaluate = %q by %v, want %q by %v", v.Jurisdiction, v.MatchedBy, tt.wantJurisdiction, tt.wantBy)
			}
			if v.Tunnel.Flagged() != tt.wantTunnelFlagged || v.Tunnel.Allowed != tt.wantTunnelAllowedBy {
				t.Errorf("Tunnel = %+v", v.Tunnel)
			}
		})
	}
	if MatchedUnlisted.String() != "flag_unlisted" {
		t.Errorf("MatchedUnlisted.String() = %q", MatchedUnlisted.String())
	}
	f := enrich.At(netip.MustParseAddr("203.0.113.5"), de)
	f.Tunnel.Protocol = "wireguard"
	if n := testing.AllocsPerRun(100, func() { p.Evaluate(&f) }); n != 0 {
		t.Errorf("Evaluate of a tunnel allocates %v times", n)
	}
}

func TestTunnelProvidersPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(path, []byte("tunnels:\n  providers: lists/servers.csv\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "lists", "servers.csv"); p.TunnelProviders() != want {
		t.Errorf("TunnelProviders() = %q, want %q (relative to the policy file)", p.TunnelProviders(), want)
	}
	if p := mustParse(t, "tunnels:\n  providers: /etc/jurismon/servers.csv\n"); p.TunnelProviders() != "/etc/jurismon/servers.csv" {
		t.Errorf("absolute path changed: %q", p.TunnelProviders())
	}
	if p := mustParse(t, "tunnels:\n"); p.FlagUnlistedTunnels() || p.TunnelProviders() != "" || len(p.TunnelJurisdictions()) != 0 {
		t.Error("an empty tunnels section is not empty")
	}
}
