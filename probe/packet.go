package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// flow is what stays constant across the probes of one trace, so that
// routers that balance per flow (hashing the 5-tuple, or for ICMP the first
// four bytes: type, code and checksum) send every probe down one path, as
// Paris traceroute does.
type flow struct {
	method   Method
	src, dst netip.Addr
	srcPort  uint16 // UDP and TCP
	dstPort  uint16 // UDP and TCP
	// icmpSum is the constant ones'-complement sum of the echo identifier
	// and sequence number: it keeps the ICMP checksum constant while the
	// sequence number carries the probe identity.
	icmpSum uint16
}

// key identifies the trace of a probe in replies: the destination and the
// flow field that the reply quotes or echoes back.
func (f flow) key() flowKey {
	k := flowKey{dst: f.dst, method: f.method}
	if f.method == MethodICMP {
		k.id = f.icmpSum
	} else {
		k.id = f.srcPort
	}
	return k
}

type flowKey struct {
	dst    netip.Addr
	method Method
	id     uint16
}

// The identity of a probe (unique within a trace) is carried by a field
// outside the flow identifier, as Paris traceroute does:
//   - UDP: the checksum, set through two payload bytes chosen to produce it;
//   - TCP: the upper 16 bits of the sequence number (a SYN-ACK or RST
//     acknowledges seq+1, so it comes back too);
//   - ICMP echo: the sequence number, the identifier compensating so that
//     the checksum stays constant.
//
// IPv4 probes carry it in the IP ID field as well.

// onesAdd is 16-bit ones'-complement addition.
func onesAdd(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s&0xffff + s>>16)
}

// tcpSeq puts a probe identity in a TCP sequence number.
func tcpSeq(ident uint16) uint32 { return uint32(ident)<<16 | 0x4a4d } // "JM"

// builder serializes probes; not safe for concurrent use.
type builder struct {
	buf  gopacket.SerializeBuffer
	opts gopacket.SerializeOptions
}

func newBuilder() *builder {
	return &builder{
		buf:  gopacket.NewSerializeBuffer(),
		opts: gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
}

// build returns the probe with the given TTL and identity. For IPv4 the
// bytes are a whole IP packet (sent on an IP_HDRINCL socket); for IPv6 they
// start at the transport header and the kernel adds the IP header, with the
// hop limit given per packet. The slice is valid until the next call.
func (b *builder) build(f flow, ttl uint8, ident uint16) ([]byte, error) {
	if !f.src.IsValid() || !f.dst.IsValid() || f.src.Is4() != f.dst.Is4() {
		return nil, fmt.Errorf("probe: source %v and destination %v are not of one family", f.src, f.dst)
	}
	if ident == 0 || ident == 0xffff {
		// Both spell a UDP checksum that cannot be sent as itself.
		return nil, fmt.Errorf("probe: identity %#x is reserved", ident)
	}
	var (
		ip4 *layers.IPv4
		ip6 *layers.IPv6
		net gopacket.NetworkLayer
	)
	if f.dst.Is4() {
		ip4 = &layers.IPv4{
			Version: 4, IHL: 5, TTL: ttl, Id: ident, Flags: layers.IPv4DontFragment,
			SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice(),
		}
		net = ip4
	} else {
		ip6 = &layers.IPv6{Version: 6, HopLimit: ttl, SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
		net = ip6
	}
	var l4 []gopacket.SerializableLayer
	switch f.method {
	case MethodUDP:
		ip4proto(ip4, ip6, layers.IPProtocolUDP)
		u := &layers.UDP{SrcPort: layers.UDPPort(f.srcPort), DstPort: layers.UDPPort(f.dstPort)}
		if err := u.SetNetworkLayerForChecksum(net); err != nil {
			return nil, err
		}
		// First pass with a zero payload word gives the checksum c0;
		// the word w = ^ident + c0 then makes the checksum equal ident.
		payload := make([]byte, 2)
		if err := b.serialize(ip4, u, gopacket.Payload(payload)); err != nil {
			return nil, err
		}
		c0 := u.Checksum
		binary.BigEndian.PutUint16(payload, onesAdd(^ident, c0))
		l4 = []gopacket.SerializableLayer{u, gopacket.Payload(payload)}
	case MethodTCP:
		ip4proto(ip4, ip6, layers.IPProtocolTCP)
		t := &layers.TCP{
			SrcPort: layers.TCPPort(f.srcPort), DstPort: layers.TCPPort(f.dstPort),
			Seq: tcpSeq(ident), SYN: true, Window: 65535,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}},
		}
		if err := t.SetNetworkLayerForChecksum(net); err != nil {
			return nil, err
		}
		l4 = []gopacket.SerializableLayer{t}
	case MethodICMP:
		id := onesAdd(f.icmpSum, ^ident) // id + ident == icmpSum
		if ip4 != nil {
			ip4.Protocol = layers.IPProtocolICMPv4
			l4 = []gopacket.SerializableLayer{
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: ident},
				gopacket.Payload(probePayload[:]),
			}
		} else {
			ip6.NextHeader = layers.IPProtocolICMPv6
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
			// The kernel computes ICMPv6 checksums on raw sockets; this one
			// is the same value, set so tests can read it.
			if err := ic.SetNetworkLayerForChecksum(ip6); err != nil {
				return nil, err
			}
			l4 = []gopacket.SerializableLayer{ic, &layers.ICMPv6Echo{Identifier: id, SeqNumber: ident}, gopacket.Payload(probePayload[:])}
		}
	default:
		return nil, fmt.Errorf("probe: unknown method %d", f.method)
	}
	if err := b.serialize(ip4, l4...); err != nil {
		return nil, err
	}
	return b.buf.Bytes(), nil
}

