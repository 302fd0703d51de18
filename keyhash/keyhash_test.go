package keyhash

import (
	"hash/maphash"
	"testing"
)

// TestSeedsDiffer checks that two seeds hash the same key differently and
// that one seed is deterministic.
func TestSeedsDiffer(t *testing.T) {
	a, b := New(), New()
	if c := a; a.Sum5(1, 2, 3, 4, 5) != c.Sum5(1, 2, 3, 4, 5) {
		t.Fatal("Sum5 is not deterministic")
	}
	if a.Sum5(1, 2, 3, 4, 5) == b.Sum5(1, 2, 3, 4, 5) {
		t.Fatal("two seeds gave the same Sum5")
	}
	if a.Sum3(1, 2, 3) == b.Sum3(1, 2, 3) {
		t.Fatal("two seeds gave the same Sum3")
	}
}

// TestLowBitsSpread hashes keys that differ in one word only, by small
// steps (a sender walking its ports or its addresses), and checks that the
// low bits, which pick a table slot, spread over every value: each of 256
// buckets gets between half and twice its share.
func TestLowBitsSpread(t *testing.T) {
	s := New()
	const n = 1 << 16
	for word := range 5 {
		var count [256]int
		for i := range uint64(n) {
			w := [5]uint64{0, 0xffff_c000_0201, 0, 0xffff_c633_6401, 6 << 32}
			w[word] += i
			count[s.Sum5(w[0], w[1], w[2], w[3], w[4])&255]++
		}
		for b, c := range count {
			if c < n/256/2 || c > 2*n/256 {
				t.Errorf("Sum5, word %d varied: bucket %d got %d of %d", word, b, c, n)
			}
		}
	}
	for word := range 3 {
		var count [256]int
		for i := range uint64(n) {
			w := [3]uint64{0, 0xffff_c000_0201, 0xc000_1234}
			w[word] += i
			count[s.Sum3(w[0], w[1], w[2])&255]++
		}
		for b, c := range count {
			if c < n/256/2 || c > 2*n/256 {
				t.Errorf("Sum3, word %d varied: bucket %d got %d of %d", word, b, c, n)
			}
		}
	}
	// And the high bits, which the geo cache uses for the home slot.
	var count [256]int
	for i := range uint64(n) {
		count[s.Sum3(0, 0xffff_0000_0000|i<<8, 120)>>56]++
	}
	for b, c := range count {
		if c < n/256/2 || c > 2*n/256 {
			t.Errorf("Sum3 high bits: bucket %d got %d of %d", b, c, n)
		}
	}
}

var sink uint64

// BenchmarkSum5 and BenchmarkMaphash5 compare this package with
// hash/maphash on the flow key's five words.
func BenchmarkSum5(b *testing.B) {
	s := New()
	var i uint64
	for b.Loop() {
		i++
		sink += s.Sum5(0, 0xffff_0a00_0001, 0, 0xffff_c000_020a+i, 6<<32|i)
	}
}

func BenchmarkMaphash5(b *testing.B) {
	s := maphash.MakeSeed()
	var i uint64
	for b.Loop() {
		i++
		sink += maphash.Comparable(s, [5]uint64{0, 0xffff_0a00_0001, 0, 0xffff_c000_020a + i, 6<<32 | i})
	}
}

func BenchmarkSum3(b *testing.B) {
	s := New()
	var i uint64
	for b.Loop() {
		i++
		sink += s.Sum3(0, 0xffff_c000_0200+i<<8, 120)
	}
}

func BenchmarkMaphash3(b *testing.B) {
	s := maphash.MakeSeed()
	var i uint64
	for b.Loop() {
		i++
		sink += maphash.Comparable(s, [3]uint64{0, 0xffff_c000_0200 + i<<8, 120})
	}
}
