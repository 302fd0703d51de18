#!/bin/sh
# Downloads the pinned ip-location-db npm packages into a temporary
# directory and regenerates the embedded databases from them. Run by
# `go generate ./geo/builtin`; needs npm and the npm registry.
set -eu
VERSION=2.3.2026061719
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@ip-location-db/geo-whois-asn-country@$VERSION" "@ip-location-db/asn@$VERSION" >/dev/null)
for t in "$tmp"/*.tgz; do
	d="${t%.tgz}"
	mkdir -p "$d"
	tar xzf "$t" -C "$d"
done
go run ./gen \
	-country "$tmp/ip-location-db-geo-whois-asn-country-$VERSION/package" \
	-asn "$tmp/ip-location-db-asn-$VERSION/package" \
	-out .
