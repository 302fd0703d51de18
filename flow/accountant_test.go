package flow

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/policy"
)

const testPolicy = `
jurisdictions:
  - name: russia
    countries: [RU]
  - name: transit-as
    asns: [64503]
exceptions:
  - cidr: 192.0.2.200/32
    reason: approved exit
local_networks: [198.51.100.0/28]
`

func testEnv(t testing.TB) *Env {
	t.Helper()
	p, err := policy.Parse([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return NewEnv(geotest.Resolver(t), p, true)
}

// pkt builds a decoded packet; sizes are IP bytes.
func pkt(ts int, src, dst string, proto uint8, sport, dport uint16, size uint32) capture.Packet {
	return capture.Packet{
		Timestamp: int64(ts) * int64(time.Second),
		IPLen:     size, WireLen: size + 14,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: proto, SrcPort: sport, DstPort: dport, TTL: 60,
	}
}

type groupWant struct {
	key                      AggregateKey
	bytesTo, bytesFrom       uint64
	packetsTo, packetsFrom   uint64
	flowsTo, flowsFrom, host uint64
}

func groupsOf(a *Accountant) []groupWant {
	a.Sync()
	var out []groupWant
	for _, g := range a.Aggregates() {
		out = append(out, groupWant{
			key:     g.Key,
			bytesTo: g.Bytes[To].Load(), bytesFrom: g.Bytes[From].Load(),
			packetsTo: g.Packets[To].Load(), packetsFrom: g.Packets[From].Load(),
			flowsTo: g.Flows[To].Load(), flowsFrom: g.Flows[From].Load(), host: g.Hosts.Load(),
		})
	}
	return out
}

func TestAccountant(t *testing.T) {
	de := AggregateKey{Class: geo.ClassPublic, Country: "DE"}
	ru := AggregateKey{Class: geo.ClassPublic, Country: "RU", Jurisdiction: "russia", MatchedBy: policy.MatchedCountry}
	cn := AggregateKey{Class: geo.ClassPublic, Country: "CN", Jurisdiction: "transit-as", MatchedBy: policy.MatchedASN}
	cnUnknownAS := AggregateKey{Class: geo.ClassPublic, Country: "CN"}
	ruExcepted := AggregateKey{Class: geo.ClassPublic, Country: "RU", Excepted: "approved exit"}
	multicast := AggregateKey{Class: geo.ClassMulticast}
	tests := []struct {
		name    string
		packets []capture.Packet
		want    []groupWant
		dirs    [NumDirections]uint64 // bytes by direction
		flows   [NumDirections]uint64
	}{
		{
			name: "egress and reply are one flow",
			packets: []capture.Packet{
				pkt(1, "10.0.0.1", "192.0.2.10", 6, 40000, 443, 60),
				pkt(1, "192.0.2.10", "10.0.0.1", 6, 443, 40000, 1500),
				pkt(2, "10.0.0.1", "192.0.2.10", 6, 40000, 443, 40),
			},
			want:  []groupWant{{key: de, bytesTo: 100, bytesFrom: 1500, packetsTo: 2, packetsFrom: 1, flowsTo: 1, host: 1}},
			dirs:  [NumDirections]uint64{Egress: 100, Ingress: 1500},
			flows: [NumDirections]uint64{Egress: 1},
		},
		{
			name: "ingress flow, then a second host in the same group",
			packets: []capture.Packet{
				pkt(1, "192.0.2.129", "10.0.0.1", 17, 53, 5353, 100),
				pkt(1, "10.0.0.2", "192.0.2.130", 17, 5000, 53, 80),
			},
			want:  []groupWant{{key: ru, bytesTo: 80, bytesFrom: 100, packetsTo: 1, packetsFrom: 1, flowsTo: 1, flowsFrom: 1, host: 2}},
			dirs:  [NumDirections]uint64{Egress: 80, Ingress: 100},
			flows: [NumDirections]uint64{Egress: 1, Ingress: 1},
		},
		{
			name: "transit accounts both endpoints",
			packets: []capture.Packet{
				pkt(1, "192.0.2.10", "203.0.113.5", 1, 0, 0, 84),
			},
			want: []groupWant{
				{key: de, bytesFrom: 84, packetsFrom: 1, flowsFrom: 1, host: 1},
				{key: cn, bytesTo: 84, packetsTo: 1, flowsTo: 1, host: 1},
			},
			dirs:  [NumDirections]uint64{Transit: 84},
			flows: [NumDirections]uint64{Transit: 1},
		},
		{
			name: "internal and configured local networks are never resolved",
			packets: []capture.Packet{
				pkt(1, "10.0.0.1", "198.51.100.3", 6, 1, 2, 500),
				pkt(1, "fe80::1", "fd00::2", 58, 0, 0, 72),
			},
			dirs:  [NumDirections]uint64{Internal: 572},
			flows: [NumDirections]uint64{Internal: 2},
		},
		{
			name: "exception, unknown AS and special-purpose remote",
			packets: []capture.Packet{
				pkt(1, "10.0.0.1", "192.0.2.200", 6, 1, 2, 40),
				pkt(1, "10.0.0.1", "203.0.113.200", 6, 1, 2, 41),
				pkt(1, "192.0.2.20", "ff02::1", 58, 0, 0, 42),
			},
			want: []groupWant{
				{key: ruExcepted, bytesTo: 40, packetsTo: 1, flowsTo: 1, host: 1},
				{key: cnUnknownAS, bytesTo: 41, packetsTo: 1, flowsTo: 1, host: 1},
				{key: de, bytesFrom: 42, packetsFrom: 1, flowsFrom: 1, host: 1},
				{key: multicast, bytesTo: 42, packetsTo: 1, flowsTo: 1, host: 1},
			},
			dirs:  [NumDirections]uint64{Egress: 81, Transit: 42},
			flows: [NumDirections]uint64{Egress: 2, Transit: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Grouping = ByCountry
			a := NewAccountant(testEnv(t), cfg)
			for i := range tt.packets {
				a.Add(&tt.packets[i])
			}
			got := groupsOf(a)
			if !slices.Equal(got, tt.want) {
				t.Errorf("groups:\n got %+v\nwant %+v", got, tt.want)
			}
			for d := range NumDirections {
				if b := a.Totals.Bytes[d]; b != tt.dirs[d] {
					t.Errorf("%s bytes = %d, want %d", d, b, tt.dirs[d])
				}
				if f := a.Totals.Flows[d]; f != tt.flows[d] {
					t.Errorf("%s flows = %d, want %d", d, f, tt.flows[d])
				}
			}
		})
	}
}

func TestGroupings(t *testing.T) {
	packets := []capture.Packet{
		pkt(1, "10.0.0.1", "192.0.2.10", 6, 1, 443, 100),
		pkt(1, "10.0.0.2", "192.0.2.11", 6, 1, 443, 200),
		pkt(1, "10.0.0.1", "2001:db8:1::1", 6, 1, 443, 300),
	}
	tests := []struct {
		by   Grouping
		want int // number of groups
		key  AggregateKey
	}{
		{ByCountry, 1, AggregateKey{Class: geo.ClassPublic, Country: "DE"}},
		{ByASN, 1, AggregateKey{Class: geo.ClassPublic, ASN: 64500, ASOrg: "Example Carrier GmbH"}},
		{ByLocation, 1, AggregateKey{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64500, ASOrg: "Example Carrier GmbH"}},
		{ByRemote, 3, AggregateKey{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64500, ASOrg: "Example Carrier GmbH", Remote: netip.MustParseAddr("192.0.2.10")}},
		{ByLocalRemote, 3, AggregateKey{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64500, ASOrg: "Example Carrier GmbH", Remote: netip.MustParseAddr("192.0.2.10"), Local: netip.MustParseAddr("10.0.0.1")}},
	}
	for _, tt := range tests {
		t.Run(tt.by.String(), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Grouping = tt.by
			a := NewAccountant(testEnv(t), cfg)
			for i := range packets {
				a.Add(&packets[i])
			}
			gs := a.Aggregates()
			if len(gs) != tt.want {
				t.Fatalf("%d groups, want %d", len(gs), tt.want)
			}
			if gs[0].Key != tt.key {
				t.Errorf("first key = %+v, want %+v", gs[0].Key, tt.key)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Grouping = ByRemote
	cfg.MaxFlows, cfg.MaxAggregates, cfg.MaxHosts = 4, 3, 5
	cfg.IdleTimeout = 10 * time.Second
	a := NewAccountant(testEnv(t), cfg)
	// Ten remote hosts in one second: the table holds 4 flows, 3 groups,
	// and 5 hosts; the rest is evicted, folded or not counted, and counted.
	for i := range 10 {
		p := pkt(1, "10.0.0.1", netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}).String(), 17, 1, 53, 100)
		a.Add(&p)
	}
	if got := a.Stats.FlowEntries.Load(); got != 4 {
		t.Errorf("flow entries = %d, want 4", got)
	}
	if got := a.Stats.FlowsEvicted.Load(); got != 6 {
		t.Errorf("evicted = %d, want 6", got)
	}
	if got := len(a.Aggregates()); got != 4 { // 3 groups + 1 folded
		t.Errorf("groups = %d, want 4", got)
	}
	if got := a.Folded(); got != 7 {
		t.Errorf("folded = %d, want 7", got)
	}
	var bytes, hosts uint64
	a.Sync()
	for _, g := range a.Aggregates() {
		bytes += g.Bytes[To].Load()
		hosts += g.Hosts.Load()
	}
	if bytes != 1000 {
		t.Errorf("bytes = %d, want 1000: folding must not lose traffic", bytes)
	}
	if hosts != 5 || a.Stats.HostsUntracked.Load() != 5 {
		t.Errorf("hosts = %d, untracked %d; want 5 and 5", hosts, a.Stats.HostsUntracked.Load())
	}
	// A packet 11 s later expires every idle flow.
	p := pkt(12, "10.0.0.1", "192.0.2.99", 17, 1, 53, 100)
	a.Add(&p)
	if got := a.Stats.FlowsExpired.Load(); got != 4 {
		t.Errorf("expired = %d, want 4", got)
	}
	if got := a.Stats.FlowEntries.Load(); got != 1 {
		t.Errorf("flow entries after expiry = %d, want 1", got)
	}
}

// TestIdleExact: expiry runs from the LRU tail, which lags by up to
// moveEvery, so a flow idle past the timeout can still be in the table when
// its next packet comes; that packet must start a new flow all the same.
// Table-driven over moveEvery: 1s (live, with PublishEvery) and 4s (analyze
// at the default idle timeout).
func TestIdleExact(t *testing.T) {
	at := func(sec float64, dst string, sport uint16) capture.Packet {
		p := pkt(0, "10.0.0.1", dst, 17, sport, 53, 100)
		p.Timestamp = int64(sec * float64(time.Second))
		return p
	}
	for _, tc := range []struct {
		name    string
		idle    time.Duration
		publish time.Duration
		move    int64
	}{
		{"live", 10 * time.Second, time.Second, int64(time.Second)},
		{"analyze", 60 * time.Second, 0, int64(4 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.IdleTimeout, cfg.PublishEvery = tc.idle, tc.publish
			a := NewAccountant(testEnv(t), cfg)
			if a.moveEvery != tc.move {
				t.Fatalf("moveEvery = %v, want %v", time.Duration(a.moveEvery), time.Duration(tc.move))
			}
			idle := tc.idle.Seconds()
			half := time.Duration(tc.move / 2).Seconds()
			// W moves at 0 and keeps sending until just before its next
			// move: it stays at the LRU tail and stays live. X moves
			// after W, then stays quiet past the timeout.
			for _, p := range []capture.Packet{
				at(0, "192.0.2.10", 1000),
				at(half, "192.0.2.11", 2000),
				at(2*half-0.01, "192.0.2.10", 1000),
			} {
				a.Add(&p)
			}
			// X's next packet, idle+half after its last: W (Last just
			// under 2*half) is still live and blocks expiry from the tail.
			p := at(idle+2*half-0.02, "192.0.2.11", 2000)
			a.Add(&p)
			if got := a.Stats.FlowsExpired.Load(); got != 1 {
				t.Errorf("expired = %d, want 1 (X's first flow)", got)
			}
			var flows uint64
			for _, g := range groupsOf(a) {
				flows += g.flowsTo + g.flowsFrom
			}
			if flows != 3 {
				t.Errorf("flows = %d, want 3: W, and X twice", flows)
			}
		})
	}
}

func TestFlaggedEvents(t *testing.T) {
	var got []Event
	cfg := DefaultConfig()
	cfg.EventInterval = 30 * time.Second
	a := NewAccountant(testEnv(t), cfg, FlaggedFunc(func(e *Event) { got = append(got, *e) }))
	packets := []capture.Packet{
		pkt(0, "10.0.0.1", "192.0.2.129", 6, 40000, 443, 60),
		pkt(1, "192.0.2.129", "10.0.0.1", 6, 443, 40000, 1000),
		pkt(40, "10.0.0.1", "192.0.2.129", 6, 40000, 443, 52), // periodic report fires before this packet
		pkt(41, "10.0.0.1", "192.0.2.10", 6, 40001, 443, 52),  // not flagged: never reported
	}
	for i := range packets {
		a.Add(&packets[i])
	}
	a.Flush()
	if len(got) != 2 {
		t.Fatalf("%d events, want 2: %+v", len(got), got)
	}
	remote := netip.MustParseAddrPort("192.0.2.129:443")
	local := netip.MustParseAddrPort("10.0.0.1:40000")
	first, last := got[0], got[1]
	if first.Ended || first.BytesTo != 60 || first.BytesFrom != 1000 || first.Remote != remote || first.Local != local {
		t.Errorf("periodic event = %+v", first)
	}
	if !last.Ended || last.BytesTo != 112 || last.PacketsTo != 2 || last.Verdict.Jurisdiction != "russia" || last.Location.Country != "RU" {
		t.Errorf("final event = %+v", last)
	}
}

func TestHandshakeAndTTL(t *testing.T) {
	var rtts []time.Duration
	var ttls []uint8
	cfg := DefaultConfig()
	a := NewAccountant(testEnv(t), cfg,
		HandshakeFunc(func(_ *enrich.Facts, _ policy.Verdict, rtt time.Duration) { rtts = append(rtts, rtt) }),
		TTLFunc(func(_ netip.Addr, _ *geo.Location, ttl uint8) { ttls = append(ttls, ttl) }))
	syn := pkt(1, "10.0.0.1", "192.0.2.10", 6, 40000, 443, 60)
	syn.TCPFlags = tcpSYN
	synack := pkt(1, "192.0.2.10", "10.0.0.1", 6, 443, 40000, 60)
	synack.Timestamp += int64(25 * time.Millisecond)
	synack.TCPFlags = tcpSYN | tcpACK
	synack.TTL = 57
	ack := pkt(2, "192.0.2.10", "10.0.0.1", 6, 443, 40000, 52)
	ack.TCPFlags = tcpACK
	for _, p := range []capture.Packet{syn, synack, ack} {
		a.Add(&p)
	}
	if !slices.Equal(rtts, []time.Duration{25 * time.Millisecond}) {
		t.Errorf("rtts = %v", rtts)
	}
	if !slices.Equal(ttls, []uint8{57}) {
		t.Errorf("ttls = %v", ttls)
	}
}

// TestPublish: with PublishEvery, counts reach the shared aggregates within
// that time of the clock moving on, whether or not the flow sees another
// packet, so a scrape is never more than that stale.
func TestPublish(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PublishEvery = 250 * time.Millisecond
	a := NewAccountant(testEnv(t), cfg)
	base := int64(10 * time.Second)
	for i := range 3 {
		p := pkt(0, "10.0.0.1", "192.0.2.10", 17, 1, 53, 100)
		p.Timestamp = base + int64(i)*int64(time.Millisecond)
		a.Add(&p)
	}
	bytesTo := func() uint64 {
		var n uint64
		for _, g := range a.Aggregates() {
			n += g.Bytes[To].Load()
		}
		return n
	}
	steps := []struct {
		at   time.Duration // after base
		want uint64
	}{
		{at: 100 * time.Millisecond, want: 0},                   // not yet published
		{at: cfg.PublishEvery + 10*time.Millisecond, want: 300}, // the sweep published all three
		{at: 2 * time.Second, want: 300},                        // and nothing twice
	}
	for _, s := range steps {
		a.Tick(base + int64(s.at))
		if got := bytesTo(); got != s.want {
			t.Errorf("at +%v: %d bytes published, want %d", s.at, got, s.want)
		}
	}
}

// TestNoHosts: the live agent counts no hosts, and keeps no host set.
func TestNoHosts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NoHosts = true
	a := NewAccountant(testEnv(t), cfg)
	for i := range 5 {
		p := pkt(1, "10.0.0.1", netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}).String(), 17, 1, 53, 100)
		a.Add(&p)
	}
	for _, g := range a.Aggregates() {
		if n := g.Hosts.Load(); n != 0 {
			t.Errorf("group %+v counted %d hosts", g.Key, n)
		}
	}
	if a.hosts.n != 0 || a.Stats.HostsUntracked.Load() != 0 {
		t.Errorf("host set holds %d, untracked %d; want nothing", a.hosts.n, a.Stats.HostsUntracked.Load())
	}
}
