package tunnel

import (
	"bytes"
	"encoding/binary"

	"github.com/jurismon/jurismon/enrich"
)

// ikeHeader checks b as an ISAKMP/IKE message (RFC 2408 3.1 for IKEv1,
// RFC 7296 3.1 for IKEv2), after the four zero bytes of the non-ESP marker
// that precede IKE on the NAT-T port (RFC 3948 2.2), and returns the
// message: a non-zero initiator SPI, a known version, exchange type and
// first payload, flags without reserved bits, and a length that is the
// message's own.
func ikeHeader(m msg) ([]byte, bool) {
	if b := m.b; len(b) >= 4 && b[0]|b[1]|b[2]|b[3] == 0 {
		if h, ok := ikeMessage(msg{b[4:], m.n - 4}); ok {
			return h, true
		}
		// An initiator SPI may start with four zero bytes too.
	}
	return ikeMessage(m)
}

func ikeMessage(m msg) ([]byte, bool) {
	b := m.b
	if len(b) < 28 || binary.BigEndian.Uint64(b) == 0 || int(binary.BigEndian.Uint32(b[24:])) != m.n {
		return nil, false
	}
	next, version, exchange, flags := b[16], b[17], b[18], b[19]
	switch version {
	case 0x10: // IKEv1: encryption, commit and authentication-only flags
		if flags&0xf8 != 0 || next > 20 && next < 128 {
			return nil, false
		}
		switch exchange {
		case 1, 2, 3, 4, 5, 6, 32, 33:
			return b, true
		}
	case 0x20: // IKEv2: initiator, version and response flags
		if flags&0xc7 != 0 || next != 0 && (next < 33 || next > 54) {
			return nil, false
		}
		if exchange >= 34 && exchange <= 37 || exchange == 43 || exchange == 44 {
			return b, true
		}
	}
	return nil, false
}

// The IKE candidate's state, from data on.
const (
	ikeSPI   = 0 // the initiator SPI of the exchange being followed
	ikeFlags = 8
	ikeN     = 9 // messages of that exchange from the side that sent it first

	ikeHave  = 1
	ikeLocal = 2
)

// ikeStep follows one IKE exchange: the responder echoes the initiator's
// SPI. ESP packets on the same NAT-T flow neither confirm nor contradict.
func ikeStep(s *enrich.State, m msg, fromLocal bool) result {
	h, ok := ikeHeader(m)
	if !ok {
		if espValid(m) {
			return more
		}
		return reject
	}
	st := s[data:]
	spi := h[:8]
	if st[ikeFlags]&ikeHave != 0 && bytes.Equal(st[ikeSPI:ikeSPI+8], spi) {
		if (st[ikeFlags]&ikeLocal != 0) != fromLocal {
			return confirm
		}
		st[ikeN]++
		if st[ikeN] >= 3 {
			return confirm // one side, one exchange, lengths exact each time
		}
		return more
	}
	// The first exchange seen, or a new one (another SA, a retry).
	copy(st[ikeSPI:ikeSPI+8], spi)
	st[ikeFlags] = ikeHave
	if fromLocal {
		st[ikeFlags] |= ikeLocal
	}
	st[ikeN] = 1
	return more
}

// espValid checks b as ESP in UDP (RFC 3948): an SPI from 256 on (lower
// values are reserved, and zero is the non-ESP marker), a sequence
// number, and room for at least an IV or a block and an ICV.
func espValid(m msg) bool {
	return m.n >= 24 && len(m.b) >= 8 && binary.BigEndian.Uint32(m.b) >= 256
}

// The ESP candidate's state, from data on.
const (
	espSPI = 0  // [2][4]: each side's SPI
	espSeq = 8  // [2][4]: its last sequence number
	espN   = 16 // [2]: its packets
)

// espStep follows ESP in UDP: each side keeps its SPI, and its sequence
// numbers grow.
func espStep(s *enrich.State, m msg, fromLocal bool) result {
	if !espValid(m) {
		return reject
	}
	b := m.b
	st := s[data:]
	d := dir(fromLocal)
	spi, seq := st[espSPI+4*d:espSPI+4*d+4], st[espSeq+4*d:espSeq+4*d+4]
	n := binary.BigEndian.Uint32(b[4:])
	if st[espN+d] > 0 {
		last := binary.BigEndian.Uint32(seq)
		if !bytes.Equal(spi, b[:4]) || n <= last || n-last > 1<<16 {
			return reject
		}
	}
	copy(spi, b[:4])
	binary.BigEndian.PutUint32(seq, n)
	if st[espN+d] < 255 {
		st[espN+d]++
	}
	n0, n1 := int(st[espN]), int(st[espN+1])
	if n0 > 0 && n1 > 0 && n0+n1 >= 3 || n0 >= 3 || n1 >= 3 {
		return confirm
	}
	return more
}
