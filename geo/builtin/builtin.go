// Package builtin holds the country and ASN databases compiled into jurismon,
// so that it works on a machine without any .mmdb file. They are
// GeoLite2-schema .mmdb files converted from the ip-location-db packages
// (see README.md for sources, licences and attribution), embedded
// uncompressed so that they are used in place.
package builtin

//go:generate ./fetch.sh

import _ "embed"

var (
	//go:embed country.mmdb
	country []byte
	//go:embed asn.mmdb
	asn []byte
)

// Country returns the country database. The bytes are read in place from
// the binary (no copy, no start-up cost): callers must not modify them.
func Country() ([]byte, error) { return country, nil }

// ASN returns the ASN database, as Country does.
func ASN() ([]byte, error) { return asn, nil }
