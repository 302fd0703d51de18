package dns

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	client  = netip.MustParseAddr("192.0.2.10")
	client2 = netip.MustParseAddr("192.0.2.11")
	t0      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
)

func chainOf(c *Cache, addr string, who netip.Addr, now int64) string {
	ch, ok := c.Lookup(netip.MustParseAddr(addr), who, now)
	if !ok {
		return "-"
	}
	return strings.Join(ch, ">")
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name   string
		msg    func(testing.TB) []byte
		cut    bool
		result Result
		want   map[string]string // address: chain joined by ">", "-" for none
	}{
		{
			name: "one A",
			msg: func(tb testing.TB) []byte {
				return response(tb, "www.example.com.", []rr{{name: "www.example.com.", addr: "203.0.113.5", ttl: 60}}, nil)
			},
			result: Decoded,
			want:   map[string]string{"203.0.113.5": "www.example.com", "203.0.113.6": "-"},
		},
		{
			name: "CNAME chain, A and AAAA, records out of order",
			msg: func(tb testing.TB) []byte {
				return response(tb, "www.example.com.", []rr{
					{name: "edge.cdn.example.net.", addr: "198.51.100.7", ttl: 20},
					{name: "www.example.com.", cname: "shop.example.org.", ttl: 300},
					{name: "edge.cdn.example.net.", addr: "2001:db8::7", ttl: 20},
					{name: "shop.example.org.", cname: "edge.cdn.example.net.", ttl: 300},
				}, nil)
			},
			result: Decoded,
			want: map[string]string{
				"198.51.100.7": "www.example.com>shop.example.org>edge.cdn.example.net",
				"2001:db8::7":  "www.example.com>shop.example.org>edge.cdn.example.net",
			},
		},
		{
			name: "0x20 case and the trailing dot",
			msg: func(tb testing.TB) []byte {
				return response(tb, "WwW.ExAmple.COM.", []rr{{name: "WwW.ExAmple.COM.", addr: "203.0.113.9", ttl: 60}}, nil)
			},
			result: Decoded,
			want:   map[string]string{"203.0.113.9": "www.example.com"},
		},
		{
			name: "additional section is not an answer",
			msg: func(tb testing.TB) []byte {
				return response(tb, "example.com.", []rr{{name: "example.com.", addr: "203.0.113.1", ttl: 60}},
					[]rr{{name: "ns1.example.com.", addr: "203.0.113.53", ttl: 60}})
			},
			result: Decoded,
			want:   map[string]string{"203.0.113.1": "example.com", "203.0.113.53": "-"},
		},
		{
			name: "blocking resolver's 0.0.0.0",
			msg: func(tb testing.TB) []byte {
				return response(tb, "ads.example.", []rr{{name: "ads.example.", addr: "0.0.0.0", ttl: 60}}, nil)
			},
			result: Decoded,
			want:   map[string]string{"0.0.0.0": "-"},
		},
		{
			name:   "query",
			msg:    func(tb testing.TB) []byte { return query(tb, "www.example.com.") },
			result: Ignored,
		},
		{
			name: "NXDOMAIN",
			msg: func(tb testing.TB) []byte {
				b := response(tb, "nx.example.", nil, nil)
				b[3] |= 3 // RCODE 3
				return b
			},
			result: Ignored,
		},
		{
			name:   "response without answers",
			msg:    func(tb testing.TB) []byte { return response(tb, "empty.example.", nil, nil) },
			result: Ignored,
		},
		{
			name: "cut after the first answer, as a first fragment is",
			msg: func(tb testing.TB) []byte {
				b := response(tb, "a.example.", []rr{{name: "a.example.", addr: "198.51.100.1", ttl: 60}, {name: "a.example.", addr: "198.51.100.2", ttl: 60}}, nil)
				return b[:len(b)-3]
			},
			cut:    true,
			result: Partial,
			want:   map[string]string{"198.51.100.1": "a.example", "198.51.100.2": "-"},
		},
		{
			name: "the same cut where none was expected",
			msg: func(tb testing.TB) []byte {
				b := response(tb, "a.example.", []rr{{name: "a.example.", addr: "198.51.100.1", ttl: 60}, {name: "a.example.", addr: "198.51.100.2", ttl: 60}}, nil)
				return b[:len(b)-3]
			},
			result: Malformed,
			want:   map[string]string{"198.51.100.1": "a.example", "198.51.100.2": "-"},
		},
		{
			name:   "short header",
			msg:    func(testing.TB) []byte { return []byte{0x42, 0x42, 0x80} },
			result: Malformed,
		},
		{
			name: "compression pointer loop",
			msg: func(tb testing.TB) []byte {
				b := response(tb, "a.example.", []rr{{name: "a.example.", addr: "198.51.100.1", ttl: 60}}, nil)
				// The answer's owner is a pointer (0xc0 0x0c) to the question;
				// point it at itself.
				i := len(b) - 16
				binary.BigEndian.PutUint16(b[i:], 0xc000|uint16(i))
				return b
			},
			result: Malformed,
			want:   map[string]string{"198.51.100.1": "-"},
		},
		{
			name: "name with a control byte",
			msg: func(tb testing.TB) []byte {
				return response(tb, "a.example.", []rr{{name: "a\x01b.example.", addr: "198.51.100.3", ttl: 60}}, nil)
			},
			result: Decoded,
			want:   map[string]string{"198.51.100.3": "-"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			if got := c.Message(tt.msg(t), client, t0, tt.cut); got != tt.result {
				t.Errorf("result %v, want %v", got, tt.result)
			}
			for addr, want := range tt.want {
				if got := chainOf(c, addr, client, t0+time.Second.Nanoseconds()); got != want {
					t.Errorf("%s: %q, want %q", addr, got, want)
				}
			}
		})
	}
}

