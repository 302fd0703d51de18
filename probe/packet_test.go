package probe

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	agent4  = netip.MustParseAddr("192.0.2.1")
	router4 = netip.MustParseAddr("198.51.100.7")
	dst4    = netip.MustParseAddr("203.0.113.9")
	agent6  = netip.MustParseAddr("2001:db8:1::1")
	router6 = netip.MustParseAddr("2001:db8:2::2")
	dst6    = netip.MustParseAddr("2001:db8:ff::9")
)

func serialize(t testing.TB, l ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, l...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// wire returns the probe as it travels (with its IP header for IPv6 too).
func wire(t testing.TB, f flow, ttl uint8, ident uint16) []byte {
	t.Helper()
	pkt, err := newBuilder().build(f, ttl, ident)
	if err != nil {
		t.Fatal(err)
	}
	pkt = append([]byte(nil), pkt...)
	if f.dst.Is4() {
		return pkt
	}
	proto := map[Method]layers.IPProtocol{MethodUDP: layers.IPProtocolUDP, MethodTCP: layers.IPProtocolTCP, MethodICMP: layers.IPProtocolICMPv6}[f.method]
	ip := &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: proto, SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
	return serialize(t, ip, gopacket.Payload(pkt))
}

// icmpError builds the error a router sends back, quoting quote bytes of
// the probe (28 = IPv4 header + 8, as RFC 792 asks; more for RFC 1812).
func icmpError(t testing.TB, from, to netip.Addr, probe []byte, quote int, typ uint8) []byte {
	t.Helper()
	if quote > len(probe) {
		quote = len(probe)
	}
	if from.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: from.AsSlice(), DstIP: to.AsSlice()}
		ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0)}
		return serialize(t, ip, ic, gopacket.Payload(probe[:quote]))
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: from.AsSlice(), DstIP: to.AsSlice()}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	// The raw ICMPv6 socket delivers no IP header: drop the 40 bytes.
	return serialize(t, ip, ic, gopacket.Payload(append(make([]byte, 4), probe[:quote]...)))[40:]
}

func TestReplyMatching(t *testing.T) {
	type tc struct {
		name  string
		f     flow
		quote int
	}
	var cases []tc
	for _, fam := range []struct {
		src, dst netip.Addr
		quote    int
	}{{agent4, dst4, 28}, {agent4, dst4, 576}, {agent6, dst6, 48}, {agent6, dst6, 1232}} {
		for _, m := range []flow{
			{method: MethodUDP, srcPort: 40001, dstPort: 33434},
			{method: MethodTCP, srcPort: 40002, dstPort: 443},
			{method: MethodICMP, icmpSum: 0x8123},
		} {
			m.src, m.dst = fam.src, fam.dst
			cases = append(cases, tc{m.method.String() + "/" + fam.dst.String() + "/quote" + strconv.Itoa(fam.quote), m, fam.quote})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p parser
			from := router4
			if c.f.dst.Is6() {
				from = router6
			}
			for _, ident := range []uint16{0x0101, 0x0502, 0x1e01} {
				ttl := uint8(ident >> 8)
				probe := wire(t, c.f, ttl, ident)
				var got reply
				var ok bool
				for _, kind := range []replyKind{replyTimeExceeded, replyUnreachable} {
					typ := map[bool]map[replyKind]uint8{
						true:  {replyTimeExceeded: layers.ICMPv4TypeTimeExceeded, replyUnreachable: layers.ICMPv4TypeDestinationUnreachable},
						false: {replyTimeExceeded: layers.ICMPv6TypeTimeExceeded, replyUnreachable: layers.ICMPv6TypeDestinationUnreachable},
					}[c.f.dst.Is4()][kind]
					pkt := icmpError(t, from, c.f.src, probe, c.quote, typ)
					if c.f.dst.Is4() {
						got, ok = p.parseICMPv4(pkt)
					} else {
						got, ok = p.parseICMPv6(from, pkt)
					}
					if !ok || got.kind != kind || got.from != from || got.key != c.f.key() || got.ident != ident {
						t.Fatalf("ident %#x %v: got %+v ok=%v, want key %+v", ident, kind, got, ok, c.f.key())
					}
				}
				// The destination's own answer.
				switch c.f.method {
				case MethodICMP:
					pkt := echoReply(t, c.f, probe)
					if c.f.dst.Is4() {
						got, ok = p.parseICMPv4(pkt)
					} else {
						got, ok = p.parseICMPv6(c.f.dst, pkt)
					}
					if !ok || got.kind != replyEcho || got.key != c.f.key() || got.ident != ident {
						t.Fatalf("echo reply %#x: got %+v ok=%v", ident, got, ok)
					}
				case MethodTCP:
					for _, rst := range []bool{false, true} {
						pkt := tcpAnswer(t, c.f, tcpSeq(ident), rst)
						if c.f.dst.Is4() {
							got, ok = p.parseTCPv4(pkt)
						} else {
							got, ok = p.parseTCPv6(c.f.dst, pkt)
						}
						if !ok || got.kind != replyTCP || got.key != c.f.key() || got.ident != ident {
							t.Fatalf("tcp rst=%v %#x: got %+v ok=%v", rst, ident, got, ok)
						}
					}
				}
			}
		})
	}
}

