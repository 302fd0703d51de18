package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The pcap fixtures in testdata/decode are the valid frames of this file,
// one file per link type; `go generate` (or -update-decode) rewrites them.
//
//go:generate go test -run ^TestDecodeFixtures$ -update-decode

var updateDecode = flag.Bool("update-decode", false, "rewrite the pcap fixtures in testdata/decode")

// Documentation addresses only.
var (
	out4a = netip.MustParseAddr("192.0.2.1")
	out4b = netip.MustParseAddr("198.51.100.2")
	in4a  = netip.MustParseAddr("203.0.113.10")
	in4b  = netip.MustParseAddr("203.0.113.20")
	out6a = netip.MustParseAddr("2001:db8::1")
	out6b = netip.MustParseAddr("2001:db8::2")
	in6a  = netip.MustParseAddr("2001:db8:1::a")
	in6b  = netip.MustParseAddr("2001:db8:1::b")
)

var (
	decMacA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	decMacB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	// The inner hosts' addresses, inside tunnels that carry Ethernet.
	decMacC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0c}
	decMacD = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0d}
)

// rawBytes is a layer of literal bytes, for headers gopacket cannot serialize
// (cooked captures, ERSPAN III, AH, 802.3 LLC/SNAP, broken headers).
type rawBytes []byte

func (r rawBytes) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	buf, err := b.PrependBytes(len(r))
	if err != nil {
		return err
	}
	copy(buf, r)
	return nil
}

func (rawBytes) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

// buildFrame builds a frame from layers, fixing lengths and checksums as a
// real stack would.
func buildFrame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func joinLayers(parts ...[]gopacket.SerializableLayer) []gopacket.SerializableLayer {
	var all []gopacket.SerializableLayer
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func ethLayer(t layers.EthernetType) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: decMacA, DstMAC: decMacB, EthernetType: t}}
}

// innerEth is the Ethernet header of the inner hosts inside a tunnel.
func innerEth(t layers.EthernetType) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: decMacC, DstMAC: decMacD, EthernetType: t}}
}

