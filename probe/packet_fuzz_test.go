package probe

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// FuzzParseReply feeds arbitrary packets to the four reply parsers (raw
// ICMP and TCP sockets of both families): whatever a hostile network sends,
// they return no match or a match that is well formed, and never panic.
// The seeds are real replies to real probes of each method.
func FuzzParseReply(f *testing.F) {
	for _, fam := range []struct{ src, dst, router netip.Addr }{{agent4, dst4, router4}, {agent6, dst6, router6}} {
		for _, m := range []flow{
			{method: MethodUDP, srcPort: 40001, dstPort: 33434},
			{method: MethodTCP, srcPort: 40002, dstPort: 443},
			{method: MethodICMP, icmpSum: 0x8123},
		} {
			m.src, m.dst = fam.src, fam.dst
			probe := wire(f, m, 3, 0x0301)
			typ := uint8(layers.ICMPv4TypeTimeExceeded)
			if m.dst.Is6() {
				typ = layers.ICMPv6TypeTimeExceeded
			}
			f.Add(icmpError(f, fam.router, m.src, probe, 28, typ))
			switch m.method {
			case MethodICMP:
				f.Add(echoReply(f, m, probe))
			case MethodTCP:
				f.Add(tcpAnswer(f, m, tcpSeq(0x0301), false))
				f.Add(tcpAnswer(f, m, tcpSeq(0x0301), true))
			}
		}
	}
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var p parser
		check := func(name string, r reply, ok bool, v4 bool) {
			if !ok {
				if r != (reply{}) {
					t.Fatalf("%s: no match but a reply %+v", name, r)
				}
				return
			}
			if r.kind < replyTimeExceeded || r.kind > replyTCP {
				t.Fatalf("%s: reply kind %d", name, r.kind)
			}
			if r.key.method != MethodUDP && r.key.method != MethodTCP && r.key.method != MethodICMP {
				t.Fatalf("%s: method %v", name, r.key.method)
			}
			if v4 && (!r.from.Is4() || r.key.dst.IsValid() && !r.key.dst.Is4()) {
				t.Fatalf("%s: an IPv4 socket gave from %v, destination %v", name, r.from, r.key.dst)
			}
			if (r.kind == replyTCP || r.kind == replyEcho) && r.key.dst != r.from {
				t.Fatalf("%s: a destination's own answer from %v for %v", name, r.from, r.key.dst)
			}
		}
		r, ok := p.parseICMPv4(pkt)
		check("parseICMPv4", r, ok, true)
		r, ok = p.parseICMPv6(router6, pkt)
		check("parseICMPv6", r, ok, false)
		r, ok = p.parseTCPv4(pkt)
		check("parseTCPv4", r, ok, true)
		r, ok = p.parseTCPv6(dst6, pkt)
		check("parseTCPv6", r, ok, false)
	})
}

// FuzzPathsHandler sends arbitrary methods, paths and query strings to
// /api/v1/paths: the handler answers 200 with JSON to GET and HEAD, 405 to
// anything else, whatever the query holds.
func FuzzPathsHandler(f *testing.F) {
	f.Add("GET", "")
	f.Add("HEAD", "x=1")
	f.Add("POST", "limit=%zz")
	f.Add("GET", "a=1&a=2;b")
	s, err := NewScheduler(&countingTracer{}, SchedulerOptions{Queue: 8, MaxPrefixes: 16})
	if err != nil {
		f.Fatal(err)
	}
	h := PathsHandler(s)
	f.Fuzz(func(t *testing.T, method, query string) {
		req, err := http.NewRequest(method, "http://agent/api/v1/paths", nil)
		if err != nil {
			return // not a request a client can send
		}
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch method {
		case http.MethodGet, http.MethodHead:
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%s ?%s: %d %q", method, query, rec.Code, rec.Header().Get("Content-Type"))
			}
		default:
			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("%s ?%s: %d, want 405", method, query, rec.Code)
			}
		}
	})
}
