// Package geo resolves remote addresses to a country, a registered country
// and an autonomous system from MaxMind GeoLite2/GeoIP2-format databases.
package geo
