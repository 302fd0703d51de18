package tunnel

import (
	"encoding/binary"

	"github.com/jurismon/jurismon/enrich"
)

// l2tpValid checks b as an L2TP header on UDP (RFC 2661 3.1; version 3
// over UDP, RFC 3931 4.1.2.1, shares the first word): no reserved bits,
// version 2 or 3, and for a control message (T) the length and sequence
// bits set, no offset or priority, and a length that is the message's own.
func l2tpValid(m msg) bool {
	b := m.b
	if len(b) < 6 {
		return false
	}
	flags := binary.BigEndian.Uint16(b)
	if v := flags & 0x000f; v != 2 && v != 3 || flags&0x34f0 != 0 {
		return false
	}
	if flags&0x8000 == 0 { // data message
		return flags&0x4000 == 0 || int(binary.BigEndian.Uint16(b[2:])) == m.n
	}
	return flags&0x4800 == 0x4800 && flags&0x0300 == 0 && m.n >= 12 && int(binary.BigEndian.Uint16(b[2:])) == m.n
}

// The L2TP candidate's state, from data on.
const (
	l2tpN       = 0 // [2]: valid headers from each side
	l2tpControl = 2 // a control message was seen
)

// l2tpStep confirms L2TP (on its port, 1701) when both sides send valid
// headers and one of them a control message, or one side three with one.
func l2tpStep(s *enrich.State, m msg, fromLocal bool) result {
	if !l2tpValid(m) {
		return reject
	}
	b := m.b
	st := s[data:]
	d := dir(fromLocal)
	if st[l2tpN+d] < 255 {
		st[l2tpN+d]++
	}
	if b[0]&0x80 != 0 {
		st[l2tpControl] = 1
	}
	n0, n1 := st[l2tpN], st[l2tpN+1]
	if st[l2tpControl] != 0 && (n0 > 0 && n1 > 0 || n0 >= 3 || n1 >= 3) {
		return confirm
	}
	return more
}
