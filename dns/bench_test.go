package dns

import (
	"net/netip"
	"testing"
)

// BenchmarkMessageKnown decodes a response whose names the cache knows
// already (a CNAME, two A and one AAAA answer, one additional record): the
// common case on a busy network, where the same names are asked again.
func BenchmarkMessageKnown(b *testing.B) {
	msg := response(b, "www.example.com.", []rr{
		{name: "www.example.com.", cname: "edge.example.net.", ttl: 60},
		{name: "edge.example.net.", addr: "203.0.113.44", ttl: 60},
		{name: "edge.example.net.", addr: "203.0.113.45", ttl: 60},
		{name: "edge.example.net.", addr: "2001:db8::44", ttl: 60},
	}, []rr{{name: "ns.example.net.", addr: "203.0.113.53", ttl: 60}})
	c := New(Options{})
	c.Message(msg, client, t0, false)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	ts := t0
	for b.Loop() {
		ts++
		if r := c.Message(msg, client, ts, false); r != Decoded {
			b.Fatal(r)
		}
	}
}

// BenchmarkLookup looks up the name of a new flow's remote address.
func BenchmarkLookup(b *testing.B) {
	c := New(Options{})
	c.Message(response(b, "www.example.com.", []rr{{name: "www.example.com.", addr: "203.0.113.44", ttl: 60}}, nil), client, t0, false)
	addr := mustAddr("203.0.113.44")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Lookup(addr, client, t0); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkMessageNew decodes responses for addresses the cache does not
// hold yet: storing a new name copies its chain out of the message (one
// slice and one string per name), and the table's set may evict.
func BenchmarkMessageNew(b *testing.B) {
	msgs := make([][]byte, 4096)
	for i := range msgs {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		msgs[i] = response(b, "www.example.com.", []rr{
			{name: "www.example.com.", cname: "edge.example.net.", ttl: 60},
			{name: "edge.example.net.", addr: a.String(), ttl: 60},
		}, nil)
	}
	c := New(Options{Capacity: 1})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Message(msgs[i%len(msgs)], client, t0+int64(i), false)
		i++
	}
}
