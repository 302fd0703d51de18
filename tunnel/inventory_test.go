package tunnel

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

var (
	locCN = &geo.Location{Class: geo.ClassPublic, Country: "CN", RegisteredCountry: "CN", ASN: 64501, ASOrg: "Example CN"}
	locDE = &geo.Location{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64502, ASOrg: "Example DE"}
)

// tev builds a report of a flow carrying a tunnel from local to remote.
func tev(proto, local, remote string, loc *geo.Location, jurisdiction string, to, from uint64, at int64, started, ended bool) *flow.TunnelEvent {
	f := &enrich.Facts{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Proto: 17, Location: loc}
	f.Tunnel = enrich.Tunnel{Protocol: proto, Local: f.Local, Endpoint: f.Remote, Location: loc}
	v := policy.Verdict{Jurisdiction: jurisdiction}
	if jurisdiction != "" {
		v.MatchedBy = policy.MatchedCountry
	}
	return &flow.TunnelEvent{Facts: f, Verdict: v, First: at, Last: at, BytesTo: to, BytesFrom: from,
		PacketsTo: to / 100, PacketsFrom: from / 100, Started: started, Ended: ended}
}

func TestInventory(t *testing.T) {
	inv := NewInventory(InventoryOptions{})
	inv.ObserveTunnel(tev("wireguard", "10.0.0.1:40000", "203.0.113.5:51820", locCN, "vpn-cn", 200, 100, 1e9, true, false))
	inv.ObserveTunnel(tev("openvpn", "10.0.0.2:40001", "198.51.100.7:1194", locDE, "", 100, 100, 2e9, true, false))
	inv.ObserveTunnel(tev("wireguard", "10.0.0.1:40000", "203.0.113.5:51820", locCN, "vpn-cn", 300, 0, 3e9, false, false))

	// A tunnel the decoder removed, with two inner flows: one tunnel.
	for i, inner := range []string{"203.0.113.80:443", "203.0.113.81:443"} {
		f := &enrich.Facts{Local: netip.MustParseAddrPort("10.1.1.1:5000"), Remote: netip.MustParseAddrPort(inner), Proto: 6, Location: locDE}
		f.Tunnel = enrich.Tunnel{Protocol: "gre", Local: netip.MustParseAddrPort("192.0.2.1:0"), Endpoint: netip.MustParseAddrPort("203.0.113.99:0"), Location: locCN}
		inv.ObserveTunnel(&flow.TunnelEvent{Facts: f, Verdict: policy.Verdict{Jurisdiction: "vpn-cn"}, First: int64(4+i) * 1e9, Last: int64(4+i) * 1e9, BytesTo: 1000, Started: true})
	}
	got := inv.Tunnels()
	if len(got) != 3 {
		t.Fatalf("tunnels %+v", got)
	}
	gre, wg := got[0], got[1]
	if gre.Protocol != "gre" || gre.Remote != "203.0.113.99" || gre.RemotePort != 0 || gre.Local != "192.0.2.1" || gre.Flows != 2 || gre.BytesTo != 2000 || gre.Country != "CN" {
		t.Errorf("gre %+v", gre)
	}
	if wg.Protocol != "wireguard" || wg.Remote != "203.0.113.5" || wg.RemotePort != 51820 || wg.LocalPort != 40000 || wg.BytesTo != 500 || wg.BytesFrom != 100 ||
		wg.PacketsTo != 5 || wg.Jurisdiction != "vpn-cn" || wg.MatchedBy != "country" || wg.ASN != 64501 || wg.ASOrg != "Example CN" ||
		wg.FirstSeen.Unix() != 1 || wg.LastSeen.Unix() != 3 {
		t.Errorf("wireguard %+v", wg)
	}

	// The wireguard tunnel ends; one of the gre flows too.
	inv.ObserveTunnel(tev("wireguard", "10.0.0.1:40000", "203.0.113.5:51820", locCN, "vpn-cn", 0, 50, 9e9, false, true))
	f := &enrich.Facts{Local: netip.MustParseAddrPort("10.1.1.1:5000"), Remote: netip.MustParseAddrPort("203.0.113.80:443"), Proto: 6, Location: locDE}
	f.Tunnel = enrich.Tunnel{Protocol: "gre", Local: netip.MustParseAddrPort("192.0.2.1:0"), Endpoint: netip.MustParseAddrPort("203.0.113.99:0"), Location: locCN}
	inv.ObserveTunnel(&flow.TunnelEvent{Facts: f, Verdict: policy.Verdict{Jurisdiction: "vpn-cn"}, First: 4e9, Last: 9e9, Ended: true})
	if got := inv.Tunnels(); len(got) != 2 || got[0].Protocol != "gre" || got[0].Flows != 1 {
		t.Errorf("after the ends: %+v", got)
	}
	if s, ok := inv.Endpoint(netip.MustParseAddr("203.0.113.5")); !ok || s.Protocol != "wireguard" || s.FirstSeen != 1e9 || s.LastSeen != 9e9 {
		t.Errorf("endpoint seen = %+v %v", s, ok)
	}
	if _, ok := inv.Endpoint(netip.MustParseAddr("203.0.113.80")); ok {
		t.Error("an inner host was remembered as a tunnel endpoint")
	}
	if st := inv.Started(); st["wireguard"] != 1 || st["gre"] != 1 || st["openvpn"] != 1 {
		t.Errorf("started %v", st)
	}

	want := `
# HELP jurismon_tunnels Active tunnels and VPNs (listed in /api/v1/tunnels), by protocol, endpoint country and jurisdiction ("" when not flagged).
# TYPE jurismon_tunnels gauge
jurismon_tunnels{country="CN",jurisdiction="vpn-cn",protocol="gre"} 1
jurismon_tunnels{country="CN",jurisdiction="vpn-cn",protocol="wireguard"} 0
jurismon_tunnels{country="DE",jurisdiction="",protocol="openvpn"} 1
# HELP jurismon_tunnels_started_total Tunnels and VPNs recognised, listed or not, by protocol, endpoint country and jurisdiction.
# TYPE jurismon_tunnels_started_total counter
jurismon_tunnels_started_total{country="CN",jurisdiction="vpn-cn",protocol="gre"} 1
jurismon_tunnels_started_total{country="CN",jurisdiction="vpn-cn",protocol="wireguard"} 1
jurismon_tunnels_started_total{country="DE",jurisdiction="",protocol="openvpn"} 1
# HELP jurismon_tunnel_bytes_total IP bytes of the flows that carry a tunnel or VPN (from their first packet), by protocol, direction, endpoint country and jurisdiction.
# TYPE jurismon_tunnel_bytes_total counter
jurismon_tunnel_bytes_total{country="CN",direction="egress",jurisdiction="vpn-cn",protocol="gre"} 2000
jurismon_tunnel_bytes_total{country="CN",direction="egress",jurisdiction="vpn-cn",protocol="wireguard"} 500
jurismon_tunnel_bytes_total{country="CN",direction="ingress",jurisdiction="vpn-cn",protocol="wireguard"} 150
jurismon_tunnel_bytes_total{country="DE",direction="egress",jurisdiction="",protocol="openvpn"} 100
jurismon_tunnel_bytes_total{country="DE",direction="ingress",jurisdiction="",protocol="openvpn"} 100
# HELP jurismon_tunnel_inventory_tunnels Tunnels listed in the inventory (bounded by --tunnels.max).
# TYPE jurismon_tunnel_inventory_tunnels gauge
jurismon_tunnel_inventory_tunnels 2
# HELP jurismon_tunnel_inventory_untracked_total Tunnels not listed (nor counted in jurismon_tunnels) because the inventory was full (--tunnels.max).
# TYPE jurismon_tunnel_inventory_untracked_total counter
jurismon_tunnel_inventory_untracked_total 0
`
	if err := testutil.CollectAndCompare(inv.Collector(), strings.NewReader(want),
		"jurismon_tunnels", "jurismon_tunnels_started_total", "jurismon_tunnel_bytes_total",
		"jurismon_tunnel_inventory_tunnels", "jurismon_tunnel_inventory_untracked_total"); err != nil {
		t.Error(err)
	}
}

