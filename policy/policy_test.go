package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
)

const verdictPolicy = `
jurisdictions:
  - name: sanctioned
    countries: [RU, BY]
    registered_countries: [IR]
  - name: eyes
    countries: ["@five_eyes"]
    asns: [64510]
  - name: hosting
    asns: [64501, AS64502]
    as_orgs: ["(?i)example telecom", "^Bad Hosting$"]
  - name: registered
    registered_countries: [CN]
exceptions:
  - cidr: 192.0.2.10/32
    reason: vpn exit
  - cidr: 2001:db8:ffff::/48
    reason: v6 partner
  - asn: 64500
    reason: transit
local_networks: [198.51.100.0/24, 2001:db8:100::/48]
`

// loc builds a public location; fields not given are what the geo
// package reports for an unknown.
func loc(country, registered string, asn uint32, org string) *geo.Location {
	return &geo.Location{Class: geo.ClassPublic, Country: country, RegisteredCountry: registered, ASN: asn, ASOrg: org}
}

// evaluate judges an address with its location, as the accountant does
// with the facts of a new flow.
func evaluate(p *Policy, addr netip.Addr, loc *geo.Location) Verdict {
	f := enrich.At(addr, loc)
	return p.Evaluate(&f)
}

// testLocations is a spread of locations, also used by the fuzz test.
var testLocations = []geo.Location{
	*loc("RU", "RU", 64501, "Example Telecom"),
	*loc("US", "IR", 64510, "Bad Hosting"),
	*loc(geo.Unknown, geo.Unknown, 0, geo.Unknown),
	{Class: geo.ClassPrivate, Country: geo.Unknown, RegisteredCountry: geo.Unknown, ASOrg: geo.Unknown},
	{},
}

func embedded(l *geo.Location, e geo.Embedding) *geo.Location {
	l.Embedded = e
	return l
}

func TestEvaluate(t *testing.T) {
	p := mustParse(t, verdictPolicy)
	unknown := geo.Unknown
	tests := []struct {
		name string
		addr string
		loc  *geo.Location
		want Verdict
	}{
		{"country v4", "203.0.113.5", loc("RU", "NL", 64999, "Other"), Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedCountry, Excepted: ""}},
		{"country v6", "2001:db8::5", loc("BY", unknown, 0, unknown), Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedCountry, Excepted: ""}},
		{"registered country", "203.0.113.5", loc("DE", "IR", 64999, "Other"), Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedRegisteredCountry, Excepted: ""}},
		{"group member", "203.0.113.5", loc("NZ", "NZ", 64999, "Other"), Verdict{Jurisdiction: "eyes", MatchedBy: MatchedCountry, Excepted: ""}},
		{"first jurisdiction in file order wins", "203.0.113.5", loc("US", "IR", 64999, "Other"), Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedRegisteredCountry, Excepted: ""}},
		{"earlier field in one jurisdiction wins", "203.0.113.5", loc("GB", "DE", 64510, "Other"), Verdict{Jurisdiction: "eyes", MatchedBy: MatchedCountry, Excepted: ""}},
		{"asn", "203.0.113.5", loc("DE", "DE", 64510, "Other"), Verdict{Jurisdiction: "eyes", MatchedBy: MatchedASN, Excepted: ""}},
		{"asn written AS64502", "2001:db8::5", loc("DE", "DE", 64502, "Other"), Verdict{Jurisdiction: "hosting", MatchedBy: MatchedASN, Excepted: ""}},
		{"as_org case-insensitive, unanchored", "203.0.113.5", loc("DE", "DE", 64999, "EXAMPLE TELECOM GmbH"), Verdict{Jurisdiction: "hosting", MatchedBy: MatchedASOrg, Excepted: ""}},
		{"as_org anchored", "203.0.113.5", loc("DE", "DE", 64999, "Bad Hosting"), Verdict{Jurisdiction: "hosting", MatchedBy: MatchedASOrg, Excepted: ""}},
		{"as_org anchored, no match", "203.0.113.5", loc("DE", "DE", 64999, "Not Bad Hosting Ltd"), Verdict{}},
		{"later jurisdiction", "203.0.113.5", loc("HK", "CN", 64999, "Other"), Verdict{Jurisdiction: "registered", MatchedBy: MatchedRegisteredCountry, Excepted: ""}},
		{"nothing matches", "203.0.113.5", loc("DE", "DE", 64999, "Other"), Verdict{}},
		{"unknown everything", "203.0.113.5", loc(unknown, unknown, 0, unknown), Verdict{}},
		{"empty fields", "203.0.113.5", &geo.Location{}, Verdict{}},
		{"lower-case country from a database", "203.0.113.5", loc("ru", "ru", 0, ""), Verdict{}},
		{"exception by /32", "192.0.2.10", loc("RU", "RU", 64999, "Other"), Verdict{Excepted: "vpn exit"}},
		{"next address not excepted", "192.0.2.11", loc("RU", "RU", 64999, "Other"), Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedCountry, Excepted: ""}},
		{"exception by v4-mapped address", "::ffff:192.0.2.10", loc("RU", "RU", 64999, "Other"), Verdict{Excepted: "vpn exit"}},
		{"exception by the address NAT64 embeds", "64:ff9b::c000:20a", embedded(loc("RU", "RU", 64999, "Other"), geo.EmbedNAT64), Verdict{Excepted: "vpn exit"}},
		{"exception by the address 6to4 embeds", "2002:c000:20a::1", embedded(loc("RU", "RU", 64999, "Other"), geo.Embed6to4), Verdict{Excepted: "vpn exit"}},
		{"NAT64 of another address not excepted", "64:ff9b::c000:20b", embedded(loc("RU", "RU", 64999, "Other"), geo.EmbedNAT64), Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedCountry, Excepted: ""}},
		{"exception by v6 prefix", "2001:db8:ffff:1::1", loc("RU", "RU", 64999, "Other"), Verdict{Excepted: "v6 partner"}},
		{"exception by asn", "203.0.113.5", loc("RU", "RU", 64500, "Other"), Verdict{Excepted: "transit"}},
		{"exception by asn suppresses an asn match", "203.0.113.5", loc("DE", "DE", 64500, "Example Telecom"), Verdict{Excepted: "transit"}},
		{"exception without a match says nothing", "192.0.2.10", loc("DE", "DE", 64500, "Other"), Verdict{}},
		{"local network v4", "198.51.100.7", loc("RU", "RU", 64999, "Other"), Verdict{}},
		{"local network v6", "2001:db8:100:5::1", loc("RU", "RU", 64999, "Other"), Verdict{}},
		{"special-purpose class", "203.0.113.5", &geo.Location{Class: geo.ClassPrivate, Country: "RU", RegisteredCountry: "RU", ASN: 64501, ASOrg: "Example Telecom"}, Verdict{}},
		{"documentation class", "2001:db8::5", &geo.Location{Class: geo.ClassDocumentation, Country: "US"}, Verdict{}},
		{"nil location", "203.0.113.5", nil, Verdict{}},
		{"invalid address", "", loc("RU", "RU", 0, ""), Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedCountry, Excepted: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addr netip.Addr
			if tt.addr != "" {
				addr = netip.MustParseAddr(tt.addr)
			}
			got := evaluate(p, addr, tt.loc)
			if got != tt.want {
				t.Errorf("Evaluate(%s, %+v) = %+v, want %+v", tt.addr, tt.loc, got, tt.want)
			}
			if got.Flagged() != (tt.want.Jurisdiction != "") {
				t.Errorf("Flagged() = %v", got.Flagged())
			}
		})
	}
}

