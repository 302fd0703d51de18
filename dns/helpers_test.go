package dns

import (
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// rr is one resource record of a test message.
type rr struct {
	name, cname string // cname set: a CNAME record
	addr        string // else an A or AAAA record
	ttl         uint32
}

// response builds a real DNS response with dnsmessage's builder (with name
// compression, as servers send them): the question q, the answers, and
// the additional records.
func response(tb testing.TB, q string, answers, additional []rr) []byte {
	tb.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4242, Response: true, RecursionAvailable: true})
	b.EnableCompression()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(q), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	add := func(r rr) {
		h := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(r.name), Class: dnsmessage.ClassINET, TTL: r.ttl}
		switch a := netip.MustParseAddr(orZero(r.addr)); {
		case r.cname != "":
			must(b.CNAMEResource(h, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(r.cname)}))
		case a.Is4():
			must(b.AResource(h, dnsmessage.AResource{A: a.As4()}))
		default:
			must(b.AAAAResource(h, dnsmessage.AAAAResource{AAAA: a.As16()}))
		}
	}
	must(b.StartAnswers())
	for _, r := range answers {
		add(r)
	}
	must(b.StartAdditionals())
	for _, r := range additional {
		add(r)
	}
	msg, err := b.Finish()
	must(err)
	return msg
}

func orZero(s string) string {
	if s == "" {
		return "0.0.0.0"
	}
	return s
}

// query builds a real DNS query for q.
func query(tb testing.TB, q string) []byte {
	tb.Helper()
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(q), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
