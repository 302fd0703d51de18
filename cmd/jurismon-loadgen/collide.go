//go:build linux

package main

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
)

// Flows for -collide: UDP from one flagged address to one remote address
// whose ports are chosen so that every flow key has the same low bits
// (-collide-bits) in the unkeyed hash the flow table used before issue 10
// (oldFlowHash). That table probes linearly from the hash's low bits: 50,000
// flows sharing 16 bits, in its 2^17 slots, pile up in two clusters of
// 25,000 that every packet walks; with 14 bits, in eight of about 6,000. A
// keyed, per-process hash spreads them like random ports. One port pair in
// 2^bits matches, so the search takes about 50,000 * 2^bits hashes (spread
// over the CPUs): seconds for 14 bits, a minute for 16.
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

// collidingFlows returns n distinct flows whose old hashes agree in their
// low bits. The key's endpoint A is the lower address, collideSrc, so the
// source port is the key's PortA. Source ports are split among the CPUs.
func collidingFlows(n, bits int) []flow {
	const udp = 17
	mask := uint32(1)<<bits - 1
	target := oldFlowHash(collideSrc, collideDst, 1024, 1024, udp) & mask
	workers := runtime.NumCPU()
	found := make([][]flow, workers)
	var total atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for sp := 1024 + w; sp < 65536 && total.Load() < int64(n); sp += workers {
				for dp := 1; dp < 65536; dp++ {
					if oldFlowHash(collideSrc, collideDst, uint16(sp), uint16(dp), udp)&mask == target {
						found[w] = append(found[w], flow{src: collideSrc, dst: collideDst, proto: "udp", sport: uint16(sp), dport: uint16(dp)})
						total.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	var out []flow
	for _, f := range found {
		out = append(out, f...)
	}
	return out[:min(n, len(out))]
}
