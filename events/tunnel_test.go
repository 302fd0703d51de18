package events

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

func TestTunnelEvent(t *testing.T) {
	loc := &geo.Location{Class: geo.ClassPublic, Country: "CN", RegisteredCountry: "CN", ASN: 64500, ASOrg: "Example"}
	for _, tt := range []struct {
		name   string
		tunnel enrich.Tunnel
		want   string // the tunnel fields of the JSON line
	}{
		{"none", enrich.Tunnel{}, ``},
		{"wireguard at the remote", enrich.Tunnel{Protocol: "wireguard", Provider: "Example VPN",
			Endpoint: netip.MustParseAddrPort("203.0.113.7:51820"), Location: loc},
			`"tunnel":"wireguard","tunnel_endpoint":"203.0.113.7","tunnel_endpoint_port":51820,"tunnel_provider":"Example VPN",`},
		{"decapsulated gre", enrich.Tunnel{Protocol: "gre", Endpoint: netip.MustParseAddrPort("198.51.100.1:0"), Location: loc},
			`"tunnel":"gre","tunnel_endpoint":"198.51.100.1",`},
		{"no endpoint: the remote", enrich.Tunnel{Protocol: "openvpn"},
			`"tunnel":"openvpn","tunnel_endpoint":"203.0.113.7","tunnel_endpoint_port":51820,`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &enrich.Facts{Tunnel: tt.tunnel, Location: loc}
			e := &flow.Event{
				Local: netip.MustParseAddrPort("192.0.2.10:40000"), Remote: netip.MustParseAddrPort("203.0.113.7:51820"),
				Proto: 17, Location: loc, Facts: f, Ended: true,
				Verdict: policy.Verdict{Jurisdiction: policy.UnlistedTunnel, MatchedBy: policy.MatchedUnlisted},
			}
			b, err := json.Marshal(FromFlow(e, time.Unix(0, 0)))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if !strings.Contains(s, `"as_org":"Example",`+tt.want+`"jurisdiction":"tunnel:unlisted","matched_by":"flag_unlisted"`) {
				t.Errorf("got %s, want the tunnel fields %s", s, tt.want)
			}
		})
	}
}
