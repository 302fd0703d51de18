package probe

import (
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
)

// place is one network of a test database.
type place struct {
	network string
	country string
	asn     uint32
}

// testResolver opens a real geo.Resolver over test databases of places
// (geotest.ResolverOf), closed when the test ends.
func testResolver(t *testing.T, places []place) *geo.Resolver {
	t.Helper()
	nets := make([]geotest.Network, len(places))
	for i, p := range places {
		nets[i] = geotest.Network{CIDR: p.network, Country: p.country, ASN: p.asn}
	}
	return geotest.ResolverOf(t, nets)
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
