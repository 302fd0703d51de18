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
// rest of jurismon needs, and nothing from the payload.
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
}
