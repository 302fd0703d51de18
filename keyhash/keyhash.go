// Package keyhash hashes fixed-size keys under a secret, random seed, for
// the open-addressing tables of the packet path whose keys the traffic
// chooses (flow 5-tuples, remote addresses). With an unseeded function a
// sender who knows it can pick ports or addresses that all land in one
// probe run and turn every lookup into a scan of the table; with a seed
// drawn from the operating system's entropy at start they cannot know which
// keys collide.
//
// The mixing is wyhash's: each pair of words, XORed with secret words, is
// multiplied to 128 bits and the halves folded. It is the construction the
// Go runtime's map hash uses where the CPU has no AES instructions; it is
// not a cryptographic MAC, but its output cannot be steered without the
// seed. It took about a fifth of hash/maphash.Comparable's time on the same
// five words (BenchmarkSum5 against BenchmarkMaphash5, 24.6 against 116
// ns/op on the loaded 2-core VM), and the packet-path benchmarks could not
// tell either from the unkeyed hash.
package keyhash

import (
	"math/bits"
	"math/rand/v2"
)

// Seed is the secret of one table. The zero Seed works but is public: use
// New.
type Seed struct {
	s [6]uint64
}

// New returns a random seed. math/rand/v2's global source is seeded from
// the operating system at start and cannot be predicted from outside.
func New() Seed {
	var s Seed
	for i := range s.s {
		// Odd secrets keep every product a bijection of its other factor.
		s.s[i] = rand.Uint64() | 1
	}
	return s
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// Sum3 hashes three words.
func (s *Seed) Sum3(a, b, c uint64) uint64 {
	return mix(mix(a^s.s[0], b^s.s[1])^s.s[2], c^s.s[3])
}

// Sum5 hashes five words.
func (s *Seed) Sum5(a, b, c, d, e uint64) uint64 {
	x := mix(a^s.s[0], b^s.s[1])
	y := mix(c^s.s[2], d^s.s[3])
	return mix(x^e^s.s[4], y^s.s[5])
}
