package capture

import (
	"net/netip"
)

// LinkType is a pcap/pcapng link-layer header type (LINKTYPE_* values from
// tcpdump.org/linktypes.html).
type LinkType uint16

// The link types jurismon decodes.
const (
	LinkNull     LinkType = 0   // BSD loopback, host byte order family
	LinkEthernet LinkType = 1   // Ethernet II / 802.3
	LinkRawOld   LinkType = 12  // DLT_RAW as written by some BSDs (raw IP)
	LinkRaw      LinkType = 101 // LINKTYPE_RAW: raw IPv4 or IPv6
	LinkLoop     LinkType = 108 // OpenBSD loopback, network byte order family
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228 // raw IPv4
	LinkIPv6     LinkType = 229 // raw IPv6
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
)

// Frame is one captured frame as a Source returns it. Data aliases the
// source's buffer and is valid only until the next call to Next.
type Frame struct {
	Data      []byte
	Timestamp int64  // Unix nanoseconds
	WireLen   uint32 // length of the frame on the wire
	Link      LinkType
	Interface int // index of the interface within the source (pcapng IDB, or live socket)
}

// Source yields frames. Next returns io.EOF when a file source is exhausted.
// Implementations are not safe for concurrent use.
type Source interface {
	Next(f *Frame) error
	Close() error
}

// Packet is the header summary of one decoded IP packet: everything the
// rest of jurismon needs, and of the payload only a view of what was
// captured, for the enrichers that look at a flow's first bytes.
type Packet struct {
	Timestamp int64  // Unix nanoseconds
	WireLen   uint32 // frame length on the wire
	IPLen     uint32 // IP bytes: the IP header's length field, or the captured length where the frame is cut short
	Src, Dst  netip.Addr
	Proto     uint8 // IP protocol number (after IPv6 extension headers)
	SrcPort   uint16
	DstPort   uint16 // ports are zero for protocols without ports and for non-first fragments
	TTL       uint8  // IPv4 TTL or IPv6 hop limit
	TCPFlags  uint8  // TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 ...)
	Fragment  bool   // part of a fragmented IPv4/IPv6 datagram
	Tunnels   uint8  // number of tunnel headers removed to reach these addresses

	// Payload is the transport payload as far as it was captured: the bytes
	// after the TCP header (its data offset), the UDP or UDP-Lite header,
	// the SCTP common header or the DCCP header; for protocols without
	// ports (ESP, GRE that is not decapsulated, ICMP, ...) the bytes after
	// the IP header and its extension headers. It ends where the IP packet
	// does (no link-layer padding) or where the capture does, and is nil
	// for non-first fragments. It aliases the frame, so it is valid only
	// until the source's next frame; keep no reference to it (a caller that
	// holds a Packet back must copy what it needs of the payload first, as
	// flow.Accountant.AddAhead does).
	Payload []byte
	// PayloadLen is the payload's length on the wire, as the IP header's
	// length states it: more than len(Payload) where the snap length cut
	// the frame. Message sizes are checked against it, not against what was
	// captured.
	PayloadLen uint32

	// SrcMAC and DstMAC are the frame's outermost Ethernet addresses, when
	// HasMAC is set (Ethernet links; not cooked, raw or loopback ones).
	SrcMAC, DstMAC [6]byte
	HasMAC         bool
	// InnerSrcMAC and InnerDstMAC are those of the innermost Ethernet
	// header inside a removed tunnel (VXLAN, GENEVE or GRE bridging,
	// ERSPAN): the ones that belong to Src and Dst, when HasInnerMAC is set.
	InnerSrcMAC, InnerDstMAC [6]byte
	HasInnerMAC              bool

	// Encap is the outermost tunnel removed (when Tunnels > 0), and
	// OuterSrc and OuterDst its endpoints: the addresses on the wire, that
	// Src and Dst replace.
	Encap              Encap
	OuterSrc, OuterDst netip.Addr
}

// Encap is the kind of a tunnel the decoder removed.
type Encap uint8

// The tunnels Decoder.Decapsulate removes.
const (
	EncapNone   Encap = iota
	EncapGRE          // GRE version 0 carrying IP, MPLS or Ethernet (transparent bridging)
	EncapERSPAN       // GRE carrying ERSPAN type I, II or III: mirrored traffic, not a path
	EncapVXLAN        // UDP port 4789
	EncapGENEVE       // UDP port 6081
	EncapIPIP         // IPv4 or IPv6 directly in IPv4 or IPv6 (protocols 4 and 41)
	NumEncaps
)

var encapNames = [NumEncaps]string{"", "gre", "erspan", "vxlan", "geneve", "ipip"}

// String returns the lower-case name of the tunnel ("" for EncapNone), the
// form reports and metric labels use.
func (e Encap) String() string {
	if e < NumEncaps {
		return encapNames[e]
	}
	return "unknown"
}