func ipv4Layer(src, dst netip.Addr, ttl uint8, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Protocol: proto, Id: 7,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

func ipv6Layer(src, dst netip.Addr, hops uint8, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: hops, NextHeader: next,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

func payloadBytes(n int) gopacket.Payload {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

// tcp4 is an IPv4 TCP SYN-ACK from 40000 to 443 with 10 bytes of data: 50 IP bytes.
func tcp4(src, dst netip.Addr, ttl uint8) []gopacket.SerializableLayer {
	ip := ipv4Layer(src, dst, ttl, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, SYN: true, ACK: true, Window: 1000}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	return []gopacket.SerializableLayer{ip, tcp, payloadBytes(10)}
}

// udp6 is an IPv6 UDP datagram from 5353 to 53 with 12 bytes of data: 60 IP bytes.
func udp6(src, dst netip.Addr, hops uint8) []gopacket.SerializableLayer {
	ip := ipv6Layer(src, dst, hops, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return []gopacket.SerializableLayer{ip, udp, payloadBytes(12)}
}

// udp4 is an IPv4 UDP datagram with n bytes of data (28+n IP bytes).
func udp4(src, dst netip.Addr, sport, dport uint16, n int) []gopacket.SerializableLayer {
	ip := ipv4Layer(src, dst, 64, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return []gopacket.SerializableLayer{ip, udp, payloadBytes(n)}
}

var (
	wantTCP4 = Packet{IPLen: 50, Src: out4a, Dst: out4b, Proto: 6, SrcPort: 40000, DstPort: 443, TTL: 64, TCPFlags: 0x12}
	wantUDP6 = Packet{IPLen: 60, Src: out6a, Dst: out6b, Proto: 17, SrcPort: 5353, DstPort: 53, TTL: 60}
	// The inner packets of tunnels.
	wantInTCP4 = Packet{IPLen: 50, Src: in4a, Dst: in4b, Proto: 6, SrcPort: 40000, DstPort: 443, TTL: 63, TCPFlags: 0x12, Tunnels: 1}
	wantInUDP6 = Packet{IPLen: 60, Src: in6a, Dst: in6b, Proto: 17, SrcPort: 5353, DstPort: 53, TTL: 59, Tunnels: 1}
)

func inTCP4() []gopacket.SerializableLayer { return tcp4(in4a, in4b, 63) }
func inUDP6() []gopacket.SerializableLayer { return udp6(in6a, in6b, 59) }

// throughTunnels returns p as seen through n tunnels.
func throughTunnels(p Packet, n uint8) Packet { p.Tunnels = n; return p }

type decodeCase struct {
	name  string
	link  LinkType
	data  []byte
	wire  int    // frame length on the wire when the capture cut it (0: len(data))
	want  Packet // with decapsulation (NewDecoder)
	outer Packet // without decapsulation; zero: the same as want
	// The payload expected in want, as a length: the IP length less the IP
	// and transport headers (see payloadLen) and ext, the bytes of IPv4
	// options or IPv6 extension headers in between. noPayload: none.
	ext       int
	noPayload bool
	// captured: the payload bytes the capture kept, where its snap length
	// cut the payload (0: all of it).
	captured int
}

func (c decodeCase) wantOuter() Packet {
	if c.outer.Src.IsValid() {
		return c.outer
	}
	return c.want
}

// validCases returns one frame for every link type, encapsulation and
// protocol the decoder handles, with the Packet expected from each.
func validCases(t testing.TB) []decodeCase {
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	sll := func(proto uint16) rawBytes {
		h := []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x0a, 0, 0}
		return binary.BigEndian.AppendUint16(h, proto)
	}
	sll2 := func(proto uint16) rawBytes {
		h := binary.BigEndian.AppendUint16(nil, proto)
		return append(h, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x0a, 0, 0)
	}
	mpls := func(label uint32, bottom bool) *layers.MPLS {
		return &layers.MPLS{Label: label, StackBottom: bottom, TTL: 255}
	}
	// A VXLAN or GENEVE outer packet: IPv4 UDP to the tunnel port.
	outerUDP4 := func(port uint16) []gopacket.SerializableLayer {
		ip := ipv4Layer(out4a, out4b, 64, layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: 51000, DstPort: layers.UDPPort(port)}
		_ = udp.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{ip, udp}
	}
	vxlan := []gopacket.SerializableLayer{&layers.VXLAN{ValidIDFlag: true, VNI: 42}}
	outerGRE4 := func(g *layers.GRE) []gopacket.SerializableLayer {
		return []gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 64, layers.IPProtocolGRE), g}
	}
	// Outer packets' expected values, by IP length.
	outer4 := func(proto uint8, iplen uint32, sport, dport uint16) Packet {
		return Packet{IPLen: iplen, Src: out4a, Dst: out4b, Proto: proto, SrcPort: sport, DstPort: dport, TTL: 64}
	}
	outer6 := func(proto uint8, iplen uint32) Packet {
		return Packet{IPLen: iplen, Src: out6a, Dst: out6b, Proto: proto, TTL: 60}
	}
	// ERSPAN type III header: version 2, VLAN 10, session 5, timestamp,
	// SGT, then the last byte with hardware ID, direction and O flag.
	erspan3 := func(o bool) rawBytes {
		h := rawBytes{0x20, 0x0a, 0x00, 0x05, 0, 0, 0x12, 0x34, 0, 0, 0, 0}
		if o {
			h[11] |= 1
			h = append(h, 0, 0, 0, 0, 0, 0, 0, 0) // platform specific subheader
		}
		return h
	}
	ipv4Options := func() []gopacket.SerializableLayer {
		ls := tcp4(out4a, out4b, 64)
		ls[0].(*layers.IPv4).Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}} // NOP NOP NOP EOL
		return ls
	}
	// IPv4 fragments of a UDP datagram: the first with the UDP header, a later one without.
	frag4 := func(offset uint16, mf bool) []gopacket.SerializableLayer {
		ls := udp4(out4a, out4b, 5000, 6000, 32)
		ip := ls[0].(*layers.IPv4)
		ip.FragOffset = offset
		if mf {
			ip.Flags = layers.IPv4MoreFragments
		}
		if offset != 0 {
			return []gopacket.SerializableLayer{ip, payloadBytes(24)}
		}
		return ls
	}
	v6ext := func() []gopacket.SerializableLayer {
		ip := ipv6Layer(out6a, out6b, 60, layers.IPProtocolIPv6HopByHop)
		// Hop-by-hop (8 bytes of PadN), routing type 2 (24 bytes), destination options (8).
		hbh := rawBytes{43, 0, 1, 4, 0, 0, 0, 0}
		rt := rawBytes{60, 2, 2, 1, 0, 0, 0, 0}
		rt = append(rt, in6a.AsSlice()...)
		dst := rawBytes{6, 0, 1, 4, 0, 0, 0, 0}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, PSH: true, ACK: true, Window: 1000}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{ip, hbh, rt, dst, tcp, payloadBytes(10)}
	}
	frag6 := func(offset uint16, mf bool) []gopacket.SerializableLayer {
		ip := ipv6Layer(out6a, out6b, 60, layers.IPProtocolIPv6Fragment)
		fh := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: offset, MoreFragments: mf, Identification: 99}
		if offset != 0 {
			return []gopacket.SerializableLayer{ip, fh, payloadBytes(16)}
		}
		return []gopacket.SerializableLayer{ip, fh, rawBytes{0x14, 0xe9, 0, 53, 0, 40, 0, 0}, payloadBytes(16)}
	}
	ah6 := func() []gopacket.SerializableLayer {
		ip := ipv6Layer(out6a, out6b, 60, layers.IPProtocolAH)
		// AH with a 12-byte ICV: payload length (6+12/4... in words minus 2) = 4.
		ah := rawBytes{6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		tcp := &layers.TCP{SrcPort: 179, DstPort: 50000, ACK: true, Window: 1000}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{ip, ah, tcp}
	}
	snap := buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), tcp4(out4a, out4b, 64))...)
	tso := buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), tcp4(out4a, out4b, 64))...)
	tso[14+2], tso[14+3] = 0, 0 // total length left to segmentation offload

	cases := []decodeCase{
		// Ethernet and the protocols above IP.
		{name: "eth_ipv4_tcp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "eth_ipv6_udp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6), udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "eth_ipv4_icmp_padded", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			[]gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 64, layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, payloadBytes(8)})...),
			want: outer4(1, 36, 0, 0)}, // padded to 60 bytes by the Ethernet layer
		{name: "eth_ipv6_icmpv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6),
			[]gopacket.SerializableLayer{ipv6Layer(out6a, out6b, 60, layers.IPProtocolICMPv6), rawBytes{128, 0, 0, 0, 0, 1, 0, 1}})...),
			want: outer6(58, 48)},
		{name: "eth_ipv4_sctp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			[]gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 64, layers.IPProtocolSCTP), &layers.SCTP{SrcPort: 2905, DstPort: 2906}})...),
			want: outer4(132, 32, 2905, 2906)},
		{name: "eth_ipv4_tcp_mss", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), func() []gopacket.SerializableLayer {
			ls := tcp4(out4a, out4b, 64)
			ls[1].(*layers.TCP).Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}
			return ls
		}())...), want: func() Packet { p := wantTCP4; p.IPLen += 4; return p }(), ext: 4}, // the payload starts at the data offset
		{name: "eth_ipv4_esp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			[]gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 64, layers.IPProtocolESP), rawBytes{0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 1}, payloadBytes(24)})...),
			want: Packet{IPLen: 52, Src: out4a, Dst: out4b, Proto: 50, TTL: 64}}, // the payload is the ESP header on
		{name: "eth_ipv4_ospf", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			[]gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 1, 89), payloadBytes(24)})...),
			want: Packet{IPLen: 44, Src: out4a, Dst: out4b, Proto: 89, TTL: 1}},
		{name: "eth_ipv4_options", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), ipv4Options())...),
			want: func() Packet { p := wantTCP4; p.IPLen += 4; return p }(), ext: 4},
		{name: "eth_ipv4_frag_first", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), frag4(0, true))...),
			want: Packet{IPLen: 60, Src: out4a, Dst: out4b, Proto: 17, SrcPort: 5000, DstPort: 6000, TTL: 64, Fragment: true}},
		{name: "eth_ipv4_frag_later", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), frag4(5, false))...),
			want: Packet{IPLen: 44, Src: out4a, Dst: out4b, Proto: 17, TTL: 64, Fragment: true}},
		{name: "eth_ipv6_ext_tcp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6), v6ext())...),
			want: Packet{IPLen: 40 + 40 + 20 + 10, Src: out6a, Dst: out6b, Proto: 6, SrcPort: 40000, DstPort: 443, TTL: 60, TCPFlags: 0x18}, ext: 40},
		{name: "eth_ipv6_frag_first", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6), frag6(0, true))...),
			want: Packet{IPLen: 40 + 8 + 8 + 16, Src: out6a, Dst: out6b, Proto: 17, SrcPort: 5353, DstPort: 53, TTL: 60, Fragment: true}, ext: 8},
		{name: "eth_ipv6_frag_later", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6), frag6(3, false))...),
			want: Packet{IPLen: 40 + 8 + 16, Src: out6a, Dst: out6b, Proto: 17, TTL: 60, Fragment: true}},
		{name: "eth_ipv6_atomic_frag", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6), frag6(0, false))...),
			want: Packet{IPLen: 40 + 8 + 8 + 16, Src: out6a, Dst: out6b, Proto: 17, SrcPort: 5353, DstPort: 53, TTL: 60}, ext: 8},
		{name: "eth_ipv6_ah_tcp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6), ah6())...),
			want: Packet{IPLen: 40 + 24 + 20, Src: out6a, Dst: out6b, Proto: 6, SrcPort: 179, DstPort: 50000, TTL: 60, TCPFlags: 0x10}, ext: 24},
		{name: "eth_ipv4_snaplen", link: LinkEthernet, data: snap[:14+20+6], wire: len(snap),
			want: func() Packet { p := wantTCP4; p.TCPFlags = 0; return p }(), noPayload: true},
		{name: "eth_ipv4_snaplen_payload", link: LinkEthernet, data: snap[:14+20+20+4], wire: len(snap),
			want: wantTCP4, captured: 4}, // the payload's length is the header's, its bytes what was captured
		{name: "eth_ipv4_tso_zero_length", link: LinkEthernet, data: tso,
			want: wantTCP4},
		{name: "eth_llc_snap_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(0x0034),
			[]gopacket.SerializableLayer{rawBytes{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "eth_pppoe_ipv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypePPPoESession),
			[]gopacket.SerializableLayer{rawBytes{0x11, 0, 0, 1, 0, 62, 0, 0x57}}, udp6(out6a, out6b, 60))...), want: wantUDP6},

		// VLAN tags and MPLS.
		{name: "eth_vlan_ipv4_tcp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeDot1Q),
			[]gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "eth_qinq_88a8_ipv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeQinQ),
			[]gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv6}},
			udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "eth_qinq_9100_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(0x9100),
			[]gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: 300, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}},
			tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "eth_mpls_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeMPLSUnicast),
			[]gopacket.SerializableLayer{mpls(1000, false), mpls(2000, true)}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "eth_mpls_multicast_ipv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeMPLSMulticast),
			[]gopacket.SerializableLayer{mpls(3000, true)}, udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "eth_vlan_mpls_pw_eth_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeDot1Q),
			[]gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeMPLSUnicast}, mpls(16, false), mpls(17, true), rawBytes{0, 0, 0, 1}},
			ethLayer(layers.EthernetTypeIPv4), tcp4(out4a, out4b, 64))...), want: wantTCP4},

		// Other link types.
		{name: "sll_ipv4_tcp", link: LinkSLL, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{sll(0x0800)}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "sll_vlan_ipv6_udp", link: LinkSLL, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{sll(0x8100), rawBytes{0, 10, 0x86, 0xdd}}, udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "sll2_ipv6_udp", link: LinkSLL2, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{sll2(0x86dd)}, udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "sll2_ipv4_tcp", link: LinkSLL2, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{sll2(0x0800)}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "raw_ipv4_tcp", link: LinkRaw, data: buildFrame(t, tcp4(out4a, out4b, 64)...), want: wantTCP4},
		{name: "raw_ipv6_udp", link: LinkRaw, data: buildFrame(t, udp6(out6a, out6b, 60)...), want: wantUDP6},
		{name: "rawold_ipv4_tcp", link: LinkRawOld, data: buildFrame(t, tcp4(out4a, out4b, 64)...), want: wantTCP4},
		{name: "rawold_ipv6_udp", link: LinkRawOld, data: buildFrame(t, udp6(out6a, out6b, 60)...), want: wantUDP6},
		{name: "ipv4_tcp", link: LinkIPv4, data: buildFrame(t, tcp4(out4a, out4b, 64)...), want: wantTCP4},
		{name: "ipv6_udp", link: LinkIPv6, data: buildFrame(t, udp6(out6a, out6b, 60)...), want: wantUDP6},
		{name: "ipv6_jumbogram", link: LinkIPv6, data: buildFrame(t, append(udp6(out6a, out6b, 60)[:2], payloadBytes(65530))...),
			want: Packet{IPLen: 40 + 8 + 8 + 65530, Src: out6a, Dst: out6b, Proto: 17, SrcPort: 5353, DstPort: 53, TTL: 60},
			ext:  8}, // gopacket adds the hop-by-hop jumbo payload option
		{name: "null_le_ipv4_tcp", link: LinkNull, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{rawBytes(le32(2))}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "null_be_ipv4_tcp", link: LinkNull, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{rawBytes(be32(2))}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "null_le_ipv6_darwin", link: LinkNull, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{rawBytes(le32(30))}, udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "null_be_ipv6_freebsd", link: LinkNull, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{rawBytes(be32(28))}, udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "null_le_ipv6_openbsd", link: LinkNull, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{rawBytes(le32(24))}, udp6(out6a, out6b, 60))...), want: wantUDP6},
		{name: "loop_ipv4_tcp", link: LinkLoop, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{rawBytes(be32(2))}, tcp4(out4a, out4b, 64))...), want: wantTCP4},
		{name: "loop_ipv6_udp", link: LinkLoop, data: buildFrame(t, joinLayers([]gopacket.SerializableLayer{rawBytes(be32(24))}, udp6(out6a, out6b, 60))...), want: wantUDP6},

		// Tunnels. Inner packets: 50 bytes (IPv4 TCP) or 60 (IPv6 UDP).
		{name: "vxlan_ipv4_tcp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), outerUDP4(4789), vxlan,
			innerEth(layers.EthernetTypeIPv4), inTCP4())...),
			want: wantInTCP4, outer: outer4(17, 20+8+8+14+50, 51000, 4789)},
		{name: "vxlan_vlan_ipv6_udp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), outerUDP4(4789), vxlan,
			innerEth(layers.EthernetTypeDot1Q), []gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv6}}, inUDP6())...),
			want: wantInUDP6, outer: outer4(17, 20+8+8+18+60, 51000, 4789)},
		{name: "geneve_options_ipv4_tcp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), outerUDP4(6081),
			[]gopacket.SerializableLayer{&layers.Geneve{Protocol: layers.EthernetTypeTransparentEthernetBridging, VNI: 9,
				Options: []*layers.GeneveOption{{Class: 0x0102, Type: 0x80, Length: 8, Data: []byte{1, 2, 3, 4}}}}},
			innerEth(layers.EthernetTypeIPv4), inTCP4())...),
			want: wantInTCP4, outer: outer4(17, 20+8+16+14+50, 51000, 6081)},
		{name: "geneve_ipv6_over_ipv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6),
			func() []gopacket.SerializableLayer {
				ip := ipv6Layer(out6a, out6b, 60, layers.IPProtocolUDP)
				udp := &layers.UDP{SrcPort: 51000, DstPort: 6081}
				_ = udp.SetNetworkLayerForChecksum(ip)
				return []gopacket.SerializableLayer{ip, udp, &layers.Geneve{Protocol: layers.EthernetTypeTransparentEthernetBridging, VNI: 9}}
			}(), innerEth(layers.EthernetTypeIPv6), inUDP6())...),
			want: wantInUDP6, outer: Packet{IPLen: 40 + 8 + 8 + 14 + 60, Src: out6a, Dst: out6b, Proto: 17, SrcPort: 51000, DstPort: 6081, TTL: 60}},
		{name: "gre_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{Protocol: layers.EthernetTypeIPv4}), inTCP4())...),
			want: wantInTCP4, outer: outer4(47, 20+4+50, 0, 0)},
		{name: "gre_csum_key_seq_ipv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{ChecksumPresent: true, KeyPresent: true, SeqPresent: true, Key: 5, Seq: 6, Protocol: layers.EthernetTypeIPv6}), inUDP6())...),
			want: wantInUDP6, outer: outer4(47, 20+16+60, 0, 0)},
		{name: "gre_teb_vlan_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{KeyPresent: true, Key: 1, Protocol: layers.EthernetTypeTransparentEthernetBridging}),
			innerEth(layers.EthernetTypeDot1Q), []gopacket.SerializableLayer{&layers.Dot1Q{VLANIdentifier: 9, Type: layers.EthernetTypeIPv4}}, inTCP4())...),
			want: wantInTCP4, outer: outer4(47, 20+8+18+50, 0, 0)},
		{name: "gre_mpls_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{Protocol: layers.EthernetTypeMPLSUnicast}), []gopacket.SerializableLayer{mpls(77, true)}, inTCP4())...),
			want: wantInTCP4, outer: outer4(47, 20+4+4+50, 0, 0)},
		{name: "erspan1_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{Protocol: layers.EthernetTypeERSPAN}), innerEth(layers.EthernetTypeIPv4), inTCP4())...),
			want: wantInTCP4, outer: outer4(47, 20+4+14+50, 0, 0)},
		{name: "erspan2_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{SeqPresent: true, Seq: 3, Protocol: layers.EthernetTypeERSPAN}),
			[]gopacket.SerializableLayer{&layers.ERSPANII{Version: 1, VLANIdentifier: 10, SessionID: 5, Index: 1}},
			innerEth(layers.EthernetTypeIPv4), inTCP4())...),
			want: wantInTCP4, outer: outer4(47, 20+8+8+14+50, 0, 0)},
		{name: "erspan3_ipv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{SeqPresent: true, Seq: 3, Protocol: 0x22eb}), []gopacket.SerializableLayer{erspan3(false)},
			innerEth(layers.EthernetTypeIPv6), inUDP6())...),
			want: wantInUDP6, outer: outer4(47, 20+8+12+14+60, 0, 0)},
		{name: "erspan3_subheader_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{SeqPresent: true, Seq: 3, Protocol: 0x22eb}), []gopacket.SerializableLayer{erspan3(true)},
			innerEth(layers.EthernetTypeIPv4), inTCP4())...),
			want: wantInTCP4, outer: outer4(47, 20+8+20+14+50, 0, 0)},
		{name: "ipip", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			[]gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 64, layers.IPProtocolIPv4)}, inTCP4())...),
			want: wantInTCP4, outer: outer4(4, 20+50, 0, 0)},
		{name: "ipv6_in_ipv4", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			[]gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 64, layers.IPProtocolIPv6)}, inUDP6())...),
			want: wantInUDP6, outer: outer4(41, 20+60, 0, 0)},
		{name: "ipv4_in_ipv6", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6),
			[]gopacket.SerializableLayer{ipv6Layer(out6a, out6b, 60, layers.IPProtocolIPv4)}, inTCP4())...),
			want: wantInTCP4, outer: outer6(4, 40+50)},
		{name: "ipv6_in_ipv6", link: LinkRaw, data: buildFrame(t, joinLayers(
			[]gopacket.SerializableLayer{ipv6Layer(out6a, out6b, 60, layers.IPProtocolIPv6)}, inUDP6())...),
			want: wantInUDP6, outer: outer6(41, 40+60)},
		{name: "vxlan_in_gre_ipip", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{Protocol: layers.EthernetTypeIPv4}), udp4(in4a, in4b, 52000, 4789, 0)[:2], vxlan,
			innerEth(layers.EthernetTypeIPv4), []gopacket.SerializableLayer{ipv4Layer(out4a, out4b, 10, layers.IPProtocolIPv4)}, inTCP4())...),
			want: throughTunnels(wantInTCP4, 3), outer: outer4(47, 20+4+20+8+8+14+20+50, 0, 0)},
		// Inner packets that do not decode leave the outer one in place.
		{name: "vxlan_arp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), outerUDP4(4789), vxlan,
			innerEth(layers.EthernetTypeARP), []gopacket.SerializableLayer{payloadBytes(28)})...),
			want: outer4(17, 20+8+8+60, 51000, 4789)}, // inner frame padded to 60
		{name: "vxlan_truncated_inner", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), outerUDP4(4789), vxlan,
			innerEth(layers.EthernetTypeIPv4), []gopacket.SerializableLayer{rawBytes{0x44, 0, 0, 50, 0, 0}})...),
			want: outer4(17, 20+8+8+60, 51000, 4789)}, // IHL 4: a bad inner header
		{name: "gre_v1_pptp", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			outerGRE4(&layers.GRE{Version: 1, KeyPresent: true, Protocol: 0x880b}), []gopacket.SerializableLayer{payloadBytes(8)})...),
			want: outer4(47, 20+8+8, 0, 0)},
		{name: "ipip_fragment_not_decapsulated", link: LinkEthernet, data: buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4),
			[]gopacket.SerializableLayer{func() *layers.IPv4 {
				ip := ipv4Layer(out4a, out4b, 64, layers.IPProtocolIPv4)
				ip.Flags = layers.IPv4MoreFragments
				return ip
			}()}, inTCP4())...),
			want: Packet{IPLen: 70, Src: out4a, Dst: out4b, Proto: 4, TTL: 64, Fragment: true}},
	}
	return withLinkFacts(cases)
}

