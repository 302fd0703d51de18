package tunnel

import (
	"bytes"
	"encoding/binary"

	"github.com/jurismon/jurismon/enrich"
)

// OpenVPN's packets (openvpn/src/openvpn/ssl_pkt.h and the protocol
// description in doc/doxygen): an opcode (high 5 bits) and key id (low 3),
// then, for control packets, the sender's 8-byte session id. Over TCP each
// packet has a 2-byte length in front. With tls-auth an HMAC (16 to 64
// bytes), a packet id and a time follow the session id; with tls-crypt the
// packet id and time come first and the rest is encrypted. In the clear
// (no HMAC, or tls-auth) an acknowledgement carries the peer's session id:
// the echo that ties the two directions together.
const (
	ovHardResetClientV1 = 1
	ovHardResetServerV1 = 2
	ovSoftResetV1       = 3
	ovControlV1         = 4
	ovAckV1             = 5
	ovDataV1            = 6
	ovHardResetClientV2 = 7
	ovHardResetServerV2 = 8
	ovDataV2            = 9
	ovHardResetClientV3 = 10
	ovControlWKCV1      = 11
)

type ovHeader struct {
	op, key uint8
	sid     []byte // 8 bytes
	msg     []byte // the whole packet, without the TCP length
}

func (h ovHeader) clientReset() bool {
	return h.op == ovHardResetClientV1 || h.op == ovHardResetClientV2 || h.op == ovHardResetClientV3
}

func (h ovHeader) reset() bool {
	return h.key == 0 && (h.clientReset() || h.op == ovHardResetServerV1 || h.op == ovHardResetServerV2)
}

func (h ovHeader) data() bool { return h.op == ovDataV1 || h.op == ovDataV2 }

// openvpnPacket parses the header of the first OpenVPN packet in m. Over
// TCP its length must fit in the segment; msg is what was captured of it.
func openvpnPacket(m msg, isTCP bool) (ovHeader, bool) {
	b := m.b
	if isTCP {
		if len(b) < 2 {
			return ovHeader{}, false
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n > m.n-2 {
			return ovHeader{}, false
		}
		b = b[:min(n, len(b))]
	}
	if len(b) < 1 {
		return ovHeader{}, false
	}
	h := ovHeader{op: b[0] >> 3, key: b[0] & 7, msg: b}
	if h.op < ovHardResetClientV1 || h.op > ovControlWKCV1 {
		return ovHeader{}, false
	}
	if h.data() {
		return h, true
	}
	if len(b) < 1+8+1 { // opcode, session id, at least the ack count or HMAC
		return ovHeader{}, false
	}
	h.sid = b[1:9]
	return h, true
}

// echoes reports whether the control packet msg acknowledges the session
// id peer: the ack array's count sits right after the session id, or after
// an HMAC of 16, 20, 32 or 64 bytes, a packet id and a time; the peer's
// session id follows the acked packet ids.
func echoes(msg, peer []byte) bool {
	for _, h := range [...]int{0, 16, 20, 32, 64} {
		off := 9
		if h > 0 {
			off += h + 8
		}
		if len(msg) <= off {
			return false
		}
		n := int(msg[off])
		if n == 0 || n > 8 {
			continue
		}
		at := off + 1 + 4*n
		if len(msg) >= at+8 && bytes.Equal(msg[at:at+8], peer) {
			return true
		}
	}
	return false
}

// The OpenVPN candidate's state, from data on.
const (
	ovClientSid = 0  // the client's session id
	ovServerSid = 8  // the server's
	ovFlags     = 16 // ov* flags
	ovN         = 17 // [2]: handshake packets from each side

	ovSideKnown   = 1 // which side is the client is known
	ovClientLocal = 2
	ovHaveClient  = 4
	ovHaveServer  = 8
	ovControl     = 16 // a P_CONTROL or P_ACK followed a reset
)

func openvpnStep(s *enrich.State, m msg, fromLocal, isTCP bool) result {
	h, ok := openvpnPacket(m, isTCP)
	if !ok {
		return reject
	}
	st := s[data:]
	if h.data() {
		if st[ovFlags]&ovSideKnown == 0 {
			return reject
		}
		return more // the data channel of a handshake seen so far
	}
	if st[ovFlags]&ovSideKnown == 0 {
		if !h.reset() {
			return reject // a flow is recognised from its handshake on
		}
		st[ovFlags] |= ovSideKnown
		if h.clientReset() == fromLocal {
			st[ovFlags] |= ovClientLocal
		}
	}
	isClient := fromLocal == (st[ovFlags]&ovClientLocal != 0)
	own, peer, have, peerHave := ovClientSid, ovServerSid, uint8(ovHaveClient), uint8(ovHaveServer)
	if !isClient {
		own, peer, have, peerHave = ovServerSid, ovClientSid, ovHaveServer, ovHaveClient
	}
	switch {
	case st[ovFlags]&have == 0:
		// A side's first packet is its reset.
		if !h.reset() || h.clientReset() != isClient {
			return reject
		}
		copy(st[own:own+8], h.sid)
		st[ovFlags] |= have
	case !bytes.Equal(st[own:own+8], h.sid):
		return reject
	case h.reset():
		if h.clientReset() != isClient {
			return reject
		}
	case h.op == ovControlV1 || h.op == ovAckV1:
		st[ovFlags] |= ovControl
	}
	d := dir(fromLocal)
	if st[ovN+d] < 255 {
		st[ovN+d]++
	}
	if st[ovFlags]&peerHave != 0 {
		if echoes(h.msg, st[peer:peer+8]) {
			return confirm // the two directions name each other's sessions
		}
		// Encrypted acknowledgements (tls-crypt): a reset each way and
		// one more packet that keeps its side's session id.
		if int(st[ovN])+int(st[ovN+1]) >= 3 {
			return confirm
		}
		return more
	}
	// One direction only: its reset, then control packets with the same
	// session id.
	if st[ovN+d] >= 3 && st[ovFlags]&ovControl != 0 {
		return confirm
	}
	return more
}
