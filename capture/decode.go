package capture

import (
	"encoding/binary"
	"net/netip"
)

// Result says what became of a frame: decoded, not IP, or malformed (and
// why). Its String form is the value of the `reason` metric label.
type Result uint8

// The results of Decode. Every value from TruncatedLink on is malformed.
const (
	// Decoded: the frame held an IP packet and p describes it.
	Decoded Result = iota
	// NotIP: a well-formed frame that carries no IP packet (ARP, LLDP,
	// a pseudowire of something else, an unknown loopback family, ...).
	NotIP
	// TruncatedLink: the frame ends inside its link-layer headers (including
	// VLAN tags, MPLS labels and PPPoE), or is empty.
	TruncatedLink
	// TruncatedIPv4: the frame ends inside the IPv4 header or its options.
	TruncatedIPv4
	// TruncatedIPv6: the frame ends inside the IPv6 header or its
	// extension headers, before the upper-layer protocol is known.
	TruncatedIPv6
	// BadIPVersion: the IP version nibble is not the one the link layer
	// announced (or is neither 4 nor 6 on a raw IP link).
	BadIPVersion
	// BadIPv4Header: IHL below 5, or a total length smaller than the header.
	BadIPv4Header
	// TruncatedTransport: the IP packet's own length field leaves no room for
	// the TCP/UDP/SCTP/DCCP header it announces. (A transport header merely
	// cut short by the snap length is not malformed: see Decode.)
	TruncatedTransport
	// TooManyHeaders: more VLAN tags, MPLS labels or IPv6 extension headers
	// than the loop guards allow (MaxTags, MaxExtensionHeaders).
	TooManyHeaders
	// UnsupportedLink: a link type the decoder does not know.
	UnsupportedLink

	// NumResults is the number of Result values, for sizing counter arrays.
	NumResults
)

var resultNames = [NumResults]string{
	Decoded:            "decoded",
	NotIP:              "not_ip",
	TruncatedLink:      "truncated_link",
	TruncatedIPv4:      "truncated_ipv4",
	TruncatedIPv6:      "truncated_ipv6",
	BadIPVersion:       "bad_ip_version",
	BadIPv4Header:      "bad_ipv4_header",
	TruncatedTransport: "truncated_transport",
	TooManyHeaders:     "too_many_headers",
	UnsupportedLink:    "unsupported_link",
}

// String returns the stable snake_case name used as the `reason` label.
func (r Result) String() string {
	if r < NumResults {
		return resultNames[r]
	}
	return "unknown"
}

// Malformed reports whether r counts as a malformed frame.
func (r Result) Malformed() bool {
	return r >= TruncatedLink && r < NumResults
}

// Loop guards. Each loop over stacked headers also advances by at least
// four bytes, so it ends with the data anyway; the guards bound the work an
// adversarial frame can cause and give such frames a reason of their own.
const (
	MaxTags             = 8 // VLAN tags, and MPLS labels, in one link header
	MaxExtensionHeaders = 8 // IPv6 extension headers in one IPv6 header
	MaxTunnels          = 4 // tunnels removed from one frame; deeper ones are left in place
)

// EtherTypes and IP protocol numbers the decoder dispatches on.
const (
	etherIPv4     = 0x0800
	etherIPv6     = 0x86dd
	etherVLAN     = 0x8100
	etherQinQ     = 0x88a8
	etherQinQOld  = 0x9100
	etherQinQOld2 = 0x9200
	etherMPLS     = 0x8847
	etherMPLSMC   = 0x8848
	etherPPPoE    = 0x8864
	etherTEB      = 0x6558 // transparent Ethernet bridging (GRE, GENEVE)
	etherERSPAN2  = 0x88be // ERSPAN type I and II
	etherERSPAN3  = 0x22eb

	protoHopByHop = 0
	protoIPIP     = 4
	protoTCP      = 6
	protoUDP      = 17
	protoDCCP     = 33
	protoIPv6     = 41
	protoRouting  = 43
	protoFragment = 44
	protoGRE      = 47
	protoAH       = 51
	protoDestOpts = 60
	protoSCTP     = 132
	protoUDPLite  = 136

	portVXLAN  = 4789
	portGENEVE = 6081
)

