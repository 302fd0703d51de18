package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestHostSet checks the set against a map over many random pairs, with
// repeats and growth, and that the hash tells aggregates apart.
func TestHostSet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	groups := []*Group{newGroup(GroupKey{Country: "AU"}), newGroup(GroupKey{Country: "NZ"}), newGroup(GroupKey{Country: "JP"})}
	var s hostSet
	ref := map[[2]any]bool{}
	for range 200000 {
		a := netip.AddrFrom4([4]byte{198, 51, byte(r.IntN(256)), byte(r.IntN(256))})
		g := groups[r.IntN(len(groups))]
		k := [2]any{a, g}
		h := hostHash(a, g)
		if got, want := s.has(h), ref[k]; got != want {
			t.Fatalf("has(%v, %p) = %v, want %v", a, g, got, want)
		}
		if added := s.add(h, 0); added == ref[k] {
			t.Fatalf("add(%v, %p) = %v with the pair seen %v", a, g, added, ref[k])
		}
		ref[k] = true
	}
	if s.n != len(ref) {
		t.Errorf("%d hosts, want %d", s.n, len(ref))
	}
	a := netip.MustParseAddr("192.0.2.1")
	if hostHash(a, groups[0]) == hostHash(a, groups[1]) {
		t.Error("the same address in two aggregates hashes alike")
	}
	// Merge relies on two accountants' groups of one key hashing alike.
	if hostHash(a, groups[0]) != hostHash(a, newGroup(GroupKey{Country: "AU"})) {
		t.Error("the same address in two groups of one key hashes apart")
	}
}
