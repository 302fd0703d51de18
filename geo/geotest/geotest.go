package geotest

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jurismon/jurismon/geo"
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
