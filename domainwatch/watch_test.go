package domainwatch

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/jurismon/jurismon/dns"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/policy"
)

const watchPolicy = `
jurisdictions:
  - name: russia
    countries: [RU]
domains:
  - name: telemetry.example.com
    countries: ["@eea"]
  - name: "*.cdn.example.net"
    countries: [US, RU]
`

// answer is a real DNS response: q, through the CNAME chain, to addr.
func answer(t *testing.T, chain []string, addr string, ttl uint32) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1, Response: true})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(chain[0] + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	must(b.StartAnswers())
	for i := 0; i+1 < len(chain); i++ {
		must(b.CNAMEResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(chain[i] + "."), Class: dnsmessage.ClassINET, TTL: ttl},
			dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(chain[i+1] + ".")}))
	}
	must(b.AResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(chain[len(chain)-1] + "."), Class: dnsmessage.ClassINET, TTL: ttl},
		dnsmessage.AResource{A: netip.MustParseAddr(addr).As4()}))
	msg, err := b.Finish()
	must(err)
	return msg
}

func TestWatcher(t *testing.T) {
	p, err := policy.Parse([]byte(watchPolicy))
	if err != nil {
		t.Fatal(err)
	}
	var reported []Violation
	w := New(func() *policy.Policy { return p }, geotest.Resolver(t), func(v *Violation) { reported = append(reported, *v) })
	c := dns.New(dns.Options{Answers: w, Grace: -1})
	client := netip.MustParseAddr("10.0.0.1")
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	sec := int64(time.Second)
	// In the test database 192.0.2.0/25 is DE, 192.0.2.128/25 RU, 198.51.100.0/24 US.
	c.Message(answer(t, []string{"telemetry.example.com"}, "192.0.2.10", 60), client, ts, false)                       // DE: allowed
	c.Message(answer(t, []string{"telemetry.example.com"}, "198.51.100.7", 60), client, ts+sec, false)                 // US: outside @eea
	c.Message(answer(t, []string{"telemetry.example.com"}, "198.51.100.8", 60), client, ts+2*sec, false)               // US again: counted, not reported again
	c.Message(answer(t, []string{"www.example.org", "a.cdn.example.net"}, "192.0.2.130", 30), client, ts+3*sec, false) // RU: allowed by the list, but flagged
	c.Message(answer(t, []string{"other.example.com"}, "198.51.100.9", 60), client, ts+4*sec, false)                   // not watched

	if len(reported) != 2 || reported[0].Watched != "telemetry.example.com" || reported[0].Location.Country != "US" ||
		reported[1].Watched != "*.cdn.example.net" || reported[1].Verdict.Jurisdiction != "russia" ||
		strings.Join(reported[1].Chain, ">") != "www.example.org>a.cdn.example.net" {
		t.Fatalf("reported %+v", reported)
	}
	want := `
# HELP jurismon_watched_domain_country 1 for each country the current answers (TTL and grace not passed, in packet time) of a watched name resolve to.
# TYPE jurismon_watched_domain_country gauge
jurismon_watched_domain_country{country="DE",domain="telemetry.example.com"} 1
jurismon_watched_domain_country{country="RU",domain="*.cdn.example.net"} 1
jurismon_watched_domain_country{country="US",domain="telemetry.example.com"} 1
# HELP jurismon_watched_domain_violations_total DNS answers for a watched name (the policy's domains entry) that pointed to an address outside its countries or into a flagged jurisdiction, by entry and the address's country.
# TYPE jurismon_watched_domain_violations_total counter
jurismon_watched_domain_violations_total{country="RU",domain="*.cdn.example.net"} 1
jurismon_watched_domain_violations_total{country="US",domain="telemetry.example.com"} 2
`
	if err := testutil.CollectAndCompare(w.Collector(), strings.NewReader(want), "jurismon_watched_domain_country", "jurismon_watched_domain_violations_total"); err != nil {
		t.Error(err)
	}
	// 40 s later the RU answer (TTL 30) has expired: the name no longer
	// resolves there. A new answer moves the watcher's clock.
	c.Message(answer(t, []string{"telemetry.example.com"}, "192.0.2.10", 60), client, ts+40*sec, false)
	want = `
# HELP jurismon_watched_domain_country 1 for each country the current answers (TTL and grace not passed, in packet time) of a watched name resolve to.
# TYPE jurismon_watched_domain_country gauge
jurismon_watched_domain_country{country="DE",domain="telemetry.example.com"} 1
jurismon_watched_domain_country{country="US",domain="telemetry.example.com"} 1
`
	if err := testutil.CollectAndCompare(w.Collector(), strings.NewReader(want), "jurismon_watched_domain_country"); err != nil {
		t.Error(err)
	}
	// Past the US answers' expiry a violation is reported again.
	c.Message(answer(t, []string{"telemetry.example.com"}, "198.51.100.7", 60), client, ts+120*sec, false)
	if len(reported) != 3 {
		t.Errorf("after expiry: %d reports, want 3", len(reported))
	}
}
