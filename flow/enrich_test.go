package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// domains is an enricher naming remote addresses from a fixed table, and
// counting its calls.
type domains struct {
	names map[netip.Addr]string
	calls int
}

func (d *domains) Enrich(f *enrich.Facts, p *capture.Packet) {
	d.calls++
	if f.Location == nil {
		panic("the geo enricher did not run first")
	}
	if n, ok := d.names[f.Remote.Addr()]; ok {
		f.Domain = enrich.Domain{Name: n, Source: "dns"}
	}
}

func TestEnrichersOncePerFlow(t *testing.T) {
	d := &domains{names: map[netip.Addr]string{netip.MustParseAddr("192.0.2.129"): "ru.example"}}
	env := testEnv(t)
	env.Enrichers = []enrich.Enricher{d}
	var events []Event
	var domainsSeen []string
	a := NewAccountant(env, DefaultConfig(), FlaggedFunc(func(e *Event) {
		events = append(events, *e)
		domainsSeen = append(domainsSeen, e.Facts.Domain.Name)
	}))
	packets := []capture.Packet{
		pkt(0, "10.0.0.1", "192.0.2.129", 6, 40000, 443, 60),
		pkt(1, "192.0.2.129", "10.0.0.1", 6, 443, 40000, 1000),
		pkt(2, "10.0.0.1", "192.0.2.129", 6, 40000, 443, 52),
		pkt(3, "10.0.0.1", "192.0.2.10", 6, 40001, 443, 52),
		pkt(4, "10.0.0.1", "10.0.0.2", 6, 40002, 22, 52), // internal: no remote endpoint to enrich
	}
	for i := range packets {
		a.Add(&packets[i])
	}
	a.Flush()
	if d.calls != 2 {
		t.Errorf("enricher called %d times, want 2 (once per flow with a remote endpoint)", d.calls)
	}
	if len(events) != 1 || domainsSeen[0] != "ru.example" || events[0].Location.Country != "RU" {
		t.Fatalf("events = %+v, domains %q", events, domainsSeen)
	}
	if f := events[0]; f.Local != netip.MustParseAddrPort("10.0.0.1:40000") || f.Remote != netip.MustParseAddrPort("192.0.2.129:443") {
		t.Errorf("event endpoints = %v → %v", f.Local, f.Remote)
	}
}

// exitInspector confirms a tunnel once it has seen a packet in each
// direction, and then knows the tunnel's exit: it moves the flow's location
// there, which the policy judges again.
type exitInspector struct {
	exit *geo.Location
	seen int // packets inspected, over all flows
}

func (x *exitInspector) Inspect(s *enrich.State, f *enrich.Facts, p *capture.Packet, fromLocal bool) (changed, done bool) {
	x.seen++
	if fromLocal {
		s[0] = 1
	} else {
		s[1] = 1
	}
	if s[0] == 0 || s[1] == 0 {
		return false, false
	}
	f.Tunnel = enrich.Tunnel{Protocol: "test"}
	f.Location = x.exit
	return true, true
}

// curious never says done.
type curious struct{ seen int }

func (c *curious) Inspect(*enrich.State, *enrich.Facts, *capture.Packet, bool) (bool, bool) {
	c.seen++
	return false, false
}

