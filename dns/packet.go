package dns

import (
	"encoding/binary"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// Port is the DNS port; only responses from it are read.
const Port = 53

const (
	protoTCP = 6
	protoUDP = 17
)

// TCP framing state kept in an enrich.State between the segments of one
// flow: state[0] holds the flags, state[1:3] a pending message length.
const (
	stPending = 1 << iota // the last segment held only a length prefix
	stLost                // a message spanned segments: where the next one starts is unknown
)

// Feed reads the transport payload of one packet of a flow: a DNS response
// over UDP, or the messages (each behind its 2-byte length) of a TCP
// segment, from port 53. st keeps the TCP framing between segments of the
// flow (the zero State to start). done is true once nothing more will be
// read from the flow: it is no DNS flow, or a TCP message spanned segments
// (they are not reassembled: the part in the first segment is read, and
// where the next message starts is then unknown).
//
// Of a fragmented datagram the decoder sees the first fragment only (the
// packet path keeps no fragments): the answers that fit in it are kept, and
// the message counts as partial when the cut falls inside the answer
// section (the authority and additional sections are never read). Later
// fragments carry no port and are never read.
func (c *Cache) Feed(st *enrich.State, p *capture.Packet, payload []byte) (done bool) {
	if p.SrcPort != Port && p.DstPort != Port {
		return true
	}
	if p.SrcPort != Port || len(payload) == 0 {
		return false // a query, or a segment without data
	}
	switch p.Proto {
	case protoUDP:
		// Cut short by a fragment, or by the snap length (the wire length
		// says so).
		c.Message(payload, p.Dst, p.Timestamp, p.Fragment || int(p.PayloadLen) > len(payload))
		return false
	case protoTCP:
		return c.tcp(st, payload, p)
	}
	return true
}

// tcp reads the DNS messages of one TCP segment from the server.
func (c *Cache) tcp(st *enrich.State, b []byte, p *capture.Packet) bool {
	if st[0]&stLost != 0 {
		return true
	}
	if st[0]&stPending != 0 {
		st[0] &^= stPending
		n := int(binary.BigEndian.Uint16(st[1:3]))
		if len(b) < n {
			c.Message(b, p.Dst, p.Timestamp, true)
			st[0] |= stLost
			return true
		}
		c.Message(b[:n], p.Dst, p.Timestamp, false)
		b = b[n:]
	}
	for len(b) > 0 {
		if len(b) < 2 {
			st[0] |= stLost // a length prefix split across segments: not worth a state of its own
			return true
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		switch {
		case len(b) == 0:
			// Servers often write the length and the message separately.
			st[0] |= stPending
			binary.BigEndian.PutUint16(st[1:3], uint16(n))
			return false
		case len(b) < n:
			c.Message(b, p.Dst, p.Timestamp, true)
			st[0] |= stLost
			return true
		}
		c.Message(b[:n], p.Dst, p.Timestamp, false)
		b = b[n:]
	}
	return false
}

// Enrich names a new flow's remote address by the answer it was last
// resolved from (enrich.Enricher), preferring one the flow's local address
// asked for. It keeps a name already set (by TLS SNI, say).
func (c *Cache) Enrich(f *enrich.Facts, p *capture.Packet) {
	if f.Domain.Name != "" {
		return
	}
	now := c.now.Load()
	if p != nil && p.Timestamp != 0 {
		now = p.Timestamp
	}
	chain, ok := c.Lookup(f.Remote.Addr(), f.Local.Addr(), now)
	if !ok {
		return
	}
	f.Domain = domain(chain)
}

// domain describes the name a chain gives (the chain is the cache's and
// never modified).
func domain(chain []string) enrich.Domain {
	return enrich.Domain{Name: chain[0], CNAMEChain: chain[1:], Source: "dns", Registrable: Registrable(chain[0])}
}

// Inspector returns the inspector that names a flow the enricher could not
// name when it started, by looking again on its second and fourth packets:
// capture workers run at once, and the answer may be read on another
// worker a moment after the flow's first packet on this one (the reply, a
// round trip later, gives it that moment). A name found changes the facts,
// so that a policy on domains judges the flow again.
func (c *Cache) Inspector() enrich.Inspector { return lateInspector{c} }

type lateInspector struct{ c *Cache }

func (l lateInspector) Inspect(s *enrich.State, f *enrich.Facts, p *capture.Packet, _ bool) (changed, done bool) {
	if f.Domain.Name != "" {
		return false, true
	}
	s[0]++
	if s[0] != 2 && s[0] != 4 {
		return false, false
	}
	chain, ok := l.c.Lookup(f.Remote.Addr(), f.Local.Addr(), p.Timestamp)
	if !ok {
		return false, s[0] >= 4
	}
	f.Domain = domain(chain)
	l.c.metrics.lateNames.Add(1)
	return true, true
}
