package probe

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/jurismon/jurismon/geo"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// place is one network of a test database.
type place struct {
	network string
	country string
	asn     uint32
}

// testResolver writes a GeoLite2-Country and a GeoLite2-ASN database with
// mmdbwriter and opens the real geo.Resolver over them, with the
// documentation ranges looked up.
func testResolver(t *testing.T, places []place) *geo.Resolver {
	t.Helper()
	dir := t.TempDir()
	write := func(name, dbType string, rec func(place) mmdbtype.Map) string {
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range places {
			_, n, err := net.ParseCIDR(p.network)
			if err != nil {
				t.Fatal(err)
			}
			if err := tree.Insert(n, rec(p)); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tree.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	country := write("country.mmdb", "GeoLite2-Country", func(p place) mmdbtype.Map {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(p.country)}}
	})
	asn := write("asn.mmdb", "GeoLite2-ASN", func(p place) mmdbtype.Map {
		return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(p.asn), "autonomous_system_organization": mmdbtype.String("AS test")}
	})
	r, err := geo.NewResolver(geo.Options{CountryFile: country, ASNFile: asn, LookupDocumentation: true, SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// countryJudge is a tiny policy: the jurisdiction is the country, and the
// listed countries are flagged.
func countryJudge(flagged ...string) Judge {
	return func(_ netip.Addr, loc *geo.Location) (string, bool) {
		if loc == nil || loc.Country == geo.Unknown {
			return "", false
		}
		for _, f := range flagged {
			if f == loc.Country {
				return loc.Country, true
			}
		}
		return loc.Country, false
	}
}

func locWithASN(asn uint32) *geo.Location {
	return &geo.Location{Country: "NL", ASN: asn}
}