func TestInspectorRejudges(t *testing.T) {
	exit := &geo.Location{Class: geo.ClassPublic, Country: "RU", RegisteredCountry: "RU", ASN: 64501}
	x := &exitInspector{exit: exit}
	c := &curious{}
	env := testEnv(t)
	env.Inspectors = []enrich.Inspector{x, c}
	var events []Event
	a := NewAccountant(env, DefaultConfig(), FlaggedFunc(func(e *Event) { events = append(events, *e) }))
	var packets []capture.Packet
	packets = append(packets,
		pkt(0, "10.0.0.1", "192.0.2.10", 17, 40000, 51820, 100),
		pkt(0, "10.0.0.1", "192.0.2.10", 17, 40000, 51820, 100),
		pkt(0, "192.0.2.10", "10.0.0.1", 17, 51820, 40000, 200), // confirmed: from here on, RU
	)
	for range 20 {
		packets = append(packets, pkt(1, "10.0.0.1", "192.0.2.10", 17, 40000, 51820, 10))
	}
	for i := range packets {
		a.Add(&packets[i])
	}
	a.Flush()
	if x.seen != 3 {
		t.Errorf("exit inspector saw %d packets, want 3 (done after the reply)", x.seen)
	}
	if c.seen != enrich.MaxInspected {
		t.Errorf("never-done inspector saw %d packets, want %d", c.seen, enrich.MaxInspected)
	}
	if len(events) != 1 {
		t.Fatalf("%d events, want 1: %+v", len(events), events)
	}
	ev := events[0]
	if ev.Verdict.Jurisdiction != "russia" || ev.Location != exit || ev.Facts.Tunnel.Protocol != "test" {
		t.Errorf("event = %+v, facts %+v", ev, ev.Facts)
	}
	// Whole flow in the event; the aggregates split at the verdict change.
	if ev.BytesTo != 400 || ev.BytesFrom != 200 {
		t.Errorf("event bytes to %d from %d, want 400 and 200", ev.BytesTo, ev.BytesFrom)
	}
	de := AggregateKey{Class: geo.ClassPublic, Country: "DE"}
	ru := AggregateKey{Class: geo.ClassPublic, Country: "RU", Jurisdiction: "russia", MatchedBy: policy.MatchedCountry}
	got := map[AggregateKey]groupWant{}
	for _, g := range groupsOf(a) {
		g.key.ASN, g.key.ASOrg, g.key.RegisteredCountry = 0, "", ""
		got[g.key] = g
	}
	// The packet that confirms is counted before the flow is judged again.
	if g := got[de]; g.bytesTo != 200 || g.bytesFrom != 200 || g.flowsTo != 1 {
		t.Errorf("DE aggregate = %+v, want the first three packets and the flow", g)
	}
	if g := got[ru]; g.bytesTo != 200 || g.packetsTo != 20 || g.bytesFrom != 0 || g.flowsTo+g.flowsFrom != 0 {
		t.Errorf("RU aggregate = %+v, want the rest, and no second flow count", g)
	}
}

func TestAddRecord(t *testing.T) {
	var events []Event
	a := NewAccountant(testEnv(t), DefaultConfig(), FlaggedFunc(func(e *Event) { events = append(events, *e) }))
	sec := int64(time.Second)
	records := []Record{
		// 10.0.0.1 → RU, sampled 1 in 100.
		{First: 10 * sec, Last: 12 * sec, Src: netip.MustParseAddrPort("10.0.0.1:40000"), Dst: netip.MustParseAddrPort("192.0.2.129:443"),
			Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 100},
		// The reply direction of the same flow, unsampled.
		{First: 11 * sec, Last: 13 * sec, Src: netip.MustParseAddrPort("192.0.2.129:443"), Dst: netip.MustParseAddrPort("10.0.0.1:40000"),
			Proto: 6, Bytes: 9000, Packets: 6},
	}
	for i := range records {
		a.AddRecord(&records[i])
	}
	if n := a.Stats.FlowEntries.Load(); n != 1 {
		t.Errorf("%d flows, want 1: both records are one flow", n)
	}
	if a.Totals.Bytes[Egress] != 150000 || a.Totals.Packets[Egress] != 300 || a.Totals.Bytes[Ingress] != 9000 || a.Totals.Flows[Egress] != 1 {
		t.Errorf("totals = %+v", a.Totals)
	}
	a.Flush()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	ev := events[0]
	if ev.First != 10*sec || ev.Last != 13*sec || ev.PacketsTo != 300 || ev.BytesFrom != 9000 || ev.Verdict.Jurisdiction != "russia" {
		t.Errorf("event = %+v", ev)
	}
}

func TestWorker(t *testing.T) {
	var handshakes, ttls int
	a := NewAccountant(testEnv(t), DefaultConfig(),
		HandshakeFunc(func(*enrich.Facts, policy.Verdict, time.Duration) { handshakes++ }),
		TTLFunc(func(netip.Addr, *geo.Location, uint8) { ttls++ }))
	w := NewWorker(a, true)
	frame := capture.Frame{Data: tcpFrame(t, "10.0.0.1", "192.0.2.10", 40000, 443), Link: capture.LinkEthernet, WireLen: 1054}
	short := capture.Frame{Data: frame.Data[:20], Link: capture.LinkEthernet, WireLen: 1054}
	base := int64(100 * time.Second)
	for i := range 10 {
		frame.Timestamp = base + int64(i)*int64(time.Millisecond)
		w.Handle(&frame)
	}
	short.Timestamp = frame.Timestamp
	w.Handle(&short)
	if got := w.Decodes.Frames(); got != 1 {
		t.Errorf("frames published = %d, want 1: the first frame's (later ones within a second of it)", got)
	}
	w.Handle(nil) // idle: counts published, the clock moves to now, and every flow ends
	if got := w.Decodes.Load(capture.Decoded); got != 10 {
		t.Errorf("decoded = %d, want 10", got)
	}
	if got := w.Decodes.Frames(); got != 11 {
		t.Errorf("frames = %d, want 11", got)
	}
	if a.Totals.Packets[Egress] != 10 || a.Stats.FlowsExpired.Load() != 1 {
		t.Errorf("totals %+v, expired %d: want 10 egress packets in one ended flow", a.Totals, a.Stats.FlowsExpired.Load())
	}
	if handshakes != 0 || ttls != 0 {
		t.Errorf("%d handshakes and %d TTLs from a one-way ACK stream", handshakes, ttls)
	}
}

