package dns

import "golang.org/x/net/publicsuffix"

// Registrable returns the registrable domain of name (its public suffix and
// one label more: "www.example.co.uk" gives "example.co.uk"), by the
// public suffix list compiled into golang.org/x/net/publicsuffix, for
// grouping by domain. A name that is itself a public suffix, or empty, is
// returned as it is.
func Registrable(name string) string {
	if d, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil {
		return d
	}
	return name
}
