package enrich

import (
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/geo"
)

// Locator resolves an address; geo.Resolver implements it.
type Locator interface {
	Lookup(netip.Addr) *geo.Location
}

// Geo is the built-in first enricher: the remote endpoint's location.
// Everything after it (and the policy) may rely on Facts.Location.
type Geo struct{ Locator Locator }

// Enrich sets f.Location.
func (g Geo) Enrich(f *Facts, _ *capture.Packet) { f.Location = g.Locator.Lookup(f.Remote.Addr()) }