// withLinkFacts fills in what every case expects beyond the IP and
// transport headers: the Ethernet addresses (decMacA to decMacB outside,
// decMacC to decMacD inside a tunnel), the outermost tunnel removed and its
// endpoints (those of the outer packet).
func withLinkFacts(cases []decodeCase) []decodeCase {
	for i := range cases {
		c := &cases[i]
		if c.outer.Src.IsValid() {
			c.outer = linkFacts(*c, c.outer)
		}
		c.want = linkFacts(*c, c.want)
	}
	return cases
}

func linkFacts(c decodeCase, p Packet) Packet {
	if c.link == LinkEthernet {
		p.SrcMAC, p.DstMAC, p.HasMAC = [6]byte(decMacA), [6]byte(decMacB), true
	}
	if p.Tunnels == 0 {
		return p
	}
	if bytes.Contains(c.data, decMacC) {
		p.InnerSrcMAC, p.InnerDstMAC, p.HasInnerMAC = [6]byte(decMacC), [6]byte(decMacD), true
	}
	p.OuterSrc, p.OuterDst = c.outer.Src, c.outer.Dst
	switch {
	case strings.HasPrefix(c.name, "vxlan_in_gre"), strings.HasPrefix(c.name, "gre_"):
		p.Encap = EncapGRE
	case strings.HasPrefix(c.name, "vxlan"):
		p.Encap = EncapVXLAN
	case strings.HasPrefix(c.name, "geneve"):
		p.Encap = EncapGENEVE
	case strings.HasPrefix(c.name, "erspan"):
		p.Encap = EncapERSPAN
	case strings.Contains(c.name, "ip"):
		p.Encap = EncapIPIP
	}
	return p
}

