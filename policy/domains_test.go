package policy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
)

const domainsPolicy = `
jurisdictions:
  - name: cn-names
    domains: [example.cn, "*.tracker.example"]
domains:
  - name: telemetry.example.com
    countries: ["@eea"]
  - name: "*.example.com"
    countries: [US]
  - name: Exact.Example.Org.
    countries: [de, FR]
`

func TestWatched(t *testing.T) {
	p, err := Parse([]byte(domainsPolicy))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		allows     map[string]bool
	}{
		{"telemetry.example.com", "telemetry.example.com", map[string]bool{"DE": true, "FR": true, "US": false, "": false}},
		{"www.example.com", "*.example.com", map[string]bool{"US": true, "DE": false}},
		{"a.b.example.com", "*.example.com", map[string]bool{"US": true}},
		{"example.com", "", nil}, // *.example.com is for the names under it
		{"exact.example.org", "exact.example.org", map[string]bool{"DE": true, "FR": true, "CN": false}},
		{"www.exact.example.org", "", nil},
		{"other.test", "", nil},
	} {
		w, ok := p.Watched(tc.name)
		if got := ""; ok {
			got = w.Name
			if got != tc.want {
				t.Errorf("Watched(%q) = %q, want %q", tc.name, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("Watched(%q) = none, want %q", tc.name, tc.want)
		}
		for c, want := range tc.allows {
			if got := w.Allows(c); got != want {
				t.Errorf("%s allows %q = %v, want %v", tc.want, c, got, want)
			}
		}
	}
	if got := strings.Join(p.WatchedDomains(), ","); got != "telemetry.example.com,*.example.com,exact.example.org" {
		t.Errorf("WatchedDomains = %s", got)
	}
}

func TestJurisdictionDomains(t *testing.T) {
	p, err := Parse([]byte(domainsPolicy))
	if err != nil {
		t.Fatal(err)
	}
	loc := &geo.Location{Class: geo.ClassPublic, Country: "US"}
	for name, want := range map[string]bool{"example.cn": true, "www.example.cn": true, "a.tracker.example": true,
		"tracker.example": true, "example.com": false, "": false, "badexample.cn": false} {
		f := enrich.Facts{Remote: netip.MustParseAddrPort("198.51.100.1:443"), Location: loc, Domain: enrich.Domain{Name: name}}
		v := p.Evaluate(&f)
		if v.Flagged() != want || want && (v.Jurisdiction != "cn-names" || v.MatchedBy.String() != "domain") {
			t.Errorf("%q: verdict %+v, want flagged %v by domain", name, v, want)
		}
	}
}

func TestDomainsProblems(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"domains:\n  - name: a..b\n    countries: [DE]\n", `"a..b" is not a domain name`},
		{"domains:\n  - name: a.*.b\n    countries: [DE]\n", "a wildcard may only lead"},
		{"domains:\n  - name: a.example\n", "countries is empty"},
		{"domains:\n  - countries: [DE]\n", "has no name"},
		{"domains:\n  - name: a.example\n    countries: [XX]\n", "not an ISO 3166-1"},
		{"domains:\n  - name: a.example\n    countries: [DE]\n  - name: A.example\n    countries: [FR]\n", "given twice"},
		{"domains: a.example\n", "domains must be a list"},
		{"domains:\n  - name: a.example\n    countries: [DE]\n    ttl: 3\n", `unknown field "ttl"`},
		{"jurisdictions:\n  - name: j\n    domains: [\"\"]\n", "is not a domain name"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.want)
		}
	}
}