func TestEvaluateUnknownOrg(t *testing.T) {
	// A match-anything expression must not flag an organisation the
	// database did not know.
	p := mustParse(t, "jurisdictions: [{name: any, as_orgs: ['.']}]")
	if v := evaluate(p, netip.MustParseAddr("203.0.113.1"), loc("DE", "DE", 64999, geo.Unknown)); v.Flagged() {
		t.Errorf("unknown organisation flagged: %+v", v)
	}
	if v := evaluate(p, netip.MustParseAddr("203.0.113.1"), loc("DE", "DE", 64999, "x")); v != (Verdict{Jurisdiction: "any", MatchedBy: MatchedASOrg, Excepted: ""}) {
		t.Errorf("known organisation: %+v", v)
	}
}

func TestEvaluateEmpty(t *testing.T) {
	for _, l := range testLocations {
		if v := evaluate(Empty(), netip.MustParseAddr("203.0.113.1"), &l); v != (Verdict{}) {
			t.Errorf("evaluate(Empty(), %+v) = %+v", l, v)
		}
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	p := mustParse(t, verdictPolicy)
	want := Verdict{Jurisdiction: "hosting", MatchedBy: MatchedASOrg, Excepted: ""}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if v := evaluate(p, netip.MustParseAddr("203.0.113.1"), loc("DE", "DE", 1, "Example Telecom")); v != want {
					t.Errorf("got %+v", v)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestIsLocal(t *testing.T) {
	p := mustParse(t, verdictPolicy)
	for addr, want := range map[string]bool{
		"198.51.100.1":        true,
		"::ffff:198.51.100.1": true,
		"198.51.101.1":        false,
		"2001:db8:100::1":     true,
		"2001:db8:101::1":     false,
		"10.0.0.1":            false, // private ranges are geo's business
	} {
		if got := p.IsLocal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsLocal(%s) = %v, want %v", addr, got, want)
		}
	}
	// LocalNetworks returns a copy.
	p.LocalNetworks()[0] = netip.MustParsePrefix("0.0.0.0/0")
	if p.IsLocal(netip.MustParseAddr("203.0.113.1")) {
		t.Error("LocalNetworks exposes the policy's storage")
	}
}

func TestFieldString(t *testing.T) {
	for f, want := range map[Field]string{MatchedNone: "", MatchedCountry: "country", MatchedRegisteredCountry: "registered_country", MatchedASN: "asn", MatchedASOrg: "as_org"} {
		if got := f.String(); got != want {
			t.Errorf("Field(%d).String() = %q, want %q", f, got, want)
		}
	}
}

func TestDescription(t *testing.T) {
	p := mustParse(t, "jurisdictions: [{name: a, description: 'the A list', countries: [RU]}]")
	if got := p.Description("a"); got != "the A list" {
		t.Errorf("Description(a) = %q", got)
	}
	if got := p.Description("b"); got != "" {
		t.Errorf("Description(b) = %q", got)
	}
}

// BenchmarkEvaluate measures the verdict of one new flow, for each way a
// verdict is reached. Evaluate must not allocate.
func BenchmarkEvaluate(b *testing.B) {
	p, err := Load("../deploy/config/example.yml")
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("203.0.113.5")
	for _, bc := range []struct {
		name string
		loc  *geo.Location
	}{
		{"no-match", loc("BR", "BR", 64999, "Brasil Example Telecomunicacoes S.A.")},
		{"country", loc("KP", "KP", 64999, "Other")},
		{"asn", loc("BR", "BR", 64497, "Other")},
		{"as_org", loc("BR", "BR", 64999, "EXAMPLE CLOUD Servicos Ltda")},
		{"excepted", loc("KP", "KP", 64500, "Other")},
		{"special", &geo.Location{Class: geo.ClassPrivate}},
	} {
		if v := evaluate(p, addr, bc.loc); v.Flagged() != (bc.name != "no-match" && bc.name != "special" && bc.name != "excepted") {
			b.Fatalf("%s: unexpected verdict %+v", bc.name, v)
		}
		for _, cached := range []bool{true, false} {
			name := bc.name
			orgs := p.orgs
			if !cached {
				// What every verdict would cost without the cache.
				name += "/uncached"
				p.orgs = nil
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					evaluate(p, addr, bc.loc)
				}
			})
			p.orgs = orgs
		}
	}
}

