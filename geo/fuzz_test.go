package geo_test

import (
	"net/netip"
	"os"
	"testing"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
)

// FuzzOpenDatabase feeds damaged databases to the opener and to lookups: a
// bad file must give an error, never a panic.
func FuzzOpenDatabase(f *testing.F) {
	for _, p := range []string{geotest.CountryFile, geotest.ASNFile} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(0), byte(0))
		f.Add(b, uint16(100), byte(0xff))
		f.Add(b, uint16(len(b)/2), byte(0x42))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint16, v byte) {
		if len(data) > 0 {
			data[int(at)%len(data)] ^= v
		}
		dir := t.TempDir()
		for _, name := range []string{geo.NameCountry, geo.NameASN} {
			if _, err := geo.OpenBytes(name, data, "fuzz"); err != nil {
				continue
			}
			p := dir + "/" + name + ".mmdb"
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			opts := geo.Options{CountryFile: geotest.CountryFile, ASNFile: geotest.ASNFile, LookupDocumentation: true}
			if name == geo.NameCountry {
				opts.CountryFile = p
			} else {
				opts.ASNFile = p
			}
			r, err := geo.NewResolver(opts)
			if err != nil {
				continue
			}
			for _, s := range []string{"192.0.2.1", "203.0.113.200", "2001:db8:3::1", "8.8.8.8"} {
				if loc := r.Lookup(netip.MustParseAddr(s)); loc == nil || loc.ASOrg == "" || loc.Country == "" {
					t.Fatalf("Lookup(%s) = %+v", s, loc)
				}
			}
		}
	})
}

// FuzzLookupEmbedded checks the locations of IPv6 addresses against those
// of the IPv4 addresses they embed, through a small cache that evicts: a
// derived location is cached under an IPv6 network, which must hold the
// address and every address the cache then answers from it.
func FuzzLookupEmbedded(f *testing.F) {
	for _, s := range []string{"64:ff9b::c633:6407", "2002:c000:205::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
		"64:ff9b::808:808", "2002:a00:1::", "64:ff9b::1:c000:205", "2001:db8::1"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	r := geotest.ResolverWith(f, geo.Options{CacheSize: 16})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		a := netip.AddrFrom16([16]byte(b))
		loc := r.Lookup(a)
		e, v4 := geo.Embedded(a)
		if loc.Embedded == geo.EmbedNone {
			return
		}
		if loc.Embedded != e || !loc.Network.Contains(a) {
			t.Fatalf("Lookup(%s) = %+v; Embedded says %v %v", a, *loc, e, v4)
		}
		want := *r.Lookup(v4)
		got := *loc
		got.Embedded, got.Network = geo.EmbedNone, want.Network
		if got != want {
			t.Fatalf("Lookup(%s) = %+v, but %s is %+v", a, *loc, v4, want)
		}
	})
}
