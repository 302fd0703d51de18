package geotest

import (
	"net/netip"
	"testing"
)

func TestResolverOf(t *testing.T) {
	r := ResolverOf(t, []Network{
		{CIDR: "192.0.2.0/24", Country: "RU", ASN: 64501},
		{CIDR: "2001:db8::/32", Country: "NL", ASN: 64504, ASOrg: "Example NL"},
	})
	for _, tc := range []struct {
		addr, country string
		asn           uint32
		org           string
	}{
		{"192.0.2.7", "RU", 64501, "AS test"},
		{"2001:db8::1", "NL", 64504, "Example NL"},
	} {
		loc := r.Lookup(netip.MustParseAddr(tc.addr))
		if loc.Country != tc.country || loc.ASN != tc.asn || loc.ASOrg != tc.org {
			t.Errorf("Lookup(%s) = %s AS%d %q, want %s AS%d %q", tc.addr, loc.Country, loc.ASN, loc.ASOrg, tc.country, tc.asn, tc.org)
		}
	}
}
