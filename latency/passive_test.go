package latency

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPassiveHandshake(t *testing.T) {
	reg := prometheus.NewRegistry()
	frankfurt := LatLon{50.11, 8.68}
	p := NewPassiveRTT(PassiveOptions{Origin: Origin{Point: &frankfurt}})
	if err := reg.Register(p.Collector()); err != nil {
		t.Fatal(err)
	}
	minUS, _ := MinRTT(frankfurt, "US")
	remote := netip.MustParseAddr("203.0.113.5")
	for _, c := range []struct {
		country, jur string
		rtt          time.Duration
	}{
		{"US", "", minUS / 2},                                // implausible
		{"US", "", minUS + 10*time.Millisecond},              // ordinary
		{"US", "", 2*minUS + DetourSlack + time.Millisecond}, // detour
		{"DE", "", 80 * time.Millisecond},                    // detour (min 0, 50ms slack)
		{"RU", "RU-flagged", 30 * time.Millisecond},          // flagged histogram
		{"Narnia", "", 5 * time.Millisecond},                 // unknown country
		{"US", "", 0},                                        // ignored
	} {
		p.ObserveHandshake(remote, c.country, c.jur, c.rtt)
	}
	want := `# HELP jurismon_rtt_detours_total Handshakes whose RTT exceeds 2 × the physical minimum for the remote country + 50ms.
# TYPE jurismon_rtt_detours_total counter
jurismon_rtt_detours_total{country="DE"} 1
jurismon_rtt_detours_total{country="RU"} 0
jurismon_rtt_detours_total{country="US"} 1
# HELP jurismon_rtt_implausible_total Handshakes whose RTT is below the physical minimum for the country the database claims.
# TYPE jurismon_rtt_implausible_total counter
jurismon_rtt_implausible_total{country="DE"} 0
jurismon_rtt_implausible_total{country="RU"} 0
jurismon_rtt_implausible_total{country="US"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jurismon_rtt_detours_total", "jurismon_rtt_implausible_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(p.rtt); n != 4 { // US, DE, RU, unknown
		t.Errorf("%d rtt series, want 4", n)
	}
	if n := testutil.CollectAndCount(p.flaggedRTT); n != 1 {
		t.Errorf("%d flagged rtt series, want 1", n)
	}
}

func TestPassiveTTL(t *testing.T) {
	reg := prometheus.NewRegistry()
	var hinted []netip.Addr
	p := NewPassiveRTT(PassiveOptions{MaxPrefixes: 4, OnHopChange: func(a netip.Addr) { hinted = append(hinted, a) }})
	if err := reg.Register(p.Collector()); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("198.51.100.10")
	b := netip.MustParseAddr("198.51.100.77") // same /24
	for _, ttl := range []uint8{52, 52, 50, 52, 50, 50, 50} {
		// 12 hops; one odd 14 (no change); then 14 twice: one change.
		p.ObserveTTL(a, "NL", ttl)
	}
	p.ObserveTTL(b, "NL", 114) // 128-114 = 14 hops: same prefix, same count
	if got := testutil.ToFloat64(p.hopChanges.WithLabelValues("NL")); got != 1 {
		t.Errorf("hop count changes %v, want 1", got)
	}
	if len(hinted) != 1 || hinted[0] != a {
		t.Errorf("hints %v, want [%v]", hinted, a)
	}
	// Bounded: many prefixes never grow the maps past MaxPrefixes.
	for i := range 100 {
		p.ObserveTTL(netip.AddrFrom4([4]byte{203, 0, byte(i), 1}), "NL", 60)
	}
	if n := len(p.cur) + len(p.old); n > 4 {
		t.Errorf("%d prefixes remembered, bound is 4", n)
	}
	for _, c := range []struct{ ttl, want uint8 }{{1, 64}, {64, 64}, {65, 128}, {128, 128}, {200, 255}, {255, 255}} {
		if got := InitialTTL(c.ttl); got != c.want {
			t.Errorf("InitialTTL(%d) = %d, want %d", c.ttl, got, c.want)
		}
	}
}