// payloadLen is the length of the payload expected in p, decoded from c, or
// -1 for none.
func payloadLen(c decodeCase, p Packet) int {
	if c.noPayload || p.Fragment && p.SrcPort == 0 && p.Proto != 4 {
		return -1 // a later fragment, or a cut transport header
	}
	n := int(p.IPLen) - 40 - c.ext
	if p.Src.Is4() {
		n = int(p.IPLen) - 20 - c.ext
	}
	switch p.Proto {
	case 6:
		n -= 20
	case 17, 136:
		n -= 8
	case 132:
		n -= 12
	}
	return n
}

// packetDiff says how got differs from want, which has no Payload: the
// payload is checked to be of the length payloadLen expects and to alias
// the frame; the rest field by field.
func packetDiff(c decodeCase, got, want Packet) string {
	n := payloadLen(c, want)
	kept := n
	if c.captured > 0 {
		kept = c.captured
	}
	switch {
	case n < 0 && (got.Payload != nil || got.PayloadLen != 0):
		return fmt.Sprintf("payload %x of length %d, want none", got.Payload, got.PayloadLen)
	case n >= 0 && (got.Payload == nil || len(got.Payload) != kept || int(got.PayloadLen) != n):
		return fmt.Sprintf("payload of %d bytes (nil: %v) and length %d, want %d of %d", len(got.Payload), got.Payload == nil, got.PayloadLen, kept, n)
	case n > 0 && !aliases(got.Payload, c.data):
		return "payload does not alias the frame"
	case kept > 0 && (want.Proto == 6 || want.Proto == 17) && want.SrcPort != 51000 && !bytes.Equal(got.Payload, payloadBytes(kept)):
		return fmt.Sprintf("payload %x, want %x", got.Payload, []byte(payloadBytes(kept)))
	}
	got.Payload, got.PayloadLen = nil, 0
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("\n got %+v\nwant %+v", got, want)
	}
	return ""
}

