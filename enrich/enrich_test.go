package enrich_test

import (
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo/geotest"
)

func TestGeo(t *testing.T) {
	g := enrich.Geo{Locator: geotest.Resolver(t)}
	f := enrich.Facts{
		Local:  netip.MustParseAddrPort("10.0.0.1:40000"),
		Remote: netip.MustParseAddrPort("192.0.2.129:443"),
		Proto:  6,
	}
	g.Enrich(&f, &capture.Packet{})
	if f.Location == nil || f.Location.Country != "RU" || f.Location.ASN != 64501 {
		t.Fatalf("location of the remote = %+v, want RU AS64501 (the test database)", f.Location)
	}
}

func TestAt(t *testing.T) {
	a := netip.MustParseAddr("2001:db8:1::1")
	f := enrich.At(a, nil)
	if f.Remote.Addr() != a || f.Remote.Port() != 0 || f.Local.IsValid() {
		t.Errorf("At(%v) = %+v", a, f)
	}
}
