// Command gen converts the ip-location-db CSV packages into the
// GeoLite2-schema .mmdb files that package builtin embeds. It is run by
// `go generate ./geo/builtin` (through fetch.sh, which downloads the pinned
// npm packages), never at build time:
//
//	go run ./geo/builtin/gen -country DIR -asn DIR -out geo/builtin
//
// where each DIR is an unpacked npm package (its "package" folder):
// @ip-location-db/geo-whois-asn-country (start_ip,end_ip,country) and
// @ip-location-db/asn (start_ip,end_ip,asn,org).
package main
