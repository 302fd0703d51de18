package flow

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
)

func tcpFrame(tb testing.TB, src, dst string, sport, dport uint16) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), ACK: true, Window: 512}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		tb.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(make([]byte, 1000))); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkPacketPath is the whole per-packet path, from frame bytes to
// accounted, on a known flow: decode, flow lookup, counters.
func BenchmarkPacketPath(b *testing.B) {
	a := NewAccountant(testEnv(b), DefaultConfig())
	dec := capture.NewDecoder()
	frame := capture.Frame{Data: tcpFrame(b, "10.0.0.1", "192.0.2.10", 40000, 443), Link: capture.LinkEthernet, WireLen: 1054}
	var p capture.Packet
	b.ReportAllocs()
	for b.Loop() {
		frame.Timestamp++
		if dec.DecodeFrame(&frame, &p) == capture.Decoded {
			a.Add(&p)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
}

// BenchmarkFlowTable is the flow table alone over many known flows.
func BenchmarkFlowTable(b *testing.B) {
	a := NewAccountant(testEnv(b), DefaultConfig())
	const flows = 4096
	packets := make([]capture.Packet, flows)
	for i := range packets {
		packets[i] = pkt(1, "10.0.0.1", netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String(), 6, uint16(1024+i), 443, 100)
		a.Add(&packets[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := &packets[i%flows]
		p.Timestamp++
		a.Add(p)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
}

// BenchmarkNewFlow is the cost of a flow's first packet, geo cache warm.
func BenchmarkNewFlow(b *testing.B) {
	cfg := DefaultConfig()
	cfg.MaxFlows = 1 << 12
	a := NewAccountant(testEnv(b), cfg)
	p := pkt(1, "10.0.0.1", "192.0.2.10", 6, 0, 443, 100)
	b.ReportAllocs()
	for b.Loop() {
		p.SrcPort++ // a new 5-tuple each time; the table evicts past its cap
		a.Add(&p)
	}
}

// BenchmarkManyFlows is the packet path over 100k flows in random order,
// where the flow state is not in the cache, with Add and with AddAhead.
func BenchmarkManyFlows(b *testing.B) {
	const flows = 100000
	r := rand.New(rand.NewPCG(1, 1))
	packets := make([]capture.Packet, 1<<20)
	for i := range packets {
		n := r.IntN(flows)
		packets[i] = pkt(1, "10.0.0.1", netip.AddrFrom4([4]byte{198, 51, byte(n >> 8), byte(n)}).String(), 6, uint16(n), 443, 100)
	}
	for _, mode := range []string{"add", "ahead"} {
		b.Run(mode, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxFlows = 2 * flows
			a := NewAccountant(testEnv(b), cfg)
			for i := range packets {
				a.Add(&packets[i])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := &packets[i&(len(packets)-1)]
				p.Timestamp++
				if mode == "ahead" {
					a.AddAhead(p)
				} else {
					a.Add(p)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
		})
	}
}

// BenchmarkWorker is the packet path as run and analyze drive it: a frame
// through Worker.Handle (decode, decode counts, AddAhead) on a known flow.
func BenchmarkWorker(b *testing.B) {
	w := NewWorker(NewAccountant(testEnv(b), DefaultConfig()), true)
	frame := capture.Frame{Data: tcpFrame(b, "10.0.0.1", "192.0.2.10", 40000, 443), Link: capture.LinkEthernet, WireLen: 1054}
	b.ReportAllocs()
	for b.Loop() {
		frame.Timestamp++
		w.Handle(&frame)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
}