func TestNamesPerAddress(t *testing.T) {
	c := New(Options{})
	addr := netip.MustParseAddr("203.0.113.80")
	for i := range NamesPerAddress + 1 {
		name := fmt.Sprintf("n%d.example.", i)
		c.Message(response(t, name, []rr{{name: name, addr: addr.String(), ttl: 600}}, nil), client, t0+int64(i), false)
	}
	// Answered again: moves to the front without a new entry.
	c.Message(response(t, "n2.example.", []rr{{name: "n2.example.", addr: addr.String(), ttl: 600}}, nil), client2, t0+100, false)
	var got []string
	for _, n := range c.Names(addr) {
		got = append(got, n.Chain[0]+"@"+n.Client.String())
	}
	want := []string{"n2.example@192.0.2.11", "n4.example@192.0.2.10", "n3.example@192.0.2.10", "n1.example@192.0.2.10"}
	if !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
	if got := c.metrics.nameEvictions.Load(); got != 1 {
		t.Errorf("name evictions %d, want 1", got)
	}
	// Who asked: client prefers its own latest answer, others get the latest.
	for who, want := range map[netip.Addr]string{client: "n4.example", client2: "n2.example", netip.MustParseAddr("192.0.2.99"): "n2.example"} {
		if got := chainOf(c, addr.String(), who, t0+200); got != want {
			t.Errorf("lookup for %v: %q, want %q", who, got, want)
		}
	}
}

func TestTTL(t *testing.T) {
	c := New(Options{Grace: 30 * time.Second, MaxTTL: time.Hour})
	c.Message(response(t, "short.example.", []rr{{name: "short.example.", addr: "203.0.113.1", ttl: 10}}, nil), client, t0, false)
	c.Message(response(t, "long.example.", []rr{{name: "long.example.", addr: "203.0.113.2", ttl: 7 * 86400}}, nil), client, t0, false)
	at := func(d time.Duration) int64 { return t0 + d.Nanoseconds() }
	for _, tc := range []struct {
		addr string
		at   time.Duration
		want string
	}{
		{"203.0.113.1", 39 * time.Second, "short.example"}, // TTL 10s + grace 30s
		{"203.0.113.1", 40 * time.Second, "-"},
		{"203.0.113.2", time.Hour, "long.example"},       // capped at MaxTTL
		{"203.0.113.2", time.Hour + 30*time.Second, "-"}, // plus grace
	} {
		if got := chainOf(c, tc.addr, client, at(tc.at)); got != tc.want {
			t.Errorf("%s after %v: %q, want %q", tc.addr, tc.at, got, tc.want)
		}
	}
	if got := c.Len(at(50 * time.Second)); got != 1 {
		t.Errorf("Len %d, want 1", got)
	}
}

func TestCapacity(t *testing.T) {
	c := New(Options{Capacity: 1})
	if c.Capacity() != numShards*ways {
		t.Fatalf("capacity %d, want the minimum %d", c.Capacity(), numShards*ways)
	}
	const n = 5000
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		c.Message(response(t, "x.example.", []rr{{name: "x.example.", addr: a.String(), ttl: 600}}, nil), client, t0+int64(i), false)
	}
	held := c.Len(t0 + n)
	if held > c.Capacity() || held < c.Capacity()/2 {
		t.Errorf("held %d of capacity %d", held, c.Capacity())
	}
	if ev := c.metrics.evictions.Load(); int(ev) != n-held {
		t.Errorf("evictions %d, want %d (answered %d, held %d)", ev, n-held, n, held)
	}
	// The most recent answer is always kept.
	if got := chainOf(c, "198.51.19.135", client, t0+n); got != "x.example" { // 4999 = 19<<8 | 135
		t.Errorf("latest address: %q", got)
	}
	// Expired addresses are reused without counting an eviction.
	before := c.metrics.evictions.Load()
	late := t0 + (time.Hour).Nanoseconds()
	c.Message(response(t, "y.example.", []rr{{name: "y.example.", addr: "203.0.113.200", ttl: 60}}, nil), client, late, false)
	if c.metrics.evictions.Load() != before {
		t.Errorf("an expired slot was counted as an eviction")
	}
}

