package dns

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// FuzzMessage feeds arbitrary bytes as a UDP response, a first fragment and
// a TCP segment: no panic, and whatever is stored is a clean name.
func FuzzMessage(f *testing.F) {
	f.Add(response(f, "www.example.com.", []rr{
		{name: "www.example.com.", cname: "edge.example.net.", ttl: 60},
		{name: "edge.example.net.", addr: "203.0.113.44", ttl: 60},
		{name: "edge.example.net.", addr: "2001:db8::44", ttl: 60},
	}, []rr{{name: "ns.example.net.", addr: "203.0.113.53", ttl: 60}}))
	f.Add(query(f, "a.example."))
	// A CNAME loop, and a message cut inside its last answer.
	loop := response(f, "a.example.", []rr{
		{name: "a.example.", cname: "b.example.", ttl: 60},
		{name: "b.example.", cname: "a.example.", ttl: 60},
		{name: "a.example.", addr: "2001:db8::1", ttl: 60},
	}, nil)
	f.Add(loop)
	f.Add(loop[:len(loop)-5])
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := New(Options{Capacity: 1})
		for _, cut := range []bool{false, true} {
			c.Message(msg, client, t0, cut)
		}
		var st enrich.State
		p := capture.Packet{Timestamp: t0, Src: netip.MustParseAddr("192.0.2.53"), Dst: client, Proto: protoTCP, SrcPort: 53, DstPort: 40000}
		seg := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
		c.Feed(&st, &p, append(seg, msg...))
		c.Feed(&st, &p, msg)
		for i := range c.shards {
			for _, s := range c.shards[i].slots {
				for _, n := range s.names[:s.n] {
					if len(n.Chain) == 0 || len(n.Chain) > MaxChain+1 {
						t.Fatalf("chain of %d names", len(n.Chain))
					}
					for _, name := range n.Chain {
						if name == "" || len(name) > 254 {
							t.Fatalf("name %q", name)
						}
						for _, ch := range []byte(name) {
							if ch <= ' ' || ch > '~' || ('A' <= ch && ch <= 'Z') {
								t.Fatalf("name %q holds %q", name, ch)
							}
						}
					}
				}
			}
		}
	})
}