// TestInventoryBounds fills the list, the label sets and the endpoints.
func TestInventoryBounds(t *testing.T) {
	inv := NewInventory(InventoryOptions{MaxTunnels: 2, MaxSeries: 2, MaxEndpoints: 2})
	countries := []string{"CN", "DE", "FR", "NL"}
	for i, c := range countries {
		loc := &geo.Location{Class: geo.ClassPublic, Country: c}
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}), 51820).String()
		inv.ObserveTunnel(tev("wireguard", "10.0.0.1:40000", remote, loc, "", 100, 0, 1e9, true, false))
	}
	if n := len(inv.Tunnels()); n != 2 {
		t.Errorf("%d tunnels listed, want 2", n)
	}
	if inv.Untracked() != 2 || inv.foldedSeries.Load() == 0 || inv.forgotten.Load() != 2 {
		t.Errorf("untracked %d, folded %d, forgotten %d", inv.Untracked(), inv.foldedSeries.Load(), inv.forgotten.Load())
	}
	if len(inv.series) > 3 || inv.series[Labels{"wireguard", Other, ""}] == nil {
		t.Errorf("series %v: want at most the cap and one folded", inv.series)
	}
	if len(inv.seen) != 2 {
		t.Errorf("%d endpoints remembered, want 2", len(inv.seen))
	}
	// An untracked tunnel's end changes nothing listed.
	inv.ObserveTunnel(tev("wireguard", "10.0.0.1:40000", "203.0.113.4:51820", &geo.Location{Class: geo.ClassPublic, Country: "NL"}, "", 0, 0, 2e9, false, true))
	if n := len(inv.Tunnels()); n != 2 {
		t.Errorf("%d tunnels listed after an untracked one ended", n)
	}
}

