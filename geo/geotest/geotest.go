package geotest

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jurismon/jurismon/geo"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Dir returns the absolute path of geo/testdata, wherever the calling test
// runs from.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("geotest: cannot find its own source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Test database paths.
var (
	CountryFile = filepath.Join(Dir(), "GeoLite2-Country-Test.mmdb")
	CityFile    = filepath.Join(Dir(), "GeoLite2-City-Test.mmdb")
	ASNFile     = filepath.Join(Dir(), "GeoLite2-ASN-Test.mmdb")
)

// Resolver returns a Resolver over the test Country and ASN databases with
// LookupDocumentation set, closed when the test ends.
func Resolver(t testing.TB) *geo.Resolver {
	t.Helper()
	return ResolverWith(t, geo.Options{})
}

// ResolverWith is Resolver with other options; the file names and
// LookupDocumentation are set by it.
func ResolverWith(t testing.TB, opts geo.Options) *geo.Resolver {
	t.Helper()
	opts.CountryFile, opts.ASNFile = CountryFile, ASNFile
	opts.LookupDocumentation = true
	r, err := geo.NewResolver(opts)
	if err != nil {
		t.Fatalf("geotest: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// Network is one network of a database that a test writes.
type Network struct {
	CIDR    string
	Country string // country.iso_code
	ASN     uint32
	ASOrg   string // "AS test" when empty
}

// Write writes a GeoLite2-Country and a GeoLite2-ASN database holding nets
// into a temporary directory (mmdbwriter, reserved networks included, so
// that the documentation ranges can be filled) and returns their paths.
func Write(t testing.TB, nets []Network) (countryFile, asnFile string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, dbType string, rec func(Network) mmdbtype.Map) string {
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
		if err != nil {
			t.Fatalf("geotest: %v", err)
		}
		for _, n := range nets {
			_, ipn, err := net.ParseCIDR(n.CIDR)
			if err != nil {
				t.Fatalf("geotest: %v", err)
			}
			if err := tree.Insert(ipn, rec(n)); err != nil {
				t.Fatalf("geotest: %v", err)
			}
		}
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatalf("geotest: %v", err)
		}
		if _, err := tree.WriteTo(f); err != nil {
			f.Close()
			t.Fatalf("geotest: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("geotest: %v", err)
		}
		return path
	}
	countryFile = write("country.mmdb", "GeoLite2-Country", func(n Network) mmdbtype.Map {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)}}
	})
	asnFile = write("asn.mmdb", "GeoLite2-ASN", func(n Network) mmdbtype.Map {
		org := n.ASOrg
		if org == "" {
			org = "AS test"
		}
		return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n.ASN), "autonomous_system_organization": mmdbtype.String(org)}
	})
	return countryFile, asnFile
}

// ResolverOf writes nets (Write) and returns a Resolver over them with
// LookupDocumentation set and no search directories, closed when the test
// ends.
func ResolverOf(t testing.TB, nets []Network) *geo.Resolver {
	t.Helper()
	country, asn := Write(t, nets)
	r, err := geo.NewResolver(geo.Options{CountryFile: country, ASNFile: asn, LookupDocumentation: true, SearchDirs: []string{}})
	if err != nil {
		t.Fatalf("geotest: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}
