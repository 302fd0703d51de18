package flow

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"unsafe"
)

// TestHostSet checks the set against a map over many random pairs, with
// repeats and growth, and that the hash tells aggregates apart.
func TestHostSet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	groups := []*Aggregate{newGroup(AggregateKey{Country: "AU"}), newGroup(AggregateKey{Country: "NZ"}), newGroup(AggregateKey{Country: "JP"})}
	var s hostSet
	ref := map[[2]any]bool{}
	for range 200000 {
		a := netip.AddrFrom4([4]byte{198, 51, byte(r.IntN(256)), byte(r.IntN(256))})
		g := groups[r.IntN(len(groups))]
		k := [2]any{a, g}
		h := s.hash(a, g)
		if got, want := s.has(h), ref[k]; got != want {
			t.Fatalf("has(%v, %p) = %v, want %v", a, g, got, want)
		}
		if added, ok := s.add(h, 0); !ok || added == ref[k] {
			t.Fatalf("add(%v, %p) = %v with the pair seen %v", a, g, added, ref[k])
		}
		ref[k] = true
	}
	if s.n != len(ref) {
		t.Errorf("%d hosts, want %d", s.n, len(ref))
	}
	a := netip.MustParseAddr("192.0.2.1")
	if s.hash(a, groups[0]) == s.hash(a, groups[1]) {
		t.Error("the same address in two aggregates hashes alike")
	}
	// Merge relies on the groups of one key in two mergeable
	// accountants hashing alike.
	m1, m2 := hostSet{track: true}, hostSet{track: true}
	if m1.hash(a, groups[0]) != m2.hash(a, newGroup(AggregateKey{Country: "AU"})) {
		t.Error("the same address in two groups of one key hashes apart")
	}
}

// oldHostHash is the host set's hash before it was keyed; the aggregate's
// address was its only secret, and a guessable one.
func oldHostHash(addr netip.Addr, g *Aggregate) uint64 {
	b := addr.As16()
	h := binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^
		binary.LittleEndian.Uint64(b[8:])*0xc2b2ae3d27d4eb4f ^
		uint64(uintptr(unsafe.Pointer(g)))*0x165667b19e3779f9
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return h | 1
}

// TestHostSetCollisions replays remote addresses (an IPv6 sender walking
// its /64) whose hashes under the old function share a home slot of the
// set's table, and checks that the keyed set keeps every lookup within
// maxProbe+1 slots and still tracks the hosts.
func TestHostSetCollisions(t *testing.T) {
	const n, slots = 5000, 1 << 14 // the table holding 5,000 hosts
	g := &Aggregate{}
	var flood []netip.Addr
	var old []uint32
	base := netip.MustParseAddr("2001:db8:1:2::").As16()
	for i := uint64(0); len(flood) < n; i++ {
		b := base
		binary.BigEndian.PutUint64(b[8:], i)
		a := netip.AddrFrom16(b)
		if h := oldHostHash(a, g); h&(slots-1) < 64 {
			flood = append(flood, a)
			old = append(old, uint32(h))
		}
	}
	if got := linearProbeLongest(old, slots); got < n-64 {
		t.Fatalf("the set is not hostile to the old hash: longest probe %d", got)
	}
	var s hostSet
	for _, a := range flood {
		if added, ok := s.add(s.hash(a, g), 0); !added || !ok {
			t.Fatalf("add(%v) = %v, %v", a, added, ok)
		}
	}
	if len(s.slots) != slots {
		t.Fatalf("%d slots, want %d", len(s.slots), slots)
	}
	mask := uint64(len(s.slots) - 1)
	longest := 0
	for pos, h := range s.slots {
		if h != 0 {
			longest = max(longest, int((uint64(pos)-h)&mask))
		}
	}
	t.Logf("keyed host set: longest probe %d", longest)
	if longest > maxProbe {
		t.Errorf("longest probe %d, bound %d", longest, maxProbe)
	}
	for _, a := range flood {
		if !s.has(s.hash(a, g)) {
			t.Fatalf("host %v lost", a)
		}
	}
}

// TestHostSetProbeBound fills one probe run past maxProbe (hashes built
// to share a home slot, as a sender who knew the hash would) and checks
// that add refuses the host past the bound rather than probing on.
func TestHostSetProbeBound(t *testing.T) {
	var s hostSet
	s.grow()
	mask := uint64(len(s.slots) - 1)
	for i := range uint64(maxProbe + 1) {
		if _, ok := s.add((i+1)*(mask+1)|1, 0); !ok {
			t.Fatalf("hash %d refused within the bound", i)
		}
	}
	if added, ok := s.add((maxProbe+2)*(mask+1)|1, 0); added || ok {
		t.Fatalf("add past the bound = %v, %v; want refused", added, ok)
	}
	if s.has((maxProbe+2)*(mask+1) | 1) {
		t.Fatal("has found a refused hash")
	}
}
