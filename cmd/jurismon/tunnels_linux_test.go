package main

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/internal/vpntest"
	"github.com/jurismon/jurismon/tunnel"
)

// The tunnel endpoint in the lab is peerRUv4 (RU in the test database),
// which only the tunnels section flags: traffic to RU is fine in general,
// a VPN ending there is not.
const tunnelLabPolicy = `tunnels:
  jurisdictions:
    - name: vpn-exit-ru
      countries: [RU]
`

// Inside the tunnels: addresses the agent never sees (it captures jma0).
const (
	innerAgent = "203.0.113.201"
	innerPeer  = "203.0.113.202"
)

// TestAgentTunnels runs real VPN software between the agent's namespace
// (the VPN client) and the peer's (the server), and checks that the real
// agent lists each tunnel in /api/v1/tunnels with its endpoint, port,
// country and verdict, counts it in the tunnel metrics, reports it as a
// flagged flow with its protocol, and that lookup --agent knows the
// endpoint.
func TestAgentTunnels(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no /dev/net/tun for the VPNs' TUN devices: %v", err)
	}
	for _, tt := range []struct {
		name, protocol string
		ports          []uint16 // the endpoint's port, as the tunnel's first flow may use
	}{
		{"wireguard-go", tunnel.WireGuard, []uint16{51820}},
		{"openvpn-udp", tunnel.OpenVPN, []uint16{1194}},
		{"openvpn-tcp", tunnel.OpenVPN, []uint16{1194}},
		{"strongswan", tunnel.IPsec, []uint16{500, 4500}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vpntest.Skip(t, tt.name)
			l := newLab(t)
			base := startLabAgentPolicy(t, l, tunnelLabPolicy, "--events.interval", "1s")
			waitHTTP(t, base+"/-/ready", 15*time.Second)
			vl := &vpntest.Lab{Dir: t.TempDir(), ClientNS: l.a, ServerNS: l.b, ClientDev: "jma0", ServerDev: "jmb0",
				Client: netip.MustParseAddr(agentV4), Server: netip.MustParseAddr(peerRUv4), InnerClient: innerAgent, InnerServer: innerPeer,
				Poke: func() {
					l.in(l.a, func() error {
						if conn, err := net.Dial("udp", net.JoinHostPort(innerPeer, "9")); err == nil {
							_, _ = conn.Write([]byte("jurismon tunnel test"))
							_ = conn.Close()
						}
						return nil
					})
				}}
			vl.Start(t, tt.name)

			rec := waitTunnel(t, base, vl, tt.protocol, tt.ports)
			if rec.Local != agentV4 || rec.Country != "RU" || rec.Jurisdiction != "vpn-exit-ru" || rec.MatchedBy != "country" ||
				rec.BytesTo == 0 || rec.BytesFrom == 0 || rec.PacketsTo == 0 || rec.PacketsFrom == 0 || rec.Flows < 1 ||
				rec.FirstSeen.IsZero() || rec.LastSeen.Before(rec.FirstSeen) {
				t.Errorf("tunnel record %+v", rec)
			}

			// Metrics: the tunnel is active and started, its bytes counted each way.
			labels := `{country="RU",jurisdiction="vpn-exit-ru",protocol="` + tt.protocol + `"}`
			m := scrape(t)
			if m["jurismon_tunnels"+labels] < 1 || m["jurismon_tunnels_started_total"+labels] < 1 {
				t.Errorf("jurismon_tunnels%s = %v, started %v", labels, m["jurismon_tunnels"+labels], m["jurismon_tunnels_started_total"+labels])
			}
			for _, dir := range []string{"egress", "ingress"} {
				k := `jurismon_tunnel_bytes_total{country="RU",direction="` + dir + `",jurisdiction="vpn-exit-ru",protocol="` + tt.protocol + `"}`
				if m[k] <= 0 {
					t.Errorf("%s = %v", k, m[k])
				}
			}
			if m[`jurismon_tunnel_inventory_untracked_total{}`] != 0 {
				t.Errorf("untracked tunnels: %v", m[`jurismon_tunnel_inventory_untracked_total{}`])
			}

			// The flagged-flow log has the tunnel, with its protocol.
			waitTunnelEvent(t, base, vl, tt.protocol)

			// lookup asks the agent about the endpoint.
			out, errOut, code := jurismon(t, "lookup", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
				"--geoip.lookup-documentation", "--json", "--agent", base, peerRUv4)
			var lr lookupResult
			if code != 0 || json.Unmarshal([]byte(out), &lr) != nil || lr.TunnelEndpoint == nil || !lr.TunnelEndpoint.Seen ||
				lr.TunnelEndpoint.Protocol != tt.protocol || lr.TunnelEndpoint.Active < 1 {
				t.Errorf("lookup --agent: exit %d, %s %s", code, out, errOut)
			}
		})
	}
}

// waitTunnel pokes the tunnel until the agent lists it, and returns its record.
func waitTunnel(t *testing.T, base string, vl *vpntest.Lab, protocol string, ports []uint16) tunnel.Record {
	t.Helper()
	var last []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		vl.PokeTunnel()
		code, body := getBody(t, base+"/api/v1/tunnels?endpoint="+peerRUv4)
		last = body
		var resp tunnel.TunnelsResponse
		if code != 200 || json.Unmarshal(body, &resp) != nil {
			continue
		}
		for _, r := range resp.Tunnels {
			for _, p := range ports {
				if r.Protocol == protocol && r.Remote == peerRUv4 && r.RemotePort == p && r.BytesTo > 0 && r.BytesFrom > 0 {
					if resp.Endpoint == nil || !resp.Endpoint.Seen {
						t.Errorf("endpoint not marked as seen: %s", body)
					}
					return r
				}
			}
		}
	}
	t.Fatalf("no %s tunnel to %s after 30s; last answer: %s", protocol, peerRUv4, last)
	return tunnel.Record{}
}

// waitTunnelEvent waits for a flagged flow with "tunnel": protocol.
func waitTunnelEvent(t *testing.T, base string, vl *vpntest.Lab, protocol string) {
	t.Helper()
	want := `"tunnel":"` + protocol + `","tunnel_endpoint":"` + peerRUv4 + `"`
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		vl.PokeTunnel()
		_, body := getBody(t, base+"/api/v1/flagged-flows")
		if strings.Contains(string(body), want) && strings.Contains(string(body), `"jurisdiction":"vpn-exit-ru"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flagged flow with %s after 15s: %s", want, body)
		}
	}
}
