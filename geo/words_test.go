package geo

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestAddrWords checks the fast path reads the same words as As16 does, and
// that it is in use: if a Go release changes netip.Addr's layout, the
// fallback keeps results right and this test says the speed is gone.
func TestAddrWords(t *testing.T) {
	if !wordsFromLayout {
		t.Error("netip.Addr no longer starts with its (hi, lo) words: AddrWords falls back to As16")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		for _, a := range []netip.Addr{netip.AddrFrom16(b), netip.AddrFrom4([4]byte(b[:4])), netip.AddrFrom16(b).WithZone("eth0")} {
			hi, lo := AddrWords(a)
			whi, wlo := addrWordsPortable(a)
			if hi != whi || lo != wlo {
				t.Fatalf("AddrWords(%v) = %#x, %#x; As16 gives %#x, %#x", a, hi, lo, whi, wlo)
			}
		}
	}
}
