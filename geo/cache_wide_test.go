package geo

import (
	"net/netip"
	"testing"
)

// TestCacheWideNetworks: a network wider than a cache bucket (/24, /48) is
// cached once, so an address in another bucket of the same network is a
// hit, not a database lookup.
func TestCacheWideNetworks(t *testing.T) {
	r, err := NewResolver(Options{SearchDirs: []string{}}) // the built-in databases
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, s := range []string{"3.0.0.1", "17.0.0.1", "2a00:1450::1", "2600:1f00::1"} {
		t.Run(s, func(t *testing.T) {
			a := netip.MustParseAddr(s)
			first := r.Lookup(a)
			n := first.Network
			bucket := 24
			if a.Is6() {
				bucket = 48
			}
			if !n.IsValid() || n.Bits() >= bucket {
				t.Skipf("%s is in %v, not wider than a bucket in this database", a, n)
			}
			// An address in the same network, in another bucket.
			b := a.As16()
			if a.Is4() {
				b[12+2] ^= 1 // another /24
			} else {
				b[5] ^= 1 // another /48
			}
			other := netip.AddrFrom16(b)
			if a.Is4() {
				other = other.Unmap()
			}
			if !n.Contains(other) {
				t.Skipf("%s is not in %v", other, n)
			}
			hits, misses, _, _ := r.CacheStats()
			second := r.Lookup(other)
			h2, m2, _, _ := r.CacheStats()
			if h2 != hits+1 || m2 != misses {
				t.Errorf("lookup of %s in cached %v: hits %d→%d, misses %d→%d; want one more hit", other, n, hits, h2, misses, m2)
			}
			if second != first {
				t.Errorf("%s: got %+v, want the cached %+v", other, second, first)
			}
		})
	}
}
