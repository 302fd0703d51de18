package flow_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/dns"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/macvendor"
	"github.com/jurismon/jurismon/policy"
	"github.com/jurismon/jurismon/tunnel"
)

// enrichedEnv is an environment with the enrichers the agent runs: the
// vendor enricher over a registry written here (the local host's MAC is
// Cisco's), the passive DNS cache and the tunnel classifier as inspector.
func enrichedEnv(tb testing.TB, enriched bool) *flow.Env {
	tb.Helper()
	env := flow.NewEnv(geotest.Resolver(tb), policy.Empty(), true)
	if !enriched {
		return env
	}
	dir := tb.TempDir()
	oui := "Registry,Assignment,Organization Name,Organization Address\n" +
		"MA-L,F4BD9E,\"Cisco Systems, Inc\",80 West Tasman Drive San Jose CA US 94568 \n"
	if err := os.WriteFile(filepath.Join(dir, "oui.csv"), []byte(oui), 0o644); err != nil {
		tb.Fatal(err)
	}
	vendors, err := macvendor.Open(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	env.Enrichers = []enrich.Enricher{macvendor.Enricher{Source: vendors}, dns.New(dns.Options{})}
	env.Inspectors = []enrich.Inspector{tunnel.Classifier{}}
	return env
}

// knownFlowFrame is a TCP frame from a Cisco device at 10.0.0.1 to
// 192.0.2.10:443 with 1000 bytes of data.
func knownFlowFrame(tb testing.TB) capture.Frame {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0xf4, 0xbd, 0x9e, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP("10.0.0.1"), DstIP: net.ParseIP("192.0.2.10")}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, ACK: true, PSH: true, Window: 512}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		tb.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(make([]byte, 1000))); err != nil {
		tb.Fatal(err)
	}
	return capture.Frame{Data: buf.Bytes(), Link: capture.LinkEthernet, WireLen: uint32(len(buf.Bytes()))}
}

// BenchmarkPacketPathEnrich is BenchmarkPacketPath with and without the
// enrichers: on a known flow they cost nothing (they ran when the flow
// started; the inspector is done with it after its first packets).
func BenchmarkPacketPathEnrich(b *testing.B) {
	for _, enriched := range []bool{false, true} {
		name := "plain"
		if enriched {
			name = "enriched"
		}
		b.Run(name, func(b *testing.B) {
			w := flow.NewWorker(flow.NewAccountant(enrichedEnv(b, enriched), flow.DefaultConfig()), true)
			frame := knownFlowFrame(b)
			for range 2 * enrich.MaxInspected {
				frame.Timestamp++
				w.Handle(&frame)
			}
			b.ReportAllocs()
			for b.Loop() {
				frame.Timestamp++
				w.Handle(&frame)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
		})
	}
}

// TestKnownFlowAllocatesNothing: with every enricher and the inspector on,
// a packet of a known flow allocates nothing, and the flow was enriched.
func TestKnownFlowAllocatesNothing(t *testing.T) {
	env := enrichedEnv(t, true)
	a := flow.NewAccountant(env, flow.Config{Grouping: flow.ByDevice})
	w := flow.NewWorker(a, true)
	frame := knownFlowFrame(t)
	for range 2 * enrich.MaxInspected {
		frame.Timestamp++
		w.Handle(&frame)
	}
	if n := testing.AllocsPerRun(1000, func() {
		frame.Timestamp++
		w.Handle(&frame)
	}); n != 0 {
		t.Errorf("%v allocations a packet on a known flow with the enrichers, want 0", n)
	}
	a.Sync()
	var vendor string
	for _, g := range a.Aggregates() {
		vendor = g.Key.Vendor
	}
	if vendor != "Cisco Systems, Inc" {
		t.Errorf("the flow's device vendor is %q, want Cisco's: the vendor enricher did not run", vendor)
	}
}
