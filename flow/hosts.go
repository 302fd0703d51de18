package flow

import (
	"net/netip"
	"unsafe"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/keyhash"
)

// hostSet remembers which (remote address, aggregate) pairs were seen, to
// count distinct remote hosts per aggregate. It stores a 64-bit hash of the
// pair in an open-addressing table: 8 bytes a host and no pointers for the
// garbage collector, where a Go map of the pair took four times that and
// most of the cost of a new flow. Two pairs with the same hash would count
// as one host: with a million hosts the odds are about 1 in 30 million.
//
// Senders choose the addresses, so the hash is keyed (see package keyhash)
// and no hash is kept more than maxProbe slots past its home: a host that
// would be is not tracked (the caller counts it), so that a lookup reads at
// most maxProbe+1 slots whatever the traffic.
type hostSet struct {
	slots []uint64 // hash|1; 0 is empty
	n     int
	seed  keyhash.Seed
	init  bool // seed drawn
}

func (s *hostSet) hash(addr netip.Addr, g *Aggregate) uint64 {
	if !s.init {
		s.seed, s.init = keyhash.New(), true
	}
	hi, lo := geo.AddrWords(addr)
	return s.seed.Sum3(hi, lo, uint64(uintptr(unsafe.Pointer(g)))) | 1
}

// add inserts h unless it is there; it reports whether it was new, and
// whether it is in the set now (false when its probe run was too long).
func (s *hostSet) add(h uint64) (added, ok bool) {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	pos := h & mask
	for range maxProbe + 1 {
		switch s.slots[pos] {
		case h:
			return false, true
		case 0:
			s.slots[pos] = h
			s.n++
			return true, true
		}
		pos = (pos + 1) & mask
	}
	return false, false
}

// has reports whether h is in the set.
func (s *hostSet) has(h uint64) bool {
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	pos := h & mask
	for range maxProbe + 1 {
		switch s.slots[pos] {
		case h:
			return true
		case 0:
			return false
		}
		pos = (pos + 1) & mask
	}
	return false
}

// grow doubles the slots. A hash that would land past maxProbe is dropped:
// with a keyed hash about never, and then that host may be counted again.
func (s *hostSet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(2*len(old), 1024))
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}