func frame(payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	return append(b, payload...)
}

func TestFeed(t *testing.T) {
	resolver := netip.MustParseAddr("192.0.2.53")
	m1 := response(t, "one.example.", []rr{{name: "one.example.", addr: "203.0.113.1", ttl: 60}}, nil)
	m2 := response(t, "two.example.", []rr{{name: "two.example.", addr: "203.0.113.2", ttl: 60}}, nil)
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }
	tests := []struct {
		name     string
		proto    uint8
		srcPort  uint16
		fragment bool
		segments [][]byte
		done     bool
		results  [numResults]uint64
		want     map[string]string
	}{
		{name: "udp", proto: protoUDP, srcPort: 53, segments: [][]byte{m1}, results: [numResults]uint64{Decoded: 1},
			want: map[string]string{"203.0.113.1": "one.example"}},
		{name: "udp first fragment", proto: protoUDP, srcPort: 53, fragment: true, segments: [][]byte{m1[:len(m1)-2]},
			results: [numResults]uint64{Partial: 1}, want: map[string]string{"203.0.113.1": "-"}},
		{name: "udp query", proto: protoUDP, srcPort: 40000, segments: [][]byte{query(t, "one.example.")}},
		{name: "not dns", proto: protoUDP, srcPort: 443, segments: [][]byte{m1}, done: true, want: map[string]string{"203.0.113.1": "-"}},
		{name: "tcp two messages in a segment", proto: protoTCP, srcPort: 53, segments: [][]byte{nil, cat(frame(m1), frame(m2))},
			results: [numResults]uint64{Decoded: 2}, want: map[string]string{"203.0.113.1": "one.example", "203.0.113.2": "two.example"}},
		{name: "tcp length written apart", proto: protoTCP, srcPort: 53, segments: [][]byte{frame(nil)[:0:0], frame(m1)[:2], m1, frame(m2)},
			results: [numResults]uint64{Decoded: 2}, want: map[string]string{"203.0.113.1": "one.example", "203.0.113.2": "two.example"}},
		{name: "tcp message across segments", proto: protoTCP, srcPort: 53, segments: [][]byte{frame(m1)[:20], m1[18:], frame(m2)},
			done: true, results: [numResults]uint64{Partial: 1}, want: map[string]string{"203.0.113.1": "-", "203.0.113.2": "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			var st enrich.State
			done := false
			for _, seg := range tt.segments {
				p := capture.Packet{Timestamp: t0, Src: resolver, Dst: client, Proto: tt.proto, SrcPort: tt.srcPort, DstPort: 40000, Fragment: tt.fragment}
				if tt.srcPort != 53 && tt.srcPort != 443 {
					p.DstPort = 53
				}
				if done = c.Feed(&st, &p, seg); done {
					break
				}
			}
			if done != tt.done {
				t.Errorf("done %v, want %v", done, tt.done)
			}
			for r := range numResults {
				if got := c.metrics.messages[r].Load(); got != tt.results[r] {
					t.Errorf("%v messages: %d, want %d", r, got, tt.results[r])
				}
			}
			for addr, want := range tt.want {
				if got := chainOf(c, addr, client, t0); got != want {
					t.Errorf("%s: %q, want %q", addr, got, want)
				}
			}
		})
	}
}

func TestEnrich(t *testing.T) {
	c := New(Options{})
	c.Message(response(t, "www.example.com.", []rr{
		{name: "www.example.com.", cname: "edge.example.net.", ttl: 60},
		{name: "edge.example.net.", addr: "203.0.113.44", ttl: 60},
	}, nil), client, t0, false)
	remote := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.44"), 443)
	f := enrich.Facts{Local: netip.AddrPortFrom(client, 50000), Remote: remote, Proto: protoTCP}
	c.Enrich(&f, &capture.Packet{Timestamp: t0 + 1})
	want := enrich.Domain{Name: "www.example.com", CNAMEChain: []string{"edge.example.net"}, Source: "dns"}
	if f.Domain.Name != want.Name || !slices.Equal(f.Domain.CNAMEChain, want.CNAMEChain) || f.Domain.Source != want.Source {
		t.Errorf("domain %+v, want %+v", f.Domain, want)
	}
	// A name set by another enricher stays.
	g := enrich.Facts{Local: f.Local, Remote: remote, Domain: enrich.Domain{Name: "sni.example", Source: "sni"}}
	c.Enrich(&g, &capture.Packet{Timestamp: t0 + 1})
	if g.Domain.Name != "sni.example" {
		t.Errorf("SNI name replaced by %q", g.Domain.Name)
	}
	// Unknown address, and a known one after its TTL and grace.
	for _, tc := range []struct {
		remote string
		at     int64
	}{{"203.0.113.45", t0 + 1}, {"203.0.113.44", t0 + (60*time.Second + DefaultGrace).Nanoseconds()}} {
		h := enrich.Facts{Local: f.Local, Remote: netip.AddrPortFrom(netip.MustParseAddr(tc.remote), 443)}
		c.Enrich(&h, &capture.Packet{Timestamp: tc.at})
		if h.Domain.Name != "" {
			t.Errorf("%s at %d: named %q", tc.remote, tc.at-t0, h.Domain.Name)
		}
	}
}

