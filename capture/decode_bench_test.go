package capture

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The frame kinds benchmarked, by validCases name. The tunnelled ones are
// decoded by the hand-written walk only: a DecodingLayerParser holds one
// layer of each type, so it cannot decode an inner Ethernet header.
var benchKinds = []struct {
	name     string
	gopacket bool
}{
	{"eth_ipv4_tcp", true},
	{"eth_ipv6_udp", true},
	{"eth_vlan_ipv4_tcp", true},
	{"eth_ipv6_ext_tcp", true},
	{"vxlan_ipv4_tcp", false},
	{"gre_ipv4", false},
	{"erspan2_ipv4", false},
}

// BenchmarkDecode measures one frame decode per operation, by the
// hand-written walk (impl=walk) and by gopacket's DecodingLayerParser
// filling the same Packet (impl=gopacket). Compare them with
// `benchstat -col /impl`.
func BenchmarkDecode(b *testing.B) {
	cases := map[string]decodeCase{}
	for _, c := range validCases(b) {
		cases[c.name] = c
	}
	for _, k := range benchKinds {
		c, ok := cases[k.name]
		if !ok {
			b.Fatalf("no case %q", k.name)
		}
		b.Run("frame="+k.name+"/impl=walk", func(b *testing.B) {
			dec := NewDecoder()
			var p Packet
			b.ReportAllocs()
			for b.Loop() {
				if dec.Decode(c.link, c.data, &p) != Decoded {
					b.Fatal("not decoded")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
			if p.Src != c.want.Src || p.SrcPort != c.want.SrcPort {
				b.Fatalf("got %+v", p)
			}
		})
		if !k.gopacket {
			continue
		}
		b.Run("frame="+k.name+"/impl=gopacket", func(b *testing.B) {
			g := newGopacketDecoder()
			var p Packet
			b.ReportAllocs()
			for b.Loop() {
				if !g.decode(c.data, &p) {
					b.Fatal("not decoded")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
			// The reference fills in neither payload nor link addresses.
			want := c.want
			want.SrcMAC, want.DstMAC, want.HasMAC = [6]byte{}, [6]byte{}, false
			if diff := packetDiff(decodeCase{noPayload: true}, p, want); diff != "" {
				b.Fatalf("gopacket: %s", diff)
			}
		})
	}
}

// gopacketDecoder is the reference: gopacket's DecodingLayerParser set up
// as its documentation recommends (layers declared once, decoded slice
// reused, IgnoreUnsupported, Dot1Q and IPv6ExtensionSkipper included).
type gopacketDecoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	ext     layers.IPv6ExtensionSkipper
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	payload gopacket.Payload
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newGopacketDecoder() *gopacketDecoder {
	g := &gopacketDecoder{decoded: make([]gopacket.LayerType, 0, 10)}
	g.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&g.eth, &g.dot1q, &g.ip4, &g.ip6, &g.ext, &g.tcp, &g.udp, &g.icmp4, &g.icmp6, &g.payload)
	g.parser.IgnoreUnsupported = true
	return g
}

func (g *gopacketDecoder) decode(data []byte, p *Packet) bool {
	if err := g.parser.DecodeLayers(data, &g.decoded); err != nil {
		return false
	}
	*p = Packet{}
	ok := false
	for _, t := range g.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			ok = true
			p.Src = netip.AddrFrom4([4]byte(g.ip4.SrcIP.To4()))
			p.Dst = netip.AddrFrom4([4]byte(g.ip4.DstIP.To4()))
			p.IPLen = uint32(g.ip4.Length)
			p.TTL = g.ip4.TTL
			p.Proto = uint8(g.ip4.Protocol)
			p.Fragment = g.ip4.Flags&layers.IPv4MoreFragments != 0 || g.ip4.FragOffset != 0
		case layers.LayerTypeIPv6:
			ok = true
			p.Src = netip.AddrFrom16([16]byte(g.ip6.SrcIP.To16()))
			p.Dst = netip.AddrFrom16([16]byte(g.ip6.DstIP.To16()))
			p.IPLen = uint32(g.ip6.Length) + 40
			p.TTL = g.ip6.HopLimit
			p.Proto = uint8(g.ip6.NextHeader)
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Fragment:
			p.Proto = uint8(g.ext.NextHeader)
		case layers.LayerTypeTCP:
			p.Proto = 6
			p.SrcPort, p.DstPort = uint16(g.tcp.SrcPort), uint16(g.tcp.DstPort)
			p.TCPFlags = g.tcp.Contents[13]
		case layers.LayerTypeUDP:
			p.Proto = 17
			p.SrcPort, p.DstPort = uint16(g.udp.SrcPort), uint16(g.udp.DstPort)
		}
	}
	return ok
}
