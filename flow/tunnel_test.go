package flow

import (
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// wgInspector names a flow's tunnel once it has seen a packet each way, as
// the tunnel classifier does. With outer set, the tunnel ends there (a
// tunnel the decoder removed), located at outerLoc.
type wgInspector struct {
	outer    netip.AddrPort
	outerLoc *geo.Location
}

func (w wgInspector) Inspect(s *enrich.State, f *enrich.Facts, _ *capture.Packet, fromLocal bool) (changed, done bool) {
	if fromLocal {
		s[0] = 1
	} else {
		s[1] = 1
	}
	if s[0] == 0 || s[1] == 0 {
		return false, false
	}
	f.Tunnel = enrich.Tunnel{Protocol: "wireguard", Local: f.Local, Endpoint: f.Remote, Location: f.Location}
	if w.outer.IsValid() {
		f.Tunnel.Protocol = "gre"
		f.Tunnel.Local = netip.MustParseAddrPort("10.9.9.9:0")
		f.Tunnel.Endpoint, f.Tunnel.Location = w.outer, w.outerLoc
	}
	return true, true
}

func TestTunnelObserver(t *testing.T) {
	env := testEnv(t)
	env.Inspectors = []enrich.Inspector{wgInspector{}}
	var evs []TunnelEvent
	var protos []string
	a := NewAccountant(env, DefaultConfig(), TunnelFunc(func(ev *TunnelEvent) {
		evs = append(evs, *ev)
		protos = append(protos, ev.Facts.Tunnel.Protocol)
	}))
	packets := []capture.Packet{
		pkt(0, "10.0.0.1", "192.0.2.129", 17, 40000, 51820, 148),
		pkt(0, "192.0.2.129", "10.0.0.1", 17, 51820, 40000, 92), // recognised
		pkt(1, "10.0.0.1", "192.0.2.129", 17, 40000, 51820, 100),
		pkt(10, "10.0.0.1", "192.0.2.129", 17, 40000, 51820, 100), // moves: a report
		pkt(11, "192.0.2.129", "10.0.0.1", 17, 51820, 40000, 60),
		pkt(0, "10.0.0.1", "192.0.2.10", 6, 40001, 443, 60), // no tunnel: never reported
	}
	for i := range packets {
		a.Add(&packets[i])
	}
	p := pkt(11, "10.0.0.1", "192.0.2.129", 17, 40000, 51820, 100)
	if n := testing.AllocsPerRun(100, func() { a.Add(&p) }); n != 0 {
		t.Errorf("a packet of a known tunnel allocates %v times", n)
	}
	a.Flush()
	if len(evs) != 3 || !evs[0].Started || evs[1].Started || evs[1].Ended || !evs[2].Ended {
		t.Fatalf("events = %+v", evs)
	}
	for _, p := range protos {
		if p != "wireguard" {
			t.Errorf("facts protocol %q", p)
		}
	}
	if e := evs[0]; e.BytesTo != 148 || e.BytesFrom != 92 || e.PacketsTo != 1 || e.PacketsFrom != 1 || e.Verdict.Jurisdiction != "russia" {
		t.Errorf("first report %+v, want the two packets so far", e)
	}
	var to, from, pk uint64
	for _, e := range evs {
		to, from, pk = to+e.BytesTo, from+e.BytesFrom, pk+e.PacketsTo+e.PacketsFrom
	}
	if to != 348+101*100 || from != 152 || pk != 5+101 {
		t.Errorf("reports add up to %d to, %d from, %d packets; want %d, 152, %d", to, from, pk, 348+101*100, 5+101)
	}
}

func TestByTunnel(t *testing.T) {
	ru := &geo.Location{Class: geo.ClassPublic, Country: "RU", RegisteredCountry: "RU", ASN: 64501, ASOrg: "Example RU"}
	for _, tt := range []struct {
		name   string
		insp   wgInspector
		flows  uint64 // in the tunnel's row
		local  netip.AddrPort
		remote netip.AddrPort
		proto  string
		bytes  uint64
	}{
		{"flow endpoints", wgInspector{}, 1, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("192.0.2.10:51820"), "wireguard", 400},
		// Two inner flows through one decapsulated tunnel: one row, at the outer ends.
		{"outer ends", wgInspector{outer: netip.MustParseAddrPort("192.0.2.129:0"), outerLoc: ru}, 2, netip.MustParseAddrPort("10.9.9.9:0"), netip.MustParseAddrPort("192.0.2.129:0"), "gre", 800},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			// The tunnel rules judge the tunnel's endpoint; the
			// jurisdictions the flow's remote (here in DE).
			p, err := policy.Parse([]byte(testPolicy + "tunnels:\n  jurisdictions:\n    - name: vpn-ru\n      countries: [RU]\n"))
			if err != nil {
				t.Fatal(err)
			}
			env.SetPolicy(p)
			env.Inspectors = []enrich.Inspector{tt.insp}
			cfg := DefaultConfig()
			cfg.Grouping = ByTunnel
			a := NewAccountant(env, cfg)
			packets := []capture.Packet{
				pkt(0, "10.0.0.1", "192.0.2.10", 17, 40000, 51820, 100),
				pkt(0, "10.0.0.1", "192.0.2.10", 17, 40000, 51820, 100),
				pkt(0, "192.0.2.10", "10.0.0.1", 17, 51820, 40000, 100), // recognised
				pkt(1, "10.0.0.1", "192.0.2.10", 17, 40000, 51820, 100),
				pkt(0, "10.0.0.1", "192.0.2.10", 6, 40001, 443, 60), // no tunnel: a location row
			}
			if tt.flows == 2 {
				for _, p := range packets[:4] {
					p.SrcPort, p.DstPort = p.SrcPort+1, p.DstPort+1
					packets = append(packets, p)
				}
			}
			for i := range packets {
				a.Add(&packets[i])
			}
			a.Flush()
			var tunnels []groupWant
			for _, g := range groupsOf(a) {
				if g.key.Tunnel != "" {
					tunnels = append(tunnels, g)
				} else if g.key.Remote.IsValid() || g.key.Local.IsValid() {
					t.Errorf("a row without tunnel has endpoints: %+v", g.key)
				}
			}
			if len(tunnels) != 1 {
				t.Fatalf("tunnel rows %+v, want one", tunnels)
			}
			g := tunnels[0]
			k := g.key
			if k.Tunnel != tt.proto || netip.AddrPortFrom(k.Local, k.LocalPort) != tt.local || netip.AddrPortFrom(k.Remote, k.RemotePort) != tt.remote {
				t.Errorf("key %+v", k)
			}
			// The whole tunnel is in its row: the packets before it was
			// recognised, and its flow counts.
			if g.bytesTo+g.bytesFrom != tt.bytes || g.flowsTo+g.flowsFrom != tt.flows {
				t.Errorf("row %+v, want %d bytes, %d flows", g, tt.bytes, tt.flows)
			}
			if tt.flows == 2 && (k.Country != "RU" || k.Jurisdiction != "vpn-ru" || k.MatchedBy != policy.MatchedCountry) {
				t.Errorf("the outer endpoint's location and verdict: %+v", k)
			}
		})
	}
}
