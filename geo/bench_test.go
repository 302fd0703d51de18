package geo_test

import (
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
)

var sink *geo.Location

// BenchmarkLookupHit measures cached lookups: a wide network (one probe), a
// network narrower than the bucket (a split bucket), and IPv6.
func BenchmarkLookupHit(b *testing.B) {
	for _, s := range []string{"8.8.8.8", "192.0.2.200", "2001:db8:3::1", "::ffff:8.8.8.8"} {
		b.Run(s, func(b *testing.B) {
			r := geotest.Resolver(b)
			a := netip.MustParseAddr(s)
			r.Lookup(a)
			b.ReportAllocs()
			for b.Loop() {
				sink = r.Lookup(a)
			}
			if h, _, _, _ := r.CacheStats(); h == 0 {
				b.Fatal("no cache hit")
			}
		})
	}
}

// BenchmarkLookupHitParallel is the same hit from every core at once.
func BenchmarkLookupHitParallel(b *testing.B) {
	r := geotest.Resolver(b)
	a := netip.MustParseAddr("8.8.8.8")
	r.Lookup(a)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sink = r.Lookup(a)
		}
	})
}

// BenchmarkLookupMiss measures uncached lookups in the built-in databases
// (both looked up, the Location built and cached) over public addresses
// spread across the space, with a cache too small to hit.
func BenchmarkLookupMiss(b *testing.B) {
	r, err := geo.NewResolver(geo.Options{SearchDirs: []string{}, CacheSize: 2})
	if err != nil {
		b.Fatal(err)
	}
	addrs := publicAddrs(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sink = r.Lookup(addrs[i%len(addrs)])
		i++
	}
	b.StopTimer()
	if _, m, _, _ := r.CacheStats(); m < uint64(i)*9/10 {
		b.Fatalf("only %d misses in %d lookups", m, i)
	}
}

// BenchmarkLookupNewBuckets measures what a capture with many remote
// networks costs: random public IPv4 addresses in the built-in databases,
// 256k of them over a cache of 64k entries, so that most lookups are the
// first in their /24 but their (wider) database network is often cached.
func BenchmarkLookupNewBuckets(b *testing.B) {
	r, err := geo.NewResolver(geo.Options{SearchDirs: []string{}, CacheSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	addrs := publicAddrs(1 << 18)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sink = r.Lookup(addrs[i%len(addrs)])
		i++
	}
}

// publicAddrs returns n public IPv4 addresses spread across the space, the
// same ones on every call.
func publicAddrs(n int) []netip.Addr {
	addrs := make([]netip.Addr, 0, n)
	x := uint32(2463534242)
	for len(addrs) < cap(addrs) {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		a := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
		if geo.Classify(a, false) == geo.ClassPublic {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// BenchmarkLookupSpecial is the path of a private or loopback address.
func BenchmarkLookupSpecial(b *testing.B) {
	r := geotest.Resolver(b)
	a := netip.MustParseAddr("10.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		sink = r.Lookup(a)
	}
}