// Decoder turns frames into Packets with a hand-written header walk. It
// holds no per-frame state, so one Decoder may be shared by goroutines.
//
// A hand-written walk was chosen over gopacket's DecodingLayerParser because
// it is several times faster and reaches the inner headers of tunnels
// without a layer per protocol (see decode_bench_test.go for the numbers).
type Decoder struct {
	// Decapsulate removes tunnel headers so that the inner hosts are
	// reported: VXLAN (UDP port 4789), GENEVE (UDP port 6081), GRE (with
	// IPv4, IPv6, transparent Ethernet bridging, MPLS or ERSPAN type I, II
	// and III inside), IP-in-IP (protocol 4) and IPv6-in-IP (protocol 41),
	// in IPv4 or IPv6. NewDecoder sets it; the zero Decoder leaves tunnels
	// alone and reports the outer packet, as pmacct and tshark count it.
	Decapsulate bool
}

// NewDecoder returns a Decoder that decapsulates tunnels.
func NewDecoder() *Decoder {
	return &Decoder{Decapsulate: true}
}

// DecodeFrame decodes f into p, and copies f's Timestamp and WireLen.
func (d *Decoder) DecodeFrame(f *Frame, p *Packet) Result {
	r := d.Decode(f.Link, f.Data, p)
	p.Timestamp = f.Timestamp
	p.WireLen = f.WireLen
	return r
}

// Decode fills p from one frame of the given link type. It never allocates,
// never panics whatever data holds, and keeps no reference to data but
// p.Payload, which aliases it: the addresses are copied into netip.Addr
// values. It sets every field of p but Timestamp and WireLen, which it
// leaves as they were (DecodeFrame sets them). p is meaningful only when the
// result is Decoded.
//
// Bytes. p.IPLen is the IP packet's length as its header states it: the
// IPv4 total length, or the IPv6 payload length plus 40. This is what
// pmacct and tshark count, and it holds even when the capture's snap length
// cut the frame short. Only when that field is zero (an IPv4 packet handed
// over before segmentation offload filled it in, or an IPv6 jumbogram, whose
// payload length is zero and whose first extension header is hop-by-hop) is
// the captured length of the IP packet used instead.
//
// Truncation. The IP header, with IPv4 options or IPv6 extension headers up
// to the upper-layer protocol, must be captured whole, or the frame is
// malformed. The transport header may be cut short by the snap length: the
// packet is still Decoded, with the ports and TCP flags that were captured
// (zero for the rest), so that its bytes are counted as the peers count
// them. A transport header that does not fit in the IP packet's own stated
// length is malformed (TruncatedTransport).
//
// Fragments. Every IPv4 and IPv6 fragment is Decoded, with Fragment set;
// only the first fragment carries ports. Fragmented tunnel packets are not
// decapsulated: the later fragments have no inner header to attribute them
// to, so all of them stay with the outer hosts.
//
// Tunnels. With Decapsulate set, p describes the innermost IP packet that
// decodes (up to MaxTunnels deep): its addresses, ports, TTL and IPLen (the
// inner header's length field), with p.Tunnels counting the tunnels removed,
// p.Encap naming the outermost and p.OuterSrc and p.OuterDst its endpoints.
// When an inner packet is malformed or is not IP (an ARP frame inside
// VXLAN, say), the packet around it is reported instead, as Decoded with the
// tunnels removed so far: the bytes are on the wire between the tunnel
// endpoints, and so are never lost.
func (d *Decoder) Decode(link LinkType, data []byte, p *Packet) Result {
	*p = Packet{Timestamp: p.Timestamp, WireLen: p.WireLen}
	if len(data) == 0 {
		return TruncatedLink
	}
	switch link {
	case LinkEthernet:
		return d.ethernet(data, 0, p)
	case LinkRaw, LinkRawOld:
		switch data[0] >> 4 {
		case 4:
			return d.ipv4(data, 0, p)
		case 6:
			return d.ipv6(data, 0, p)
		}
		return BadIPVersion
	case LinkIPv4:
		return d.ipv4(data, 0, p)
	case LinkIPv6:
		return d.ipv6(data, 0, p)
	case LinkSLL:
		// Linux cooked v1: packet type, ARPHRD type, address length,
		// 8 address bytes, then the protocol (an EtherType when >= 0x600).
		if len(data) < 16 {
			return TruncatedLink
		}
		return d.etherType(data, 16, binary.BigEndian.Uint16(data[14:]), p)
	case LinkSLL2:
		// Linux cooked v2: the protocol comes first, the header is 20 bytes.
		if len(data) < 20 {
			return TruncatedLink
		}
		return d.etherType(data, 20, binary.BigEndian.Uint16(data), p)
	case LinkNull, LinkLoop:
		return d.loopback(link, data, p)
	}
	return UnsupportedLink
}

