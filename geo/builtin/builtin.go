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
