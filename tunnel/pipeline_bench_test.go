package tunnel

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo/geotest"
)

// BenchmarkPacketPath is flow's BenchmarkPacketPath (a known TCP flow, from
// frame bytes to accounted) with the classifier in the accountant and the
// inventory observing it, as the agent runs them: the classifier gives up
// on the flow after its first payloads, and the rest of its packets cost
// one byte test. wireguard is the same on a recognised WireGuard tunnel,
// whose flow also reports to the inventory when it moves.
func BenchmarkPacketPath(b *testing.B) {
	for _, tt := range []struct {
		name    string
		proto   layers.IPProtocol
		payload []byte
	}{
		{"tcp", layers.IPProtocolTCP, make([]byte, 1000)},
		{"wireguard", layers.IPProtocolUDP, wgData(7, 1, 1000)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			env := flow.NewEnv(geotest.Resolver(b), nil, true)
			env.Inspectors = []enrich.Inspector{Classifier{Locator: env.Geo}}
			inv := NewInventory(InventoryOptions{})
			a := flow.NewAccountant(env, flow.DefaultConfig(), inv)
			dec := capture.NewDecoder()
			out := capture.Frame{Data: benchFrame(b, tt.proto, "10.0.0.1", "192.0.2.10", 40000, 443, tt.payload), Link: capture.LinkEthernet}
			var p capture.Packet
			if tt.proto == layers.IPProtocolUDP {
				// The handshake first, so that the flow is a tunnel.
				for i, m := range [][]byte{wgInitiation(7), wgResponse(8, 7)} {
					src, dst, sp, dp := "10.0.0.1", "192.0.2.10", uint16(40000), uint16(443)
					if i == 1 {
						src, dst, sp, dp = dst, src, dp, sp
					}
					f := capture.Frame{Data: benchFrame(b, tt.proto, src, dst, sp, dp, m), Link: capture.LinkEthernet, Timestamp: 1}
					if dec.DecodeFrame(&f, &p) == capture.Decoded {
						a.Add(&p)
					}
				}
			}
			if n := len(inv.Tunnels()); (n == 1) != (tt.proto == layers.IPProtocolUDP) {
				b.Fatalf("%d tunnels after the handshake", n)
			}
			out.WireLen = uint32(len(out.Data))
			b.ReportAllocs()
			for b.Loop() {
				out.Timestamp++
				if dec.DecodeFrame(&out, &p) == capture.Decoded {
					a.Add(&p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
		})
	}
}

func benchFrame(tb testing.TB, proto layers.IPProtocol, src, dst string, sport, dport uint16, payload []byte) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	var l4 gopacket.SerializableLayer
	if proto == layers.IPProtocolTCP {
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), ACK: true, Window: 512}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		l4 = tcp
	} else {
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		_ = udp.SetNetworkLayerForChecksum(ip)
		l4 = udp
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, gopacket.Payload(payload)); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
