package flow

import (
	"encoding/binary"
	"net/netip"
)

// hostSet remembers which (remote address, aggregate) pairs were seen, to
// count distinct remote hosts per aggregate. It stores a 64-bit hash of the
// pair in an open-addressing table: 8 bytes a host and no pointers for the
// garbage collector, where a Go map of the pair took four times that and
// most of the cost of a new flow. Two pairs with the same hash would count
// as one host: with a million hosts the odds are about 1 in 30 million.
//
// With owners set (an accountant whose aggregates will be merged), each slot
// also keeps the index of its aggregate in the accountant's list, so that
// Merge can add the hosts of one accountant to another's: 4 more bytes a
// slot, only then.
type hostSet struct {
	slots  []uint64 // hash|1; 0 is empty
	owners []int32  // parallel to slots when tracked: the aggregate's index
	track  bool
	n      int
}

// hostHash hashes the pair of a remote address and its aggregate, by the
// aggregate's id (a hash of its key): the same pair hashes alike in every
// accountant of the process.
func hostHash(addr netip.Addr, g *Group) uint64 {
	b := addr.As16()
	h := binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^
		binary.LittleEndian.Uint64(b[8:])*0xc2b2ae3d27d4eb4f ^
		g.id*0x165667b19e3779f9
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return h | 1
}

// add inserts h, of the aggregate at index owner, unless it is there; it
// reports whether it was new.
func (s *hostSet) add(h uint64, owner int32) bool {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for pos := h & mask; ; pos = (pos + 1) & mask {
		switch s.slots[pos] {
		case h:
			return false
		case 0:
			s.slots[pos] = h
			if s.track {
				s.owners[pos] = owner
			}
			s.n++
			return true
		}
	}
}

// has reports whether h is in the set.
func (s *hostSet) has(h uint64) bool {
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for pos := h & mask; ; pos = (pos + 1) & mask {
		switch s.slots[pos] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *hostSet) grow() {
	old, oldOwners := s.slots, s.owners
	s.slots = make([]uint64, max(2*len(old), 1024))
	if s.track {
		s.owners = make([]int32, len(s.slots))
	}
	mask := uint64(len(s.slots) - 1)
	for i, h := range old {
		if h != 0 {
			pos := h & mask
			for s.slots[pos] != 0 {
				pos = (pos + 1) & mask
			}
			s.slots[pos] = h
			if s.track {
				s.owners[pos] = oldOwners[i]
			}
		}
	}
}