func TestInventoryHandler(t *testing.T) {
	inv := NewInventory(InventoryOptions{})
	inv.ObserveTunnel(tev("wireguard", "10.0.0.1:40000", "203.0.113.5:51820", locCN, "vpn-cn", 200, 100, 1e9, true, false))
	inv.ObserveTunnel(tev("openvpn", "10.0.0.2:40001", "198.51.100.7:1194", locDE, "", 100, 100, 2e9, true, false))
	srv := httptest.NewServer(inv.Handler())
	defer srv.Close()
	get := func(q string) (int, TunnelsResponse) {
		t.Helper()
		resp, err := http.Get(srv.URL + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body TunnelsResponse
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, body
	}
	if code, b := get("/"); code != 200 || len(b.Tunnels) != 2 || b.Listed != 2 || b.Max != 4096 || b.Endpoint != nil {
		t.Errorf("all: %d %+v", code, b)
	}
	if code, b := get("/?limit=1"); code != 200 || len(b.Tunnels) != 1 || b.Listed != 2 || b.Tunnels[0].Protocol != "wireguard" {
		t.Errorf("limit: %d %+v", code, b)
	}
	if code, b := get("/?endpoint=203.0.113.5"); code != 200 || len(b.Tunnels) != 1 || b.Endpoint == nil || !b.Endpoint.Seen || b.Endpoint.Protocol != "wireguard" || b.Endpoint.FirstSeen.Unix() != 1 {
		t.Errorf("endpoint: %d %+v %+v", code, b, b.Endpoint)
	}
	if code, b := get("/?endpoint=203.0.113.6"); code != 200 || len(b.Tunnels) != 0 || b.Endpoint == nil || b.Endpoint.Seen {
		t.Errorf("unseen endpoint: %d %+v", code, b)
	}
	for _, q := range []string{"/?limit=0", "/?limit=x", "/?endpoint=nope"} {
		if code, _ := get(q); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, code)
		}
	}
	resp, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}