func TestRegistrable(t *testing.T) {
	for name, want := range map[string]string{
		"www.example.com":      "example.com",
		"a.b.example.co.uk":    "example.co.uk",
		"example.com":          "example.com",
		"co.uk":                "co.uk",
		"foo.s3.amazonaws.com": "foo.s3.amazonaws.com", // a private suffix of the list
		"host.internal":        "host.internal",
		"":                     "",
	} {
		if got := Registrable(name); got != want {
			t.Errorf("Registrable(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestCollector(t *testing.T) {
	c := New(Options{Capacity: 1})
	c.Message(response(t, "a.example.", []rr{{name: "a.example.", addr: "203.0.113.1", ttl: 60}, {name: "a.example.", addr: "2001:db8::1", ttl: 60}}, nil), client, t0, false)
	c.Message(query(t, "a.example."), client, t0, false)
	c.Message([]byte{1, 2, 3}, client, t0, false)
	want := `
# HELP jurismon_dns_addresses Answered addresses held in the passive DNS map with a name still offered (TTL and grace not passed, in packet time).
# TYPE jurismon_dns_addresses gauge
jurismon_dns_addresses 2
# HELP jurismon_dns_addresses_capacity Addresses the passive DNS map holds at most.
# TYPE jurismon_dns_addresses_capacity gauge
jurismon_dns_addresses_capacity 256
# HELP jurismon_dns_answers_total A and AAAA answers stored in the passive DNS map.
# TYPE jurismon_dns_answers_total counter
jurismon_dns_answers_total 2
# HELP jurismon_dns_evictions_total Names forgotten before they expired, by what: address (the map was full: the least recently answered address of its set went) or name (an address answered for more names than it keeps: the oldest name went).
# TYPE jurismon_dns_evictions_total counter
jurismon_dns_evictions_total{what="address"} 0
jurismon_dns_evictions_total{what="name"} 0
# HELP jurismon_dns_late_names_total Flows named after they started: the answer was read (on another capture worker) after the flow's first packet.
# TYPE jurismon_dns_late_names_total counter
jurismon_dns_late_names_total 0
# HELP jurismon_dns_messages_total DNS responses read from the wire, by result: decoded, partial (cut short by a fragment or a TCP segment), ignored (queries, error responses), malformed.
# TYPE jurismon_dns_messages_total counter
jurismon_dns_messages_total{result="decoded"} 1
jurismon_dns_messages_total{result="ignored"} 1
jurismon_dns_messages_total{result="malformed"} 1
jurismon_dns_messages_total{result="partial"} 0
# HELP jurismon_dns_tcp_states_replaced_total TCP connections from port 53 whose framing state another connection took (each worker keeps a fixed number): the next message of the connection may be misread.
# TYPE jurismon_dns_tcp_states_replaced_total counter
jurismon_dns_tcp_states_replaced_total 0
`
	if err := testutil.CollectAndCompare(c.Collector(), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestConcurrent stores from the packet path while flows look up, as the
// agent's workers do (run with -race).
func TestConcurrent(t *testing.T) {
	c := New(Options{Capacity: 1})
	msgs := make([][]byte, 64)
	for i := range msgs {
		a := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
		name := fmt.Sprintf("n%d.example.", i%5)
		msgs[i] = response(t, name, []rr{{name: name, addr: a.String(), ttl: 60}}, nil)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				if w%2 == 0 {
					c.Message(msgs[i%len(msgs)], client, t0+int64(i), false)
					continue
				}
				f := enrich.Facts{Local: netip.AddrPortFrom(client, 1), Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 443)}
				c.Enrich(&f, &capture.Packet{Timestamp: t0 + int64(i)})
				if f.Domain.Name != "" && !strings.HasSuffix(f.Domain.Name, ".example") {
					t.Errorf("name %q", f.Domain.Name)
				}
			}
		})
	}
	wg.Wait()
	if got := c.metrics.messages[Decoded].Load(); got != 4000 {
		t.Errorf("decoded %d, want 4000", got)
	}
}