func echoReply(t testing.TB, f flow, probe []byte) []byte {
	t.Helper()
	if f.dst.Is4() {
		var req layers.ICMPv4
		if err := req.DecodeFromBytes(probe[20:], gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: f.dst.AsSlice(), DstIP: f.src.AsSlice()}
		return serialize(t, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: req.Id, Seq: req.Seq}, gopacket.Payload(req.Payload))
	}
	body := append([]byte(nil), probe[40:]...)
	body[0] = layers.ICMPv6TypeEchoReply
	return body
}

func tcpAnswer(t testing.TB, f flow, seq uint32, rst bool) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: layers.TCPPort(f.dstPort), DstPort: layers.TCPPort(f.srcPort), Ack: seq + 1, ACK: true, SYN: !rst, RST: rst, Window: 100}
	if f.dst.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: f.dst.AsSlice(), DstIP: f.src.AsSlice()}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		return serialize(t, ip, tcp)
	}
	ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolTCP, SrcIP: f.dst.AsSlice(), DstIP: f.src.AsSlice()}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, tcp)
}

// TestFlowIdentifierConstant checks the Paris property: what load
// balancers hash stays the same while the probe identity changes.
func TestFlowIdentifierConstant(t *testing.T) {
	for _, fam := range [][2]netip.Addr{{agent4, dst4}, {agent6, dst6}} {
		for _, f := range []flow{
			{method: MethodUDP, srcPort: 40001, dstPort: 33434},
			{method: MethodTCP, srcPort: 40002, dstPort: 443},
			{method: MethodICMP, icmpSum: 0x8123},
		} {
			f.src, f.dst = fam[0], fam[1]
			var first []byte
			for ident := uint16(0x0101); ident < 0x2001; ident += 0x0101 {
				pkt := wire(t, f, uint8(ident>>8), ident)
				ipLen := 20
				if f.dst.Is6() {
					ipLen = 40
				}
				l4 := pkt[ipLen:]
				// UDP/TCP: the ports; ICMP: type, code and checksum.
				head := l4[:4]
				if first == nil {
					first = append([]byte(nil), head...)
				} else if string(head) != string(first) {
					t.Fatalf("%v %v ident %#x: flow bytes %x, first %x", f.method, f.dst, ident, head, first)
				}
				if f.method == MethodUDP {
					if got := binary.BigEndian.Uint16(l4[6:]); got != ident {
						t.Fatalf("UDP checksum %#x, want the identity %#x", got, ident)
					}
					// And the checksum is right: gopacket verifies nothing,
					// so recompute it through a fresh serialization.
					if !udpChecksumOK(t, f, pkt[ipLen:]) {
						t.Fatalf("UDP checksum %#x is wrong", ident)
					}
				}
			}
		}
	}
}

func udpChecksumOK(t *testing.T, f flow, l4 []byte) bool {
	var u layers.UDP
	if err := u.DecodeFromBytes(l4, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	want := u.Checksum
	var net gopacket.NetworkLayer = &layers.IPv4{Version: 4, Protocol: layers.IPProtocolUDP, SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
	if f.dst.Is6() {
		net = &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolUDP, SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
	}
	u2 := &layers.UDP{SrcPort: u.SrcPort, DstPort: u.DstPort}
	_ = u2.SetNetworkLayerForChecksum(net)
	serialize(t, u2, gopacket.Payload(u.Payload))
	return u2.Checksum == want
}

func TestBuildRejects(t *testing.T) {
	b := newBuilder()
	for name, c := range map[string]struct {
		f     flow
		ident uint16
	}{
		"mixed families": {flow{method: MethodUDP, src: agent4, dst: dst6}, 0x101},
		"zero identity":  {flow{method: MethodUDP, src: agent4, dst: dst4}, 0},
		"ones identity":  {flow{method: MethodUDP, src: agent4, dst: dst4}, 0xffff},
		"no method":      {flow{src: agent4, dst: dst4}, 0x101},
	} {
		if _, err := b.build(c.f, 1, c.ident); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseGarbage(t *testing.T) {
	var p parser
	for _, pkt := range [][]byte{nil, {0x45}, make([]byte, 20), make([]byte, 64)} {
		if _, ok := p.parseICMPv4(pkt); ok {
			t.Errorf("parseICMPv4(%x) matched", pkt)
		}
		if _, ok := p.parseICMPv6(router6, pkt); ok {
			t.Errorf("parseICMPv6(%x) matched", pkt)
		}
		if _, ok := p.parseTCPv4(pkt); ok {
			t.Errorf("parseTCPv4(%x) matched", pkt)
		}
	}
}
