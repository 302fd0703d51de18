package geo

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// locationJSON is the one JSON spelling of a location, shared by every API
// (the paths' hops; the event log, lookup and analyze use the same field
// names): snake_case, the class by name. Fields are only ever added.
type locationJSON struct {
	AddressClass      string `json:"address_class"`
	Country           string `json:"country"`
	RegisteredCountry string `json:"registered_country"`
	Continent         string `json:"continent"`
	ASN               uint32 `json:"asn"`
	ASOrg             string `json:"as_org"`
	Network           string `json:"network"` // "" when no database network matched
}

// MarshalJSON writes the location as {"address_class": "public",
// "country": ..., "registered_country": ..., "continent": ..., "asn": ...,
// "as_org": ..., "network": ...}. A special-purpose address has its class
// and empty location fields.
func (l Location) MarshalJSON() ([]byte, error) {
	j := locationJSON{AddressClass: l.Class.String()}
	if l.Class == ClassPublic {
		j.Country, j.RegisteredCountry, j.Continent = l.Country, l.RegisteredCountry, l.Continent
		j.ASN, j.ASOrg = l.ASN, l.ASOrg
		if l.Network.IsValid() {
			j.Network = l.Network.String()
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *Location) UnmarshalJSON(b []byte) error {
	var j locationJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	c, ok := ParseClass(j.AddressClass)
	if !ok {
		return fmt.Errorf("geo: unknown address_class %q", j.AddressClass)
	}
	*l = Location{Class: c, Country: j.Country, RegisteredCountry: j.RegisteredCountry, Continent: j.Continent, ASN: j.ASN, ASOrg: j.ASOrg}
	if j.Network != "" {
		n, err := netip.ParsePrefix(j.Network)
		if err != nil {
			return fmt.Errorf("geo: network: %w", err)
		}
		l.Network = n
	}
	return nil
}

// ParseClass returns the class whose String is s.
func ParseClass(s string) (Class, bool) {
	for i, name := range classNames {
		if name == s {
			return Class(i), true
		}
	}
	return 0, false
}