func TestEvaluateAllocs(t *testing.T) {
	p := mustParse(t, verdictPolicy)
	addr := netip.MustParseAddr("192.0.2.10")
	for _, l := range []*geo.Location{loc("DE", "DE", 1, "Example Telecom"), loc("RU", "RU", 1, "x"), loc("DE", "DE", 1, "nothing here")} {
		if n := testing.AllocsPerRun(100, func() { evaluate(p, addr, l) }); n != 0 {
			t.Errorf("Evaluate(%+v) allocates %v times", l, n)
		}
	}
	nat64 := netip.MustParseAddr("64:ff9b::c000:20b")
	l := embedded(loc("RU", "RU", 1, "x"), geo.EmbedNAT64)
	if n := testing.AllocsPerRun(100, func() { evaluate(p, nat64, l) }); n != 0 {
		t.Errorf("Evaluate of a NAT64 address allocates %v times", n)
	}
}

func TestOrgCacheBounded(t *testing.T) {
	p := mustParse(t, verdictPolicy)
	addr := netip.MustParseAddr("203.0.113.1")
	for i := range orgCacheSize + 10 {
		org := fmt.Sprintf("Org %d", i)
		if i%100 == 0 {
			org = fmt.Sprintf("Example Telecom %d", i)
		}
		v := evaluate(p, addr, loc("BR", "BR", 1, org))
		if want := i%100 == 0; v.Flagged() != want {
			t.Fatalf("%s: flagged %v, want %v", org, v.Flagged(), want)
		}
	}
	if n := len(p.orgs.m); n > orgCacheSize {
		t.Errorf("org cache holds %d entries, more than %d", n, orgCacheSize)
	}
	// Cached answers stay right.
	if v := evaluate(p, addr, loc("BR", "BR", 1, "Example Telecom 4000")); v != (Verdict{Jurisdiction: "hosting", MatchedBy: MatchedASOrg, Excepted: ""}) {
		t.Errorf("cached: %+v", v)
	}
}

func TestManyOrgJurisdictions(t *testing.T) {
	// Past 64 jurisdictions with as_orgs there are no bits left for the
	// cache: expressions are matched directly.
	var b strings.Builder
	b.WriteString("jurisdictions:\n")
	for i := range 70 {
		fmt.Fprintf(&b, "  - {name: j%d, as_orgs: ['^Org %d$']}\n", i, i)
	}
	p := mustParse(t, b.String())
	if p.orgs != nil {
		t.Error("a cache for 70 jurisdictions with as_orgs")
	}
	for _, i := range []int{0, 63, 64, 69} {
		want := Verdict{Jurisdiction: fmt.Sprintf("j%d", i), MatchedBy: MatchedASOrg}
		if v := evaluate(p, netip.MustParseAddr("203.0.113.1"), loc("BR", "BR", 1, fmt.Sprintf("Org %d", i))); v != want {
			t.Errorf("Org %d: %+v, want %+v", i, v, want)
		}
	}
}
