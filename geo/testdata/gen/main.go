// Command gen writes the small test databases in geo/testdata with
// mmdbwriter, in MaxMind's GeoLite2 record layout. Run it with
// `go generate ./geo/...`; see geo/testdata/README.md for what they hold.
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// buildEpoch is fixed so that regenerating gives identical files.
var buildEpoch = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC).Unix()

// place is one country-database network.
type place struct {
	network    string
	country    string // country.iso_code
	name       string // country.names.en
	registered string // registered_country.iso_code; "" leaves it out
	continent  string // continent.code; "" leaves it out
	city       string // city.names.en, City database only
}

// as is one ASN-database network.
type as struct {
	network string
	number  uint32
	org     string
}

var places = []place{
	{"192.0.2.0/25", "DE", "Germany", "DE", "EU", "Frankfurt am Main"},
	{"192.0.2.128/25", "RU", "Russia", "RU", "EU", "Moscow"},
	{"198.51.100.0/24", "US", "United States", "US", "NA", "Ashburn"},
	// A location conflict: geolocated in CN, registered in HK.
	{"203.0.113.0/24", "CN", "China", "HK", "AS", "Shanghai"},
	{"2001:db8:1::/48", "DE", "Germany", "DE", "EU", "Berlin"},
	{"2001:db8:2::/48", "RU", "Russia", "RU", "EU", "Saint Petersburg"},
	// No registered country: a lookup must say "unknown" for it.
	{"2001:db8:3::/48", "FR", "France", "", "EU", "Paris"},
	{"8.8.8.0/24", "US", "United States", "US", "NA", ""},
	{"2001:4860::/32", "US", "United States", "US", "NA", ""},
}

var ases = []as{
	{"192.0.2.0/25", 64500, "Example Carrier GmbH"},
	{"192.0.2.128/25", 64501, "Example Telecom JSC"},
	{"198.51.100.0/24", 64502, "Example Networks Inc"},
	// Only half of 203.0.113.0/24 has an AS: the other half is unknown.
	{"203.0.113.0/25", 64503, "Example Transit Ltd"},
	{"2001:db8:1::/48", 64500, "Example Carrier GmbH"},
	{"2001:db8:2::/48", 64501, "Example Telecom JSC"},
	// Narrower than the country network: the lookup's Network is this one.
	{"2001:db8:3::/56", 64504, "Example Hosting SAS"},
	{"8.8.8.0/24", 15169, "GOOGLE"},
	{"2001:4860::/32", 15169, "GOOGLE"},
	// No country record: the country fields are unknown.
	{"1.1.1.0/24", 13335, "CLOUDFLARENET"},
}

func main() {
	out := flag.String("out", ".", "output directory")
	flag.Parse()
	files := []struct {
		name, dbType string
		fill         func(*mmdbwriter.Tree) error
	}{
		{"GeoLite2-Country-Test.mmdb", "GeoLite2-Country", func(t *mmdbwriter.Tree) error { return fillPlaces(t, false) }},
		{"GeoLite2-City-Test.mmdb", "GeoLite2-City", func(t *mmdbwriter.Tree) error { return fillPlaces(t, true) }},
		{"GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN", fillASes},
		// A real MaxMind type that is neither country nor ASN, and a type
		// no reader knows: both must be refused.
		{"GeoIP2-Connection-Type-Test.mmdb", "GeoIP2-Connection-Type", fillConnectionType},
		{"Unknown-Type-Test.mmdb", "Example-Unknown-Type", fillASes},
	}
	for _, f := range files {
		t, err := mmdbwriter.New(mmdbwriter.Options{
			DatabaseType: f.dbType,
			Description:  map[string]string{"en": "jurismon test database (documentation ranges), see geo/testdata/README.md"},
			Languages:    []string{"en"},
			BuildEpoch:   buildEpoch,
			RecordSize:   24,
			// The documentation ranges are reserved: mmdbwriter refuses
			// them unless told otherwise.
			IncludeReservedNetworks: true,
		})
		if err != nil {
			log.Fatal(err)
		}
		if err := f.fill(t); err != nil {
			log.Fatalf("%s: %v", f.name, err)
		}
		w, err := os.Create(filepath.Join(*out, f.name))
		if err != nil {
			log.Fatal(err)
		}
		if _, err := t.WriteTo(w); err != nil {
			log.Fatalf("%s: %v", f.name, err)
		}
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
	}
}

func country(iso, name string) mmdbtype.Map {
	m := mmdbtype.Map{"iso_code": mmdbtype.String(iso)}
	if name != "" {
		m["names"] = mmdbtype.Map{"en": mmdbtype.String(name)}
	}
	return m
}

func fillPlaces(t *mmdbwriter.Tree, city bool) error {
	for _, p := range places {
		_, n, err := net.ParseCIDR(p.network)
		if err != nil {
			return err
		}
		rec := mmdbtype.Map{"country": country(p.country, p.name)}
		if p.registered != "" {
			rec["registered_country"] = country(p.registered, "")
		}
		if p.continent != "" {
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(p.continent)}
		}
		if city && p.city != "" {
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(p.city)}}
		}
		if err := t.Insert(n, rec); err != nil {
			return err
		}
	}
	return nil
}

func fillASes(t *mmdbwriter.Tree) error {
	for _, a := range ases {
		_, n, err := net.ParseCIDR(a.network)
		if err != nil {
			return err
		}
		if err := t.Insert(n, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(a.number),
			"autonomous_system_organization": mmdbtype.String(a.org),
		}); err != nil {
			return err
		}
	}
	return nil
}

func fillConnectionType(t *mmdbwriter.Tree) error {
	_, n, err := net.ParseCIDR("192.0.2.0/24")
	if err != nil {
		return err
	}
	return t.Insert(n, mmdbtype.Map{"connection_type": mmdbtype.String("Corporate")})
}
