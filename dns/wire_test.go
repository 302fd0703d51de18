package dns

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/events"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/policy"
)

// wireFrame builds an Ethernet/IPv4 frame with a UDP or TCP header and payload.
func wireFrame(tb testing.TB, proto layers.IPProtocol, src, dst string, sport, dport uint16, flags string, payload []byte) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	var l4 gopacket.SerializableLayer
	switch proto {
	case layers.IPProtocolUDP:
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		if err := u.SetNetworkLayerForChecksum(ip); err != nil {
			tb.Fatal(err)
		}
		l4 = u
	default:
		t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Window: 512,
			SYN: slices.Contains([]byte(flags), 'S'), ACK: slices.Contains([]byte(flags), 'A'), FIN: slices.Contains([]byte(flags), 'F'), PSH: len(payload) > 0}
		if err := t.SetNetworkLayerForChecksum(ip); err != nil {
			tb.Fatal(err)
		}
		l4 = t
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, gopacket.Payload(payload)); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

const wirePolicy = `
jurisdictions:
  - name: russia
    countries: [RU]
`

// wired is an accountant and a worker wired as the agent wires them: the
// cache as the first enricher and an inspector, the worker's DNS tap.
type wired struct {
	c      *Cache
	acct   *flow.Accountant
	w      *flow.Worker
	events []events.Event
	ts     int64
}

func newWired(t *testing.T, by flow.Grouping) *wired {
	t.Helper()
	p, err := policy.Parse([]byte(wirePolicy))
	if err != nil {
		t.Fatal(err)
	}
	x := &wired{c: New(Options{}), ts: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
	env := flow.NewEnv(geotest.Resolver(t), p, true)
	env.Enrichers = append(env.Enrichers, x.c)
	env.Inspectors = append(env.Inspectors, x.c.Inspector())
	cfg := flow.DefaultConfig()
	cfg.Grouping = by
	x.acct = flow.NewAccountant(env, cfg, flow.FlaggedFunc(func(ev *flow.Event) {
		x.events = append(x.events, events.FromFlow(ev, time.Unix(0, ev.Last)))
	}))
	x.w = flow.NewWorker(x.acct, true)
	x.w.DNS = x.c.NewTap()
	return x
}

func (x *wired) send(w *flow.Worker, data []byte) {
	x.ts += int64(time.Millisecond)
	w.Handle(&capture.Frame{Data: data, Link: capture.LinkEthernet, WireLen: uint32(len(data)), Timestamp: x.ts})
}

var chainAnswer = []rr{
	{name: "www.example.com.", cname: "edge.example.net.", ttl: 300},
	{name: "edge.example.net.", addr: "192.0.2.130", ttl: 60},
}

// TestWorkerFeedsEnricher: an answer read by the worker's tap names the
// flow that follows it, in the flagged-flow event and the domain grouping.
func TestWorkerFeedsEnricher(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto layers.IPProtocol
	}{{"udp", layers.IPProtocolUDP}, {"tcp", layers.IPProtocolTCP}} {
		t.Run(tc.name, func(t *testing.T) {
			x := newWired(t, flow.ByDomain)
			msg := response(t, "www.example.com.", chainAnswer, nil)
			if tc.proto == layers.IPProtocolUDP {
				x.send(x.w, wireFrame(t, tc.proto, "10.0.0.1", "10.0.0.53", 5353, 53, "", query(t, "www.example.com.")))
				x.send(x.w, wireFrame(t, tc.proto, "10.0.0.53", "10.0.0.1", 53, 5353, "", msg))
			} else {
				x.send(x.w, wireFrame(t, tc.proto, "10.0.0.1", "10.0.0.53", 40001, 53, "S", nil))
				x.send(x.w, wireFrame(t, tc.proto, "10.0.0.53", "10.0.0.1", 53, 40001, "SA", nil))
				// The length and the message in segments of their own, as servers often write them.
				x.send(x.w, wireFrame(t, tc.proto, "10.0.0.53", "10.0.0.1", 53, 40001, "A", binary.BigEndian.AppendUint16(nil, uint16(len(msg)))))
				x.send(x.w, wireFrame(t, tc.proto, "10.0.0.53", "10.0.0.1", 53, 40001, "A", msg))
			}
			x.send(x.w, wireFrame(t, layers.IPProtocolTCP, "10.0.0.1", "192.0.2.130", 40000, 443, "S", nil))
			x.send(x.w, wireFrame(t, layers.IPProtocolTCP, "192.0.2.130", "10.0.0.1", 443, 40000, "SA", nil))
			x.send(x.w, wireFrame(t, layers.IPProtocolTCP, "10.0.0.1", "198.51.100.20", 40002, 443, "S", nil)) // never answered
			x.w.Flush()
			if len(x.events) != 1 {
				t.Fatalf("events = %+v, want the one flagged flow", x.events)
			}
			ev := x.events[0]
			if ev.Domain != "www.example.com" || !slices.Equal(ev.CNAMEChain, []string{"edge.example.net"}) || ev.Jurisdiction != "russia" {
				t.Errorf("event domain %q chain %q jurisdiction %q, want www.example.com [edge.example.net] russia", ev.Domain, ev.CNAMEChain, ev.Jurisdiction)
			}
			got := map[string]uint64{}
			for _, g := range x.acct.Aggregates() {
				if !g.Key.Internal {
					got[g.Key.Domain+"/"+g.Key.Jurisdiction] += g.Flows[flow.To].Load() + g.Flows[flow.From].Load()
				}
			}
			want := map[string]uint64{"example.com/russia": 1, "/": 1}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("flows by domain = %v, want %v", got, want)
			}
		})
	}
}