// aliases reports whether b lies within frame.
func aliases(b, frame []byte) bool {
	if len(b) == 0 || len(frame) == 0 {
		return false
	}
	start, end := uintptr(unsafe.Pointer(&frame[0])), uintptr(unsafe.Pointer(&frame[len(frame)-1]))
	p, q := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
	return p >= start && q <= end
}

func TestDecodeValid(t *testing.T) {
	for _, c := range validCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range []struct {
				dec  *Decoder
				want Packet
			}{{NewDecoder(), c.want}, {&Decoder{}, c.wantOuter()}} {
				p := Packet{Timestamp: 12345, WireLen: 999}
				if r := d.dec.Decode(c.link, c.data, &p); r != Decoded {
					t.Fatalf("Decapsulate=%v: result %v, want decoded", d.dec.Decapsulate, r)
				}
				want := d.want
				want.Timestamp, want.WireLen = 12345, 999 // left as they were
				if diff := packetDiff(c, p, want); diff != "" {
					t.Errorf("Decapsulate=%v: %s", d.dec.Decapsulate, diff)
				}
			}
		})
	}
}

func TestDecodeFrame(t *testing.T) {
	c := validCases(t)[0]
	f := Frame{Data: c.data, Timestamp: 1700000000123456789, WireLen: 1514, Link: c.link}
	p := Packet{SrcPort: 1, Tunnels: 3} // stale values are overwritten
	if r := NewDecoder().DecodeFrame(&f, &p); r != Decoded {
		t.Fatalf("result %v", r)
	}
	want := c.want
	want.Timestamp, want.WireLen = f.Timestamp, f.WireLen
	if diff := packetDiff(c, p, want); diff != "" {
		t.Error(diff)
	}
}

