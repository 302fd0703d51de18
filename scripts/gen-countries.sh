#!/usr/bin/env bash
# Regenerate latency/countries_table.go (see latency/README.md): the Natural
# Earth 1:110m countries come from Debian's python3-geopandas package, which
# is downloaded (not installed) unless NE_LOWRES already names the shapefile
# (without extension). iso-codes and tzdata must be installed.
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ -z ${NE_LOWRES:-} ]]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/jurismon-ne.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq python3-geopandas >/dev/null)
	dpkg-deb -x "$tmp"/python3-geopandas_*.deb "$tmp/pkg"
	NE_LOWRES=$(dirname "$(find "$tmp/pkg" -name 'naturalearth_lowres.shp' | head -1)")/naturalearth_lowres
fi
export NE_LOWRES
go generate ./latency
