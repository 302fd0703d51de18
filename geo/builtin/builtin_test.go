package builtin

import (
	"bytes"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		get    func() ([]byte, error)
		typ    string
		source string
	}{
		{"country", Country, "GeoLite2-Country", CountrySource},
		{"asn", ASN, "GeoLite2-ASN", ASNSource},
	} {
		b, err := tt.get()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		// The metadata section, at the end, names the type and the source.
		i := bytes.LastIndex(b, []byte("\xab\xcd\xefMaxMind.com"))
		if i < 0 || len(b) < 1<<20 {
			t.Fatalf("%s: %d bytes, metadata at %d: not a full MaxMind DB", tt.name, len(b), i)
		}
		md := string(b[i:])
		if !strings.Contains(md, tt.typ) || !strings.Contains(md, "CC BY 4.0") {
			t.Errorf("%s: metadata lacks %q or the licence: %q", tt.name, tt.typ, md)
		}
		if !strings.Contains(tt.source, "@ip-location-db/") {
			t.Errorf("%s: source %q", tt.name, tt.source)
		}
		// The embedded bytes themselves, never a copy.
		again, _ := tt.get()
		if &again[0] != &b[0] {
			t.Errorf("%s: a copy of the embedded bytes", tt.name)
		}
	}
}