// TestTapLongFlow: a resolver's upstream flow lasts far past the packets
// an inspector sees; the tap reads every answer of it.
func TestTapLongFlow(t *testing.T) {
	x := newWired(t, flow.ByLocation)
	for i := range 3 * 8 {
		name := fmt.Sprintf("n%d.example.org.", i)
		msg := response(t, name, []rr{{name: name, addr: fmt.Sprintf("203.0.113.%d", i+1), ttl: 60}}, nil)
		x.send(x.w, wireFrame(t, layers.IPProtocolUDP, "10.0.0.1", "198.51.100.53", 5300, 53, "", query(t, name)))
		x.send(x.w, wireFrame(t, layers.IPProtocolUDP, "198.51.100.53", "10.0.0.1", 53, 5300, "", msg))
	}
	for i := range 3 * 8 {
		chain, ok := x.c.Lookup(mustAddr(fmt.Sprintf("203.0.113.%d", i+1)), mustAddr("10.0.0.1"), x.ts)
		if want := fmt.Sprintf("n%d.example.org", i); !ok || chain[0] != want {
			t.Errorf("answer %d: %q, %v; want %s", i, chain, ok, want)
		}
	}
}

// TestLateAnswer: the answer is read on another worker after the flow's
// first packet on this one; the inspector names the flow on a later
// packet, and its event carries the name.
func TestLateAnswer(t *testing.T) {
	x := newWired(t, flow.ByLocation)
	other := flow.NewWorker(flow.NewAccountant(flow.NewEnv(geotest.Resolver(t), nil, true), flow.DefaultConfig()), true)
	other.DNS = x.c.NewTap()
	x.send(x.w, wireFrame(t, layers.IPProtocolTCP, "10.0.0.1", "192.0.2.130", 40000, 443, "S", nil))
	x.w.Acct.Drain() // the SYN's flow starts now, unnamed
	x.send(other, wireFrame(t, layers.IPProtocolUDP, "10.0.0.53", "10.0.0.1", 53, 5353, "", response(t, "www.example.com.", chainAnswer, nil)))
	x.send(x.w, wireFrame(t, layers.IPProtocolTCP, "192.0.2.130", "10.0.0.1", 443, 40000, "SA", nil))
	x.w.Flush()
	if len(x.events) != 1 || x.events[0].Domain != "www.example.com" {
		t.Fatalf("events = %+v, want one naming www.example.com", x.events)
	}
	if n := x.c.metrics.lateNames.Load(); n != 1 {
		t.Errorf("late names = %d, want 1", n)
	}
}

// BenchmarkWorkerTap is Worker.Handle on a known non-DNS flow with the DNS
// tap set (compare with flow's BenchmarkWorker, without it), and on a known
// DNS answer.
func BenchmarkWorkerTap(b *testing.B) {
	for _, tc := range []struct {
		name string
		data func(tb testing.TB) []byte
	}{
		{"other", func(tb testing.TB) []byte {
			return wireFrame(tb, layers.IPProtocolTCP, "10.0.0.1", "192.0.2.10", 40000, 443, "A", make([]byte, 1000))
		}},
		{"answer", func(tb testing.TB) []byte {
			return wireFrame(tb, layers.IPProtocolUDP, "10.0.0.53", "10.0.0.1", 53, 5353, "", response(tb, "www.example.com.", chainAnswer, nil))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, _ := policy.Parse([]byte(wirePolicy))
			c := New(Options{})
			env := flow.NewEnv(geotest.Resolver(b), p, true)
			env.Enrichers = append(env.Enrichers, c)
			env.Inspectors = append(env.Inspectors, c.Inspector())
			w := flow.NewWorker(flow.NewAccountant(env, flow.DefaultConfig()), true)
			w.DNS = c.NewTap()
			data := tc.data(b)
			f := capture.Frame{Data: data, Link: capture.LinkEthernet, WireLen: uint32(len(data))}
			b.ReportAllocs()
			for b.Loop() {
				f.Timestamp++
				w.Handle(&f)
			}
		})
	}
}

// TestTapTCPStates: more TCP connections from port 53 than a tap keeps
// framing for; a connection whose slot another took is counted, and a
// message whole in its segment is read whatever the state.
func TestTapTCPStates(t *testing.T) {
	x := newWired(t, flow.ByLocation)
	const conns = 3 * tcpStates
	for i := range conns {
		name := fmt.Sprintf("t%d.example.org.", i)
		msg := response(t, name, []rr{{name: name, addr: fmt.Sprintf("203.0.%d.%d", 113, i%250+1), ttl: 60}}, nil)
		seg := append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
		x.send(x.w, wireFrame(t, layers.IPProtocolTCP, "10.0.0.53", "10.0.0.1", 53, uint16(20000+i), "A", seg))
	}
	if n := x.c.metrics.messages[Decoded].Load(); n != conns {
		t.Errorf("decoded %d messages, want %d", n, conns)
	}
	if n := x.c.metrics.tcpReplaced.Load(); n == 0 || n > conns {
		t.Errorf("states replaced = %d, want between 1 and %d", n, conns)
	}
}