// TestDecodeMalformed checks the exact reason given for broken frames.
func TestDecodeMalformed(t *testing.T) {
	full := buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv4), tcp4(out4a, out4b, 64))...)
	full6 := buildFrame(t, joinLayers(ethLayer(layers.EthernetTypeIPv6), udp6(out6a, out6b, 60))...)
	with := func(b []byte, f func(b []byte)) []byte {
		b = append([]byte(nil), b...)
		f(b)
		return b
	}
	tags := func(n int, t uint16) []byte {
		b := append([]byte(nil), full[:12]...)
		for range n {
			b = binary.BigEndian.AppendUint16(b, t)
			b = append(b, 0, 1)
		}
		return append(b, full[12:]...)
	}
	labels := func(n int) []byte {
		b := binary.BigEndian.AppendUint16(append([]byte(nil), full[:12]...), 0x8847)
		for range n {
			b = append(b, 0, 1, 0, 64) // never the bottom of the stack
		}
		return append(b, full[14:]...)
	}
	// Nine destination options headers before UDP.
	manyExt := func() []byte {
		b := append([]byte(nil), full6[:14+40]...)
		b[14+6] = 60
		for i := range 9 {
			next := byte(60)
			if i == 8 {
				next = 17
			}
			b = append(b, next, 0, 1, 4, 0, 0, 0, 0)
		}
		b = append(b, full6[14+40:]...)
		binary.BigEndian.PutUint16(b[14+4:], uint16(len(b)-14-40))
		return b
	}
	tests := []struct {
		name string
		link LinkType
		data []byte
		want Result
	}{
		{"empty", LinkEthernet, nil, TruncatedLink},
		{"empty raw", LinkRaw, []byte{}, TruncatedLink},
		{"short ethernet", LinkEthernet, full[:13], TruncatedLink},
		{"short sll", LinkSLL, full[:15], TruncatedLink},
		{"short sll2", LinkSLL2, full[:19], TruncatedLink},
		{"short null", LinkNull, []byte{2, 0, 0}, TruncatedLink},
		{"short vlan tag", LinkEthernet, tags(1, 0x8100)[:16], TruncatedLink},
		{"short mpls", LinkEthernet, labels(1)[:17], TruncatedLink},
		{"short llc", LinkEthernet, with(full[:20], func(b []byte) { b[12], b[13] = 0, 40 }), TruncatedLink},
		{"short ipv4", LinkEthernet, full[:14+19], TruncatedIPv4},
		{"short ipv4 options", LinkEthernet, with(full[:14+22], func(b []byte) { b[14] = 0x46 }), TruncatedIPv4},
		{"short ipv6", LinkEthernet, full6[:14+39], TruncatedIPv6},
		{"short ipv6 extension", LinkEthernet, with(full6[:14+40+4], func(b []byte) { b[14+6] = 0 }), TruncatedIPv6},
		{"ipv6 extension beyond payload length", LinkEthernet, with(full6, func(b []byte) {
			b[14+6] = 0
			b[14+4], b[14+5] = 0, 4 // four payload bytes hold no 8-byte header
		}), TruncatedIPv6},
		{"ipv6 version in ipv4 ethertype", LinkEthernet, with(full, func(b []byte) { b[14] = 0x65 }), BadIPVersion},
		{"ipv4 version in ipv6 ethertype", LinkEthernet, with(full6, func(b []byte) { b[14] = 0x45 }), BadIPVersion},
		{"raw version 5", LinkRaw, with(full[14:], func(b []byte) { b[0] = 0x55 }), BadIPVersion},
		{"ipv6 on ipv4 link", LinkIPv4, full6[14:], BadIPVersion},
		{"ipv4 on ipv6 link", LinkIPv6, full[14:], BadIPVersion},
		{"loop family mismatch", LinkLoop, append([]byte{0, 0, 0, 2}, full6[14:]...), BadIPVersion},
		{"ihl 4", LinkEthernet, with(full, func(b []byte) { b[14] = 0x44 }), BadIPv4Header},
		{"total length below header", LinkEthernet, with(full, func(b []byte) { b[14+2], b[14+3] = 0, 19 }), BadIPv4Header},
		{"total length below options", LinkEthernet, with(full, func(b []byte) { b[14] = 0x46; b[14+2], b[14+3] = 0, 22 }), BadIPv4Header},
		{"tcp beyond total length", LinkEthernet, with(full, func(b []byte) { b[14+2], b[14+3] = 0, 20+19 }), TruncatedTransport},
		{"udp beyond payload length", LinkEthernet, with(full6, func(b []byte) { b[14+4], b[14+5] = 0, 7 }), TruncatedTransport},
		{"nine vlan tags", LinkEthernet, tags(9, 0x8100), TooManyHeaders},
		{"nine mpls labels", LinkEthernet, labels(9), TooManyHeaders},
		{"nine ipv6 extension headers", LinkEthernet, manyExt(), TooManyHeaders},
		{"unknown link", LinkType(147), full, UnsupportedLink},
		// Not IP, but not malformed.
		{"arp", LinkEthernet, with(full, func(b []byte) { b[12], b[13] = 0x08, 0x06 }), NotIP},
		{"802.3 without snap", LinkEthernet, with(full, func(b []byte) { b[12], b[13] = 0, 40; b[14] = 0x42 }), NotIP},
		{"null unknown family", LinkNull, append([]byte{7, 0, 0, 0}, full[14:]...), NotIP},
		{"mpls to neither", LinkEthernet, with(labels(1), func(b []byte) { b[15] |= 1; b[18] = 0x95 }), NotIP},
		{"pppoe lcp", LinkEthernet, with(full, func(b []byte) { b[12], b[13] = 0x88, 0x64; b[20], b[21] = 0xc0, 0x21 }), NotIP},
	}
	// These hold with and without decapsulation: malformed outer packets
	// are never rescued by what is inside them.
	for _, dec := range []*Decoder{NewDecoder(), {}} {
		for _, tt := range tests {
			var p Packet
			if got := dec.Decode(tt.link, tt.data, &p); got != tt.want {
				t.Errorf("%s (Decapsulate=%v): got %v, want %v", tt.name, dec.Decapsulate, got, tt.want)
			}
			if tt.want != NotIP && !tt.want.Malformed() {
				t.Errorf("%s: %v should be malformed", tt.name, tt.want)
			}
		}
	}
}

