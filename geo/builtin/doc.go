// Package builtin holds the country and ASN databases compiled into jurismon,
// so that it works on a machine without any .mmdb file. They are
// GeoLite2-schema .mmdb files converted from the ip-location-db packages
// (see README.md for sources, licences and attribution), embedded
// uncompressed so that they are used in place.
package builtin
