package tunnel

import (
	"bytes"
	"encoding/binary"

	"github.com/jurismon/jurismon/enrich"
)

// WireGuard's messages (the WireGuard whitepaper, section 5.4): a type byte
// and three zero bytes, then
//
//	1 handshake initiation, 148 bytes: sender index at 4
//	2 handshake response,    92 bytes: sender index at 4, receiver index at 8
//	3 cookie reply,          64 bytes: receiver index at 4
//	4 transport data, 32 bytes or more in steps of 16: receiver index at 4,
//	  a little-endian 64-bit counter at 8
//
// The response's receiver index is the initiator's sender index, and data
// towards either side carries that side's index.
//
// It returns the type of m, or 0 when m is none of them (or too little of
// it was captured to read the indexes: 16 bytes).
func wireguardType(m msg) uint8 {
	b, n := m.b, m.n
	if len(b) < 16 || b[1]|b[2]|b[3] != 0 {
		return 0
	}
	switch {
	case b[0] == 1 && n == 148, b[0] == 2 && n == 92, b[0] == 3 && n == 64,
		b[0] == 4 && n >= 32 && n%16 == 0:
		return b[0]
	}
	return 0
}

// The WireGuard candidate's state, from data on.
const (
	wgInitIdx = 0  // the initiator's sender index
	wgRespIdx = 4  // the responder's sender index
	wgRx      = 8  // [2][4]: the receiver index of each side's data
	wgCtr     = 16 // [2][4]: the low half of each side's last counter
	wgN       = 24 // [2]: data messages from each side
	wgFlags   = 26

	wgInit      = 1 // an initiation was seen
	wgInitLocal = 2 // ... from the local side
	wgResp      = 4 // a response was seen
	wgRespLocal = 8 // ... from the local side
)

func wireguardStep(s *enrich.State, m msg, fromLocal bool) result {
	t := wireguardType(m)
	if t == 0 {
		return reject
	}
	b := m.b
	st := s[data:]
	fl := st[wgFlags]
	side := func(local uint8) bool { return fl&local != 0 }
	switch t {
	case 1: // a new handshake: what came before is history
		copy(st[wgInitIdx:wgInitIdx+4], b[4:8])
		fl = fl&^(wgInitLocal|wgResp|wgRespLocal) | wgInit
		if fromLocal {
			fl |= wgInitLocal
		}
	case 2:
		if fl&wgInit != 0 && side(wgInitLocal) != fromLocal && bytes.Equal(b[8:12], st[wgInitIdx:wgInitIdx+4]) {
			return confirm // the response names the initiation
		}
		copy(st[wgRespIdx:wgRespIdx+4], b[4:8])
		fl |= wgResp
		fl &^= wgRespLocal
		if fromLocal {
			fl |= wgRespLocal
		}
	case 3:
		if fl&wgInit != 0 && side(wgInitLocal) != fromLocal && bytes.Equal(b[4:8], st[wgInitIdx:wgInitIdx+4]) {
			return confirm
		}
	case 4:
		rx := b[4:8]
		if fl&wgInit != 0 && side(wgInitLocal) != fromLocal && bytes.Equal(rx, st[wgInitIdx:wgInitIdx+4]) ||
			fl&wgResp != 0 && side(wgRespLocal) != fromLocal && bytes.Equal(rx, st[wgRespIdx:wgRespIdx+4]) {
			return confirm // data to a side that took part in the handshake
		}
		// Captured after the handshake: each side's data must keep its
		// receiver index and count up.
		d := dir(fromLocal)
		r, c := st[wgRx+4*d:wgRx+4*d+4], st[wgCtr+4*d:wgCtr+4*d+4]
		ctr := binary.LittleEndian.Uint32(b[8:12])
		if st[wgN+d] > 0 {
			if !bytes.Equal(r, rx) || ctr <= binary.LittleEndian.Uint32(c) {
				return reject
			}
		}
		copy(r, rx)
		binary.LittleEndian.PutUint32(c, ctr)
		if st[wgN+d] < 255 {
			st[wgN+d]++
		}
		st[wgFlags] = fl
		n0, n1 := int(st[wgN]), int(st[wgN+1])
		if n0 > 0 && n1 > 0 && n0+n1 >= 3 || n0 >= 4 || n1 >= 4 {
			return confirm
		}
		return more
	}
	st[wgFlags] = fl
	return more
}
