// Command gencountries writes latency/countries_table.go, the table of
// per-country bounding boxes that the plausibility check uses.
//
// Sources (read, never copied as code):
//   - Natural Earth 1:110m Admin 0 countries (public domain, naturalearthdata.com),
//     as shipped in Debian's python3-geopandas 0.12.2 package
//     (geopandas/datasets/naturalearth_lowres/naturalearth_lowres.{shp,dbf}).
//   - ISO 3166-1 alpha-3 to alpha-2 codes from Debian's iso-codes package
//     (/usr/share/iso-codes/json/iso_3166-1.json); codes are facts, not text.
//   - For countries too small for the 1:110m layer, the tz database's
//     zone.tab coordinates (public domain; /usr/share/zoneinfo/zone.tab),
//     widened to a box of ±1.5 degrees around each point.
//
// Usage, from the repository root:
//
//	apt-get download python3-geopandas && dpkg-deb -x python3-geopandas_*.deb /tmp/gpd
//	go run ./latency/gencountries -ne /tmp/gpd/usr/lib/python3/dist-packages/geopandas/datasets/naturalearth_lowres/naturalearth_lowres > latency/countries_table.go
package main
