//go:build linux

package main

import (
	"encoding/binary"
	"net/netip"
)

// Flows for -collide: UDP from one flagged address to one remote address
// whose ports are chosen so that every flow key has the same low 12 bits in
// the unkeyed hash the flow table used before issue 10 (oldFlowHash). In that
// table (linear probing from the hash's low bits) 50,000 such flows, in
// 2^17 slots, pile up in 32 clusters of about 1,500 that every packet walks;
// a keyed, per-process hash spreads them like random ports. Twelve bits keep
// the search to a few seconds (one port pair in 4,096 matches).
var (
	collideSrc = netip.MustParseAddr("192.0.2.200") // Russia in the test database: flagged
	collideDst = netip.MustParseAddr("198.51.100.7")
)

// oldFlowHash is flow/table.go's hashKey as it was before issue 10, on a
// key of two IPv4 addresses (as geo.AddrWords gives them: ::ffff:a.b.c.d).
// It is kept here, not imported, because it is what an attacker who read
// the source could aim at; the flow table no longer uses it.
func oldFlowHash(a, b netip.Addr, portA, portB uint16, proto uint8) uint32 {
	wa, wb := a.As16(), b.As16()
	aHi, aLo := binary.BigEndian.Uint64(wa[:8]), binary.BigEndian.Uint64(wa[8:])
	bHi, bLo := binary.BigEndian.Uint64(wb[:8]), binary.BigEndian.Uint64(wb[8:])
	h := aHi*0x9e3779b97f4a7c15 ^
		aLo*0xc2b2ae3d27d4eb4f ^
		bHi*0x165667b19e3779f9 ^
		bLo*0x27d4eb2f165667c5 ^
		(uint64(portA)<<24|uint64(portB)<<8|uint64(proto))*0xff51afd7ed558ccd
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}

// collideMask is the hash bits the flows share.
const collideMask = 1<<12 - 1

// collidingFlows returns n distinct flows whose old hashes agree in the
// bits of collideMask. The key's endpoint A is the lower address,
// collideSrc, so the source port is the key's PortA.
func collidingFlows(n int) []flow {
	const udp = 17
	target := oldFlowHash(collideSrc, collideDst, 1024, 1024, udp) & collideMask
	out := make([]flow, 0, n)
	for sp := 1024; sp < 65536 && len(out) < n; sp++ {
		for dp := 1; dp < 65536 && len(out) < n; dp++ {
			if oldFlowHash(collideSrc, collideDst, uint16(sp), uint16(dp), udp)&collideMask == target {
				out = append(out, flow{src: collideSrc, dst: collideDst, proto: "udp", sport: uint16(sp), dport: uint16(dp)})
			}
		}
	}
	return out
}