func TestObserverWithoutInterface(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewAccountant accepted an observer that observes nothing")
		}
	}()
	NewAccountant(testEnv(t), DefaultConfig(), struct{}{})
}

// TestNewFlowAllocs: enriching a new flow keeps its facts in the table's
// chunks, not in an allocation per flow.
func TestNewFlowAllocs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxFlows = 1 << 10
	env := testEnv(t)
	env.Inspectors = []enrich.Inspector{&curious{}}
	a := NewAccountant(env, cfg)
	p := pkt(1, "10.0.0.1", "192.0.2.10", 6, 0, 443, 100)
	for range 2 * cfg.MaxFlows { // past the cap: chunks allocated, entries reused
		p.SrcPort++
		a.Add(&p)
	}
	if n := testing.AllocsPerRun(1000, func() { p.SrcPort++; a.Add(&p) }); n != 0 {
		t.Errorf("a new flow allocates %v times", n)
	}
}

// payloadRecorder keeps the first payload byte of every packet it sees.
type payloadRecorder struct {
	first []byte
	lens  []int
}

func (r *payloadRecorder) Inspect(_ *enrich.State, _ *enrich.Facts, p *capture.Packet, _ bool) (bool, bool) {
	r.first = append(r.first, p.Payload[0])
	r.lens = append(r.lens, len(p.Payload))
	return false, false
}

// AddAhead accounts a packet after the source has reused its frame: the
// inspectors must still see the packet's own payload, not the bytes of a
// later frame.
func TestAddAheadKeepsPayload(t *testing.T) {
	rec := &payloadRecorder{}
	env := testEnv(t)
	env.Inspectors = []enrich.Inspector{rec}
	a := NewAccountant(env, DefaultConfig())
	frame := make([]byte, 1500) // the source's one buffer, reused per frame
	for i := range 4 {
		for j := range frame {
			frame[j] = byte(i + 1)
		}
		p := pkt(i, "10.0.0.1", "192.0.2.10", 17, 40000, 53, 1200)
		if i%2 == 1 {
			p = pkt(i, "10.0.0.1", "192.0.2.10", 17, 40001, 443, 1200)
		}
		p.Payload = frame[:1200]
		a.AddAhead(&p)
	}
	a.Drain()
	if string(rec.first) != "\x01\x02\x03\x04" {
		t.Errorf("inspectors saw first bytes %v, want 1 2 3 4 (each packet's own payload)", rec.first)
	}
	// Port 53 keeps its message (up to keepDNS), the rest keepPayload bytes.
	if want := []int{keepDNS, keepPayload, keepDNS, keepPayload}; len(rec.lens) != 4 || rec.lens[0] != want[0] || rec.lens[1] != want[1] {
		t.Errorf("payload lengths %v, want %v", rec.lens, want)
	}
}

// A record's Sides (from the exporter's interface roles) decide which
// endpoints are remote where the local networks would not know.
func TestAddRecordSides(t *testing.T) {
	sec := int64(time.Second)
	tests := []struct {
		name     string
		src, dst string
		sides    Sides
		want     Direction
	}{
		{"networks decide", "10.0.0.1:4000", "192.0.2.129:443", SidesFromNetworks, Egress},
		{"entered on an external interface", "192.0.2.10:443", "198.51.100.7:4000", SrcRemote, Ingress},
		{"left on an external interface", "192.0.2.10:4000", "198.51.100.7:443", DstRemote, Egress},
		{"external to external", "10.0.0.1:1", "10.0.0.2:2", BothRemote, Transit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAccountant(testEnv(t), DefaultConfig())
			r := Record{First: 10 * sec, Last: 11 * sec, Src: netip.MustParseAddrPort(tt.src), Dst: netip.MustParseAddrPort(tt.dst),
				Proto: 17, Bytes: 100, Packets: 1, Sides: tt.sides}
			a.AddRecord(&r)
			for d := range NumDirections {
				want := uint64(0)
				if d == tt.want {
					want = 100
				}
				if a.Totals.Bytes[d] != want {
					t.Errorf("%s bytes = %d, want %d", d, a.Totals.Bytes[d], want)
				}
			}
		})
	}
}
