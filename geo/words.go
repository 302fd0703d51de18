package geo

import (
	"encoding/binary"
	"net/netip"
	"unsafe"
)

// AddrWords returns the 16-byte form of a (IPv4 mapped) as two big-endian
// words, high first: the form the cache keys on, and the flow table too.
//
// The portable way, a.As16() read back as two words, has the compiler copy
// the array As16 built from two 8-byte stores with one 16-byte load: the CPU
// cannot forward those stores to that load and waits for them to reach the
// cache, twice per packet (flow's BenchmarkPacketPath: 46 ns with As16, 28
// ns without). netip.Addr already holds exactly these two words, first in
// the struct (its documentation in net/netip says so), so they are read
// from there; wordsFromLayout checks at start-up that the layout is still
// that one and falls back to As16 if a Go release changes it.
func AddrWords(a netip.Addr) (hi, lo uint64) {
	if wordsFromLayout {
		w := (*[2]uint64)(unsafe.Pointer(&a))
		return w[0], w[1]
	}
	return addrWordsPortable(a)
}

func addrWordsPortable(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

var wordsFromLayout = layoutHolds()

// layoutHolds reports whether netip.Addr starts with its address as a
// big-endian (hi, lo) pair, for addresses of both families.
func layoutHolds() bool {
	if unsafe.Sizeof(netip.Addr{}) < 16 {
		return false
	}
	for _, s := range []string{"0.0.0.0", "192.0.2.1", "255.254.253.252", "::", "2001:db8::1", "ffee:ddcc:bbaa:9988:7766:5544:3322:1100", "::ffff:192.0.2.1"} {
		a := netip.MustParseAddr(s)
		w := (*[2]uint64)(unsafe.Pointer(&a))
		if hi, lo := addrWordsPortable(a); w[0] != hi || w[1] != lo {
			return false
		}
	}
	return true
}
