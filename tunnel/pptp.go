package tunnel

import (
	"encoding/binary"

	"github.com/jurismon/jurismon/enrich"
)

// pptpMagic is the magic cookie of every PPTP control message (RFC 2637
// 2.1).
const pptpMagic = 0x1a2b3c4d

// isPPTP checks b as a PPTP control message: a length that fits, message
// type 1 (control), the magic cookie, a control message type from 1 to 15
// and a zero reserved word.
func isPPTP(m msg) bool {
	b := m.b
	if len(b) < 12 {
		return false
	}
	n := int(binary.BigEndian.Uint16(b))
	t := binary.BigEndian.Uint16(b[8:])
	return n >= 16 && n <= m.n && binary.BigEndian.Uint16(b[2:]) == 1 &&
		binary.BigEndian.Uint32(b[4:]) == pptpMagic && t >= 1 && t <= 15 && binary.BigEndian.Uint16(b[10:]) == 0
}

// The PPTP candidate's state, from data on.
const pptpN = 0 // [2]: control messages from each side

// pptpStep confirms PPTP when both sides send control messages, or one
// side two.
func pptpStep(s *enrich.State, m msg, fromLocal bool) result {
	if !isPPTP(m) {
		return reject
	}
	st := s[data:]
	d := dir(fromLocal)
	if st[pptpN+d] < 255 {
		st[pptpN+d]++
	}
	if st[pptpN] > 0 && st[pptpN+1] > 0 || st[pptpN+d] >= 2 {
		return confirm
	}
	return more
}
