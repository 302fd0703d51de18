package geo_test

import (
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
)

func TestEmbedded(t *testing.T) {
	tests := []struct {
		addr   string
		want   geo.Embedding
		v4     string
		server string
	}{
		{"64:ff9b::808:808", geo.EmbedNAT64, "8.8.8.8", ""},
		{"64:ff9b::c000:205", geo.EmbedNAT64, "192.0.2.5", ""},
		{"64:ff9b::1:c000:205", geo.EmbedNone, "", ""}, // not the /96
		{"64:ff9b:1::c000:205", geo.EmbedNone, "", ""}, // local-use /48: layout unknown
		{"2002:c000:205::1", geo.Embed6to4, "192.0.2.5", ""},
		{"2002:c633:6401:1:2:3:4:5", geo.Embed6to4, "198.51.100.1", ""},
		// RFC 4380 section 4's example: server 65.54.227.120, client
		// 192.0.2.45 stored inverted (3fff:fdd2).
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", geo.EmbedTeredo, "192.0.2.45", "65.54.227.120"},
		{"2001:db8::1", geo.EmbedNone, "", ""},
		{"::ffff:8.8.8.8", geo.EmbedNone, "", ""},
		{"8.8.8.8", geo.EmbedNone, "", ""},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		e, v4 := geo.Embedded(a)
		if e != tt.want || (tt.v4 != "" && v4 != netip.MustParseAddr(tt.v4)) || (tt.v4 == "" && v4.IsValid()) {
			t.Errorf("Embedded(%s) = %v %v, want %v %s", tt.addr, e, v4, tt.want, tt.v4)
		}
		srv, ok := geo.TeredoServer(a)
		if ok != (tt.server != "") || (ok && srv != netip.MustParseAddr(tt.server)) {
			t.Errorf("TeredoServer(%s) = %v %v, want %q", tt.addr, srv, ok, tt.server)
		}
	}
}

func TestLookupEmbedded(t *testing.T) {
	r := geotest.Resolver(t)
	us := geo.Location{Country: "US", RegisteredCountry: "US", Continent: "NA", ASN: 64502, ASOrg: "Example Networks Inc"}
	de := geo.Location{Country: "DE", RegisteredCountry: "DE", Continent: "EU", ASN: 64500, ASOrg: "Example Carrier GmbH"}
	with := func(l geo.Location, e geo.Embedding, network string) geo.Location {
		l.Embedded, l.Network = e, netip.MustParsePrefix(network)
		return l
	}
	tests := []struct {
		addr string
		want geo.Location
	}{
		// 198.51.100.0/24 is US: its NAT64 image is 64:ff9b::c633:6400/120.
		{"64:ff9b::c633:6407", with(us, geo.EmbedNAT64, "64:ff9b::c633:6400/120")},
		{"64:ff9b::c633:64ff", with(us, geo.EmbedNAT64, "64:ff9b::c633:6400/120")}, // from the cache
		{"64:ff9b::c000:205", with(de, geo.EmbedNAT64, "64:ff9b::c000:200/121")},
		{"64:ff9b::808:808", with(geo.Location{Country: "US", RegisteredCountry: "US", Continent: "NA", ASN: 15169, ASOrg: "GOOGLE"}, geo.EmbedNAT64, "64:ff9b::808:800/120")},
		{"2002:c633:6401::1", with(us, geo.Embed6to4, "2002:c633:6400::/40")},
		{"2002:c000:205:1::9", with(de, geo.Embed6to4, "2002:c000:200::/41")},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", with(de, geo.EmbedTeredo, "2001:0:4136:e378:8000:63bf:3fff:fdd2/128")},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got := r.Lookup(netip.MustParseAddr(tt.addr))
			want := tt.want
			if *got != want {
				t.Errorf("Lookup(%s) = %+v\nwant %+v", tt.addr, *got, want)
			}
		})
	}
	// The IPv4 address itself keeps its plain location.
	if got := r.Lookup(netip.MustParseAddr("198.51.100.7")); got.Embedded != geo.EmbedNone || got.Network != netip.MustParsePrefix("198.51.100.0/24") {
		t.Errorf("Lookup(198.51.100.7) after its NAT64 image = %+v", *got)
	}
}

func BenchmarkLookupNAT64Cached(b *testing.B) {
	r := geotest.Resolver(b)
	a := netip.MustParseAddr("64:ff9b::c633:6407")
	r.Lookup(a)
	b.ReportAllocs()
	for b.Loop() {
		r.Lookup(a)
	}
}
