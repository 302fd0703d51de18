package geo

import "net/netip"

// Unknown is the explicit value of a field that a lookup could not fill.
const Unknown = "unknown"

// Location is what jurismon knows about one remote address. Values returned
// by a Resolver are shared and must not be modified.
type Location struct {
	// Class is ClassPublic for addresses that were looked up, or the
	// special-purpose class (private, loopback, multicast, ...) of an address
	// that is never looked up nor reported as a country.
	Class             Class
	Country           string       // ISO 3166-1 alpha-2 of the geolocated country, or Unknown
	RegisteredCountry string       // ISO code of the country where the block is registered, or Unknown
	Continent         string       // two-letter continent code, or Unknown
	ASN               uint32       // 0 when unknown
	ASOrg             string       // AS organisation, or Unknown
	ASCountry         string       // country of the AS where the database says, else ""
	Network           netip.Prefix // the database network that matched (the narrower of the two databases)
	// Embedded says that the address is an IPv6 address carrying an IPv4
	// one (NAT64, 6to4, Teredo) and was located by that IPv4 address (which
	// geo.Embedded returns: the Location is shared by a whole network, so it
	// does not hold it). Network is then the IPv6 network of the addresses
	// that embed the IPv4 database network. EmbedNone for other addresses.
	Embedded Embedding
}