// loopback decodes BSD null (family in the capturing host's byte order) and
// OpenBSD loop (family in network byte order) frames.
func (d *Decoder) loopback(link LinkType, data []byte, p *Packet) Result {
	if len(data) < 4 {
		return TruncatedLink
	}
	family := binary.BigEndian.Uint32(data)
	if link == LinkNull && family&0xffff0000 != 0 {
		// Written by a little-endian host: every family fits in 16 bits.
		family = binary.LittleEndian.Uint32(data)
	}
	switch family {
	case 2: // AF_INET everywhere
		return d.ipv4(data, 4, p)
	case 10, 23, 24, 28, 30: // AF_INET6: Linux, Windows, Net/OpenBSD, FreeBSD, Darwin
		return d.ipv6(data, 4, p)
	}
	return NotIP
}

// ethernet decodes an Ethernet header at data[off:] and what follows it.
func (d *Decoder) ethernet(data []byte, off int, p *Packet) Result {
	if len(data) < off+14 {
		return TruncatedLink
	}
	if p.Tunnels == 0 {
		if !p.HasMAC { // the first Ethernet header, not a pseudowire's inside MPLS
			p.DstMAC, p.SrcMAC = [6]byte(data[off:off+6]), [6]byte(data[off+6:off+12])
			p.HasMAC = true
		}
	} else {
		p.InnerDstMAC, p.InnerSrcMAC = [6]byte(data[off:off+6]), [6]byte(data[off+6:off+12])
		p.HasInnerMAC = true
	}
	t := binary.BigEndian.Uint16(data[off+12:])
	off += 14
	if t < 0x0600 {
		// IEEE 802.3 length field: IP only behind LLC/SNAP (AA AA 03 OUI type).
		if len(data) < off+8 {
			return TruncatedLink
		}
		if data[off] != 0xaa || data[off+1] != 0xaa || data[off+2] != 0x03 {
			return NotIP
		}
		t = binary.BigEndian.Uint16(data[off+6:])
		off += 8
	}
	return d.etherType(data, off, t, p)
}

// etherType decodes what an EtherType announces at data[off:]: IP, or VLAN
// tags, MPLS labels or a PPPoE session in front of it.
func (d *Decoder) etherType(data []byte, off int, t uint16, p *Packet) Result {
	for tags := 0; ; tags++ {
		switch t {
		case etherIPv4:
			return d.ipv4(data, off, p)
		case etherIPv6:
			return d.ipv6(data, off, p)
		case etherVLAN, etherQinQ, etherQinQOld, etherQinQOld2:
			if tags == MaxTags {
				return TooManyHeaders
			}
			if len(data) < off+4 {
				return TruncatedLink
			}
			t = binary.BigEndian.Uint16(data[off+2:])
			off += 4
		case etherMPLS, etherMPLSMC:
			return d.mpls(data, off, p)
		case etherPPPoE:
			// PPPoE session header (6 bytes), then the PPP protocol.
			if len(data) < off+8 {
				return TruncatedLink
			}
			switch binary.BigEndian.Uint16(data[off+6:]) {
			case 0x0021:
				return d.ipv4(data, off+8, p)
			case 0x0057:
				return d.ipv6(data, off+8, p)
			}
			return NotIP
		default:
			return NotIP
		}
	}
}

// mpls skips an MPLS label stack and guesses the payload from its first
// nibble, as MPLS carries no payload type: 4 is IPv4, 6 is IPv6, and 0 is a
// pseudowire control word (RFC 4385) followed by an Ethernet frame.
func (d *Decoder) mpls(data []byte, off int, p *Packet) Result {
	for labels := 0; ; labels++ {
		if labels == MaxTags {
			return TooManyHeaders
		}
		if len(data) < off+4 {
			return TruncatedLink
		}
		bottom := data[off+2]&1 != 0
		off += 4
		if bottom {
			break
		}
	}
	if len(data) <= off {
		return TruncatedLink
	}
	switch data[off] >> 4 {
	case 4:
		return d.ipv4(data, off, p)
	case 6:
		return d.ipv6(data, off, p)
	case 0:
		return d.ethernet(data, off+4, p)
	}
	return NotIP
}