// TestDecodeTruncatedEverywhere cuts every valid frame at every length:
// the decoder must neither panic nor report anything but a decoded packet
// or a malformed frame, and a packet whose IP header survived the cut keeps
// the header's addresses and length.
func TestDecodeTruncatedEverywhere(t *testing.T) {
	for _, c := range validCases(t) {
		for _, dec := range []*Decoder{NewDecoder(), {}} {
			for n := range len(c.data) {
				var p Packet
				r := dec.Decode(c.link, c.data[:n], &p)
				if r != Decoded && !r.Malformed() {
					t.Fatalf("%s cut at %d (Decapsulate=%v): %v", c.name, n, dec.Decapsulate, r)
				}
				// The zero-length cases take their length from the capture.
				if r == Decoded && !dec.Decapsulate && !strings.Contains(c.name, "zero_length") && c.name != "ipv6_jumbogram" {
					want := c.wantOuter()
					if p.Src != want.Src || p.Dst != want.Dst || p.IPLen != want.IPLen || p.Proto != want.Proto {
						t.Fatalf("%s cut at %d: got %+v, want the header's %+v", c.name, n, p, want)
					}
				}
			}
		}
	}
}

func TestResultNames(t *testing.T) {
	seen := map[string]bool{}
	for r := range NumResults {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] {
			t.Errorf("Result %d has name %q", r, s)
		}
		seen[s] = true
		if r.Malformed() != (r != Decoded && r != NotIP) {
			t.Errorf("%v.Malformed() = %v", r, r.Malformed())
		}
	}
	if TruncatedIPv4.String() != "truncated_ipv4" || NumResults.String() != "unknown" {
		t.Errorf("names: %v %v", TruncatedIPv4, NumResults)
	}
}

func TestDecodeAllocs(t *testing.T) {
	dec := NewDecoder()
	for _, c := range validCases(t) {
		var p Packet
		if n := testing.AllocsPerRun(100, func() { dec.Decode(c.link, c.data, &p) }); n != 0 {
			t.Errorf("%s: %v allocs per Decode", c.name, n)
		}
	}
}

