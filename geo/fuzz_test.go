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