// probePayload pads probes to a recognisable size.
var probePayload = [8]byte{'j', 'u', 'r', 'i', 's', 'm', 'o', 'n'}

func ip4proto(ip4 *layers.IPv4, ip6 *layers.IPv6, p layers.IPProtocol) {
	if ip4 != nil {
		ip4.Protocol = p
	} else {
		ip6.NextHeader = p
	}
}

func (b *builder) serialize(ip4 *layers.IPv4, l ...gopacket.SerializableLayer) error {
	if ip4 != nil {
		l = append([]gopacket.SerializableLayer{ip4}, l...)
	}
	if err := gopacket.SerializeLayers(b.buf, b.opts, l...); err != nil {
		return fmt.Errorf("probe: serialize: %w", err)
	}
	return nil
}

type replyKind uint8

const (
	replyTimeExceeded replyKind = iota + 1
	replyUnreachable
	replyEcho // ICMP echo reply
	replyTCP  // SYN-ACK or RST
)

// reply is a received packet matched back to the probe that caused it.
type reply struct {
	kind  replyKind
	from  netip.Addr // who answered
	key   flowKey    // the trace it belongs to
	ident uint16     // the probe within the trace
	code  uint8      // ICMP code of errors
}

// parser decodes replies; not safe for concurrent use. Outer headers and
// the quoted IP header are decoded with gopacket layers; the quoted
// transport header is read by hand because routers may quote only its
// first 8 bytes (RFC 792), too few for gopacket's TCP decoder, and those 8
// bytes hold every field the match needs.
type parser struct {
	ip4   layers.IPv4
	ip6   layers.IPv6
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	tcp   layers.TCP
}

// parseICMPv4 reads a packet from a raw IPv4 ICMP socket (IP header
// included).
func (p *parser) parseICMPv4(pkt []byte) (reply, bool) {
	if err := p.ip4.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback); err != nil || p.ip4.Protocol != layers.IPProtocolICMPv4 {
		return reply{}, false
	}
	from, _ := netip.AddrFromSlice(p.ip4.SrcIP)
	if err := p.icmp4.DecodeFromBytes(p.ip4.Payload, gopacket.NilDecodeFeedback); err != nil {
		return reply{}, false
	}
	r := reply{from: from, code: p.icmp4.TypeCode.Code()}
	switch p.icmp4.TypeCode.Type() {
	case layers.ICMPv4TypeEchoReply:
		r.kind = replyEcho
		r.key = flowKey{dst: from, method: MethodICMP, id: onesAdd(p.icmp4.Id, p.icmp4.Seq)}
		r.ident = p.icmp4.Seq
		return r, true
	case layers.ICMPv4TypeTimeExceeded:
		r.kind = replyTimeExceeded
	case layers.ICMPv4TypeDestinationUnreachable:
		r.kind = replyUnreachable
	default:
		return reply{}, false
	}
	var inner layers.IPv4
	if err := inner.DecodeFromBytes(p.icmp4.Payload, gopacket.NilDecodeFeedback); err != nil {
		return reply{}, false
	}
	dst, _ := netip.AddrFromSlice(inner.DstIP)
	return quoted(r, dst, inner.Protocol, inner.Payload)
}