// TestDecodeFixtures checks the pcap fixtures in testdata/decode, which hold
// the valid frames above, one file per link type, against the same
// expectations; -update-decode rewrites them first.
func TestDecodeFixtures(t *testing.T) {
	cases := validCases(t)
	byLink := map[LinkType][]decodeCase{}
	var order []LinkType
	for _, c := range cases {
		if byLink[c.link] == nil {
			order = append(order, c.link)
		}
		byLink[c.link] = append(byLink[c.link], c)
	}
	for _, link := range order {
		path := filepath.Join("testdata", "decode", fixtureName(link))
		if *updateDecode {
			writeFixture(t, path, link, byLink[link])
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		if LinkType(r.LinkType()) != link {
			t.Errorf("%s: link type %d", path, r.LinkType())
		}
		dec := NewDecoder()
		for i := 0; ; i++ {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				if i != len(byLink[link]) {
					t.Errorf("%s: %d frames, want %d", path, i, len(byLink[link]))
				}
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if i >= len(byLink[link]) {
				t.Fatalf("%s: more frames than cases", path)
			}
			c := byLink[link][i]
			f := Frame{Data: data, Link: link, WireLen: uint32(ci.Length), Timestamp: ci.Timestamp.UnixNano()}
			var p Packet
			if res := dec.DecodeFrame(&f, &p); res != Decoded {
				t.Errorf("%s frame %d (%s): %v", path, i, c.name, res)
			}
			want := c.want
			want.Timestamp, want.WireLen = f.Timestamp, f.WireLen
			c.data = data // the payload aliases the frame read from the file
			if diff := packetDiff(c, p, want); diff != "" {
				t.Errorf("%s frame %d (%s): %s", path, i, c.name, diff)
			}
		}
		_ = f.Close()
	}
}

func fixtureName(link LinkType) string {
	switch link {
	case LinkEthernet:
		return "ethernet.pcap"
	case LinkSLL:
		return "sll.pcap"
	case LinkSLL2:
		return "sll2.pcap"
	case LinkRaw:
		return "raw.pcap"
	case LinkRawOld:
		return "raw12.pcap"
	case LinkIPv4:
		return "ipv4.pcap"
	case LinkIPv6:
		return "ipv6.pcap"
	case LinkNull:
		return "null.pcap"
	case LinkLoop:
		return "loop.pcap"
	}
	panic("no fixture name for link type")
}

func writeFixture(t *testing.T, path string, link LinkType, cases []decodeCase) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(262144, layers.LinkType(link)); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		wire := c.wire
		if wire == 0 {
			wire = len(c.data)
		}
		// Fixed timestamps, one millisecond apart, keep the files reproducible.
		ci := gopacket.CaptureInfo{Timestamp: fixtureEpoch.Add(fixtureStep * time.Duration(i)), CaptureLength: len(c.data), Length: wire}
		if err := w.WritePacket(ci, c.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

var fixtureEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const fixtureStep = time.Millisecond

// TestDecodeSharedCaptures checks the byte definition on real captures,
// kept out of the repository, in the folder JURISMON_CAPTURES_DIR names
// (e.g. JURISMON_CAPTURES_DIR=/work/shared/captures): packets and IP bytes
// without decapsulation must be what tshark counts (ip.len, or ipv6.plen +
// 40, per frame with an IP header), and for gnutella what the captures'
// notes quote (3882 packets, 523142 bytes).
func TestDecodeSharedCaptures(t *testing.T) {
	dir := os.Getenv("JURISMON_CAPTURES_DIR")
	if dir == "" {
		t.Skip("JURISMON_CAPTURES_DIR is not set: no real captures to check")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("JURISMON_CAPTURES_DIR: %v", err)
	}
	tshark, _ := exec.LookPath("tshark")
	for _, name := range []string{"ndpi_gnutella.pcap", "ndpi_sites.pcapng", "ndpi_KakaoTalk_talk.pcap", "mercury_emix.pcap"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			packets, bytes, results := decodeFile(t, path)
			t.Logf("%s: %d packets, %d IP bytes; results %v", name, packets, bytes, results)
			if name == "ndpi_gnutella.pcap" && (packets != 3882 || bytes != 523142) {
				t.Errorf("gnutella: %d packets, %d bytes; want 3882 and 523142", packets, bytes)
			}
			if tshark == "" {
				return
			}
			out, err := exec.Command(tshark, "-n", "-r", path,
				"--disable-protocol", "icmp", "--disable-protocol", "icmpv6", "--disable-protocol", "gtp", "--disable-protocol", "teredo",
				"--disable-protocol", "gre", "--disable-protocol", "vxlan", "--disable-protocol", "geneve", "--disable-protocol", "erspan", "--disable-protocol", "l2tp",
				"-Y", "ip or ipv6", "-T", "fields", "-E", "occurrence=f", "-e", "ip.len", "-e", "ipv6.plen").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			var tp, tb uint64
			for line := range strings.Lines(string(out)) {
				f := strings.Split(strings.TrimRight(line, "\n"), "\t")
				tp++
				if n, err := strconv.ParseUint(f[0], 10, 32); err == nil {
					tb += n
				} else if n, err := strconv.ParseUint(f[1], 10, 32); err == nil {
					tb += n + 40
				} else {
					t.Fatalf("tshark line %q", line)
				}
			}
			if packets != tp || bytes != tb {
				t.Errorf("jurismon %d packets %d bytes; tshark %d packets %d bytes", packets, bytes, tp, tb)
			}
		})
	}
}

// decodeFile decodes a pcap or pcapng file without decapsulation and
// returns the decoded packets, their IP bytes and the count of each result.
func decodeFile(t *testing.T, path string) (packets, bytes uint64, results [NumResults]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var read func() ([]byte, LinkType, error)
	if strings.HasSuffix(path, ".pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		read = func() ([]byte, LinkType, error) {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				return nil, 0, err
			}
			intf, err := r.Interface(ci.InterfaceIndex)
			return data, LinkType(intf.LinkType), err
		}
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		read = func() ([]byte, LinkType, error) {
			data, _, err := r.ReadPacketData()
			return data, LinkType(r.LinkType()), err
		}
	}
	dec := &Decoder{}
	for {
		data, link, err := read()
		if errors.Is(err, io.EOF) {
			return packets, bytes, results
		}
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		r := dec.Decode(link, data, &p)
		results[r]++
		if r == Decoded {
			packets++
			bytes += uint64(p.IPLen)
		}
	}
}
