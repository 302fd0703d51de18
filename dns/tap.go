package dns

import (
	"hash/maphash"
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// tcpStates bounds the TCP connections from port 53 one Tap keeps framing
// state for. A connection whose slot another takes loses its framing (its
// next segment is read as if it began a message: at worst one message
// counts as malformed); the replacements are counted.
const tcpStates = 256

// tcpConn is the framing state of one TCP connection from a DNS server.
type tcpConn struct {
	client, server netip.AddrPort // the zero values when the slot is free
	st             enrich.State
}

// Tap feeds the cache from one capture worker's packets: every packet from
// port 53, for as long as its flow lasts, not only the first few an
// Inspector sees (a resolver's upstream connection lasts). It is owned by
// one goroutine (flow.Worker.DNS); the cache it feeds is shared.
type Tap struct {
	c    *Cache
	seed maphash.Seed
	tcp  [tcpStates]tcpConn
}

// NewTap returns a tap feeding c, for one worker.
func (c *Cache) NewTap() *Tap { return &Tap{c: c, seed: maphash.MakeSeed()} }

// Tap reads one packet (flow.PacketTap): a UDP response, or the DNS
// messages of a TCP segment, from port 53.
func (t *Tap) Tap(p *capture.Packet) {
	if p.SrcPort != Port || (p.Proto != protoTCP && p.Proto != protoUDP) {
		return
	}
	if p.Proto == protoUDP {
		var st enrich.State // UDP keeps no state
		t.c.Feed(&st, p, p.Payload)
		return
	}
	client, server := netip.AddrPortFrom(p.Dst, p.DstPort), netip.AddrPortFrom(p.Src, p.SrcPort)
	if len(p.Payload) == 0 && p.TCPFlags&(tcpSYN|tcpFIN|tcpRST) == 0 {
		return // a bare ACK: nothing to read, no slot to claim
	}
	var k [34]byte
	ca, sa := client.Addr().As16(), server.Addr().As16()
	copy(k[:16], ca[:])
	copy(k[16:32], sa[:])
	k[32], k[33] = byte(client.Port()>>8), byte(client.Port())
	conn := &t.tcp[maphash.Bytes(t.seed, k[:])%tcpStates]
	if conn.client != client || conn.server != server || p.TCPFlags&tcpSYN != 0 {
		if conn.client.IsValid() && conn.client != client {
			t.c.metrics.tcpReplaced.Add(1)
		}
		*conn = tcpConn{client: client, server: server}
	}
	if p.TCPFlags&(tcpFIN|tcpRST) != 0 && len(p.Payload) == 0 {
		*conn = tcpConn{}
		return
	}
	t.c.Feed(&conn.st, p, p.Payload)
	if p.TCPFlags&(tcpFIN|tcpRST) != 0 {
		*conn = tcpConn{}
	}
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
)
