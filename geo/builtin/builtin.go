// Package builtin holds the country and ASN databases compiled into jurismon,
// so that it works on a machine without any .mmdb file. They are
// GeoLite2-schema .mmdb files converted from the ip-location-db packages
// (see README.md for sources, licences and attribution), gzipped.
package builtin

//go:generate ./fetch.sh

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sync"
)

var (
	//go:embed country.mmdb.gz
	countryGz []byte
	//go:embed asn.mmdb.gz
	asnGz []byte
)

// Country returns the decompressed country database. It is decompressed
// once, on first use, and shared: callers must not modify it.
var Country = sync.OnceValues(func() ([]byte, error) { return gunzip("country", countryGz) })

// ASN returns the decompressed ASN database, as Country does.
var ASN = sync.OnceValues(func() ([]byte, error) { return gunzip("asn", asnGz) })

func gunzip(name string, gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("built-in %s database: %w", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("built-in %s database: %w", name, err)
	}
	return b, nil
}