// parseICMPv6 reads a packet from a raw ICMPv6 socket (no IP header; from
// is the sender taken from the socket address).
func (p *parser) parseICMPv6(from netip.Addr, pkt []byte) (reply, bool) {
	if err := p.icmp6.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback); err != nil {
		return reply{}, false
	}
	r := reply{from: from, code: p.icmp6.TypeCode.Code()}
	body := p.icmp6.Payload
	switch p.icmp6.TypeCode.Type() {
	case layers.ICMPv6TypeEchoReply:
		if len(body) < 4 {
			return reply{}, false
		}
		id, seq := binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:])
		r.kind = replyEcho
		r.key = flowKey{dst: from, method: MethodICMP, id: onesAdd(id, seq)}
		r.ident = seq
		return r, true
	case layers.ICMPv6TypeTimeExceeded:
		r.kind = replyTimeExceeded
	case layers.ICMPv6TypeDestinationUnreachable:
		r.kind = replyUnreachable
	default:
		return reply{}, false
	}
	if len(body) < 4 {
		return reply{}, false
	}
	if err := p.ip6.DecodeFromBytes(body[4:], gopacket.NilDecodeFeedback); err != nil {
		return reply{}, false
	}
	dst, _ := netip.AddrFromSlice(p.ip6.DstIP)
	return quoted(r, dst, p.ip6.NextHeader, p.ip6.Payload)
}

// quoted matches the first 8 bytes of a quoted transport header.
func quoted(r reply, dst netip.Addr, proto layers.IPProtocol, l4 []byte) (reply, bool) {
	if len(l4) < 8 {
		return reply{}, false
	}
	switch proto {
	case layers.IPProtocolUDP:
		r.key = flowKey{dst: dst, method: MethodUDP, id: binary.BigEndian.Uint16(l4)}
		r.ident = binary.BigEndian.Uint16(l4[6:])
	case layers.IPProtocolTCP:
		r.key = flowKey{dst: dst, method: MethodTCP, id: binary.BigEndian.Uint16(l4)}
		r.ident = uint16(binary.BigEndian.Uint32(l4[4:]) >> 16)
	case layers.IPProtocolICMPv4, layers.IPProtocolICMPv6:
		id, seq := binary.BigEndian.Uint16(l4[4:]), binary.BigEndian.Uint16(l4[6:])
		r.key = flowKey{dst: dst, method: MethodICMP, id: onesAdd(id, seq)}
		r.ident = seq
	default:
		return reply{}, false
	}
	return r, true
}

// parseTCPv4 reads a packet from a raw IPv4 TCP socket (IP header
// included): a SYN-ACK or RST answering a probe.
func (p *parser) parseTCPv4(pkt []byte) (reply, bool) {
	if err := p.ip4.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback); err != nil || p.ip4.Protocol != layers.IPProtocolTCP {
		return reply{}, false
	}
	from, _ := netip.AddrFromSlice(p.ip4.SrcIP)
	return p.tcpReply(from, p.ip4.Payload)
}

// parseTCPv6 reads a segment from a raw IPv6 TCP socket (no IP header).
func (p *parser) parseTCPv6(from netip.Addr, pkt []byte) (reply, bool) {
	return p.tcpReply(from, pkt)
}

func (p *parser) tcpReply(from netip.Addr, seg []byte) (reply, bool) {
	if err := p.tcp.DecodeFromBytes(seg, gopacket.NilDecodeFeedback); err != nil {
		return reply{}, false
	}
	if !p.tcp.ACK || !(p.tcp.RST || p.tcp.SYN) {
		return reply{}, false
	}
	return reply{
		kind:  replyTCP,
		from:  from,
		key:   flowKey{dst: from, method: MethodTCP, id: uint16(p.tcp.DstPort)},
		ident: uint16((p.tcp.Ack - 1) >> 16),
	}, true
}