// ipv4 decodes an IPv4 header at data[off:] and its transport header.
func (d *Decoder) ipv4(data []byte, off int, p *Packet) Result {
	b := data[off:]
	if len(b) < 20 {
		return TruncatedIPv4
	}
	if b[0]>>4 != 4 {
		return BadIPVersion
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return BadIPv4Header
	}
	if len(b) < ihl {
		return TruncatedIPv4
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	switch {
	case total == 0: // length left to segmentation offload: use what was captured
		total = len(b)
	case total < ihl:
		return BadIPv4Header
	}
	p.IPLen = uint32(total)
	cut := total > len(b)
	if !cut {
		b = b[:total] // drop the link layer's padding or trailer
	}
	p.TTL = b[8]
	p.Proto = b[9]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	frag := binary.BigEndian.Uint16(b[6:])
	p.Fragment = frag&0x3fff != 0 // more fragments, or an offset
	if frag&0x1fff != 0 {
		return Decoded // a later fragment: no transport header
	}
	return d.transport(b[ihl:], total-ihl, cut, p)
}

// ipv6 decodes an IPv6 header at data[off:], its extension headers and its
// transport header.
func (d *Decoder) ipv6(data []byte, off int, p *Packet) Result {
	b := data[off:]
	if len(b) < 40 {
		return TruncatedIPv6
	}
	if b[0]>>4 != 6 {
		return BadIPVersion
	}
	next := b[6]
	total := int(binary.BigEndian.Uint16(b[4:])) + 40
	if total == 40 && next == protoHopByHop {
		// A jumbogram (or a segmentation offload packet) states its length
		// in a hop-by-hop option, if at all: use what was captured.
		total = len(b)
	}
	p.IPLen = uint32(total)
	cut := total > len(b)
	if !cut {
		b = b[:total]
	}
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	o := 40
	for n := 0; ; n++ {
		var size int
		switch next {
		case protoHopByHop, protoRouting, protoDestOpts:
			if len(b) < o+2 {
				return TruncatedIPv6
			}
			size = (int(b[o+1]) + 1) * 8
		case protoAH:
			if len(b) < o+2 {
				return TruncatedIPv6
			}
			size = (int(b[o+1]) + 2) * 4
		case protoFragment:
			if len(b) < o+8 {
				return TruncatedIPv6
			}
			frag := binary.BigEndian.Uint16(b[o+2:])
			p.Fragment = frag&0xfff9 != 0 // an offset, or more fragments
			if frag&0xfff8 != 0 {
				p.Proto = b[o]
				return Decoded // a later fragment: no further headers
			}
			size = 8
		default:
			p.Proto = next
			return d.transport(b[o:], total-o, cut, p)
		}
		if n == MaxExtensionHeaders {
			return TooManyHeaders
		}
		if len(b) < o+size {
			return TruncatedIPv6
		}
		next = b[o]
		o += size
	}
}

// transport reads ports and TCP flags from the transport header in b, which
// ends where the IP packet ends, or where the capture does when cut is set,
// and points p.Payload past that header, with p.PayloadLen from wire, the
// IP payload's length as the IP header states it; then removes the tunnel
// headers it finds.
func (d *Decoder) transport(b []byte, wire int, cut bool, p *Packet) Result {
	need := 4 // ports
	hdr := 0  // the header's length, where the payload starts; 0: unknown
	switch p.Proto {
	case protoTCP:
		need = 20
		if len(b) > 12 && b[12]>>4 >= 5 { // a data offset below 5 words leaves no payload to trust
			hdr = int(b[12]>>4) * 4
		}
	case protoUDP:
		need, hdr = 8, 8
	case protoUDPLite:
		hdr = 8
	case protoSCTP:
		hdr = 12 // the common header; chunks follow
	case protoDCCP:
		if len(b) > 4 && b[4] >= 3 {
			hdr = int(b[4]) * 4
		}
	case protoIPIP, protoIPv6, protoGRE:
		p.Payload, p.PayloadLen = b, uint32(max(wire, 0))
		if d.Decapsulate && !p.Fragment && p.Tunnels < MaxTunnels {
			d.tunnel(b, p)
		}
		return Decoded
	default:
		p.Payload, p.PayloadLen = b, uint32(max(wire, 0))
		return Decoded // ICMP, ICMPv6, ESP, ...: counted by protocol number alone
	}
	if len(b) < need && !cut {
		return TruncatedTransport
	}
	if len(b) >= 4 {
		p.SrcPort = binary.BigEndian.Uint16(b)
		p.DstPort = binary.BigEndian.Uint16(b[2:])
	}
	if p.Proto == protoTCP && len(b) >= 14 {
		p.TCPFlags = b[13]
	}
	if hdr > 0 && len(b) >= hdr {
		p.Payload, p.PayloadLen = b[hdr:], uint32(max(wire-hdr, 0))
	}
	if p.Proto == protoUDP && len(b) >= 8 && d.Decapsulate && !p.Fragment && p.Tunnels < MaxTunnels &&
		(p.DstPort == portVXLAN || p.DstPort == portGENEVE) {
		d.tunnel(b, p)
	}
	return Decoded
}

// tunnel decodes the packet inside the tunnel payload b (which starts with
// the UDP or GRE header, or the inner IP header) into p. If the inner
// packet does not decode, p is put back as it was. The link-layer
// addresses and the outermost tunnel stay as they were found.
func (d *Decoder) tunnel(b []byte, p *Packet) {
	outer := *p
	*p = Packet{Timestamp: outer.Timestamp, WireLen: outer.WireLen, Tunnels: outer.Tunnels + 1,
		SrcMAC: outer.SrcMAC, DstMAC: outer.DstMAC, HasMAC: outer.HasMAC,
		InnerSrcMAC: outer.InnerSrcMAC, InnerDstMAC: outer.InnerDstMAC, HasInnerMAC: outer.HasInnerMAC,
		Encap: outer.Encap, OuterSrc: outer.OuterSrc, OuterDst: outer.OuterDst}
	if outer.Tunnels == 0 {
		p.OuterSrc, p.OuterDst = outer.Src, outer.Dst
	}
	if d.inner(b, outer.Proto, outer.DstPort, p) != Decoded {
		*p = outer
	}
}

// setEncap records e as the kind of the tunnel being removed, if it is the
// outermost one. It is called before the inner headers are decoded, so
// that the deeper tunnels find it set.
func (p *Packet) setEncap(e Encap) {
	if p.Tunnels == 1 {
		p.Encap = e
	}
}

// inner dispatches on the outer protocol and port to the inner packet.
func (d *Decoder) inner(b []byte, proto uint8, port uint16, p *Packet) Result {
	switch proto {
	case protoIPIP:
		p.setEncap(EncapIPIP)
		return d.ipv4(b, 0, p)
	case protoIPv6:
		p.setEncap(EncapIPIP)
		return d.ipv6(b, 0, p)
	case protoGRE:
		return d.gre(b, p)
	}
	// UDP: skip the 8-byte UDP header.
	b = b[8:]
	if port == portVXLAN {
		p.setEncap(EncapVXLAN)
		// VXLAN: flags, reserved, VNI, reserved (8 bytes), then Ethernet.
		return d.ethernet(b, 8, p)
	}
	// GENEVE: version, options length in words, flags, protocol, VNI.
	p.setEncap(EncapGENEVE)
	if len(b) < 8 || b[0]>>6 != 0 {
		return TruncatedLink
	}
	off := 8 + int(b[0]&0x3f)*4
	t := binary.BigEndian.Uint16(b[2:])
	if t == etherTEB {
		return d.ethernet(b, off, p)
	}
	if len(b) < off {
		return TruncatedLink
	}
	return d.etherType(b, off, t, p)
}

// gre decodes a GRE version 0 header (RFC 2784/2890: optional checksum, key
// and sequence number) and the packet it carries.
func (d *Decoder) gre(b []byte, p *Packet) Result {
	if len(b) < 4 {
		return TruncatedLink
	}
	flags := b[0]
	if flags&0x40 != 0 || b[1]&0x07 != 0 {
		return NotIP // source routing (RFC 1701) or version 1 (PPTP): not decapsulated
	}
	t := binary.BigEndian.Uint16(b[2:])
	off := 4
	if flags&0x80 != 0 { // checksum and reserved
		off += 4
	}
	if flags&0x20 != 0 { // key
		off += 4
	}
	seq := flags&0x10 != 0
	if seq {
		off += 4
	}
	if t == etherERSPAN2 || t == etherERSPAN3 {
		p.setEncap(EncapERSPAN)
	} else {
		p.setEncap(EncapGRE)
	}
	switch t {
	case etherTEB:
		return d.ethernet(b, off, p)
	case etherERSPAN2:
		if seq {
			off += 8 // type II header; type I (no sequence number) has none
		}
		return d.ethernet(b, off, p)
	case etherERSPAN3:
		// Type III: 12 bytes, then an 8-byte platform specific subheader
		// when the O flag (last bit of the header) is set.
		if len(b) < off+12 {
			return TruncatedLink
		}
		if b[off+11]&0x01 != 0 {
			off += 8
		}
		return d.ethernet(b, off+12, p)
	}
	if len(b) < off {
		return TruncatedLink
	}
	return d.etherType(b, off, t, p)
}
