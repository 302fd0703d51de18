package capture

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary frames of every link type to the decoder, with
// and without decapsulation, and checks the invariants the rest of jurismon
// relies on: no panic, a known result, and consistent packets.
func FuzzDecode(f *testing.F) {
	for _, c := range validCases(f) {
		if len(c.data) <= 4096 { // the jumbogram would only slow the mutator down
			f.Add(uint16(c.link), c.data)
		}
	}
	links := []LinkType{LinkNull, LinkEthernet, LinkRawOld, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2}
	dec, outer := NewDecoder(), &Decoder{}
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		// Mostly known link types, so that the fuzzer spends its time past them.
		lt := LinkType(link)
		if link >= 0x8000 {
			lt = links[int(link)%len(links)]
		}
		var p, q Packet
		r := dec.Decode(lt, data, &p)
		ro := outer.Decode(lt, data, &q)
		if r >= NumResults || ro >= NumResults {
			t.Fatalf("results %d, %d", r, ro)
		}
		// Decapsulation only ever looks inside a decoded packet, and falls
		// back to it: it never changes the result.
		if r != ro {
			t.Fatalf("Decapsulate=true gave %v, false gave %v", r, ro)
		}
		if r != Decoded {
			return
		}
		if q.Tunnels != 0 {
			t.Fatalf("Tunnels=%d without decapsulation", q.Tunnels)
		}
		if p.Tunnels == 0 && !reflect.DeepEqual(p, q) {
			t.Fatalf("no tunnel removed, yet packets differ:\n%+v\n%+v", p, q)
		}
		for _, pk := range []Packet{p, q} {
			if !pk.Src.IsValid() || !pk.Dst.IsValid() || pk.Src.Is4() != pk.Dst.Is4() || pk.Src.Zone() != "" {
				t.Fatalf("addresses %v %v", pk.Src, pk.Dst)
			}
			if pk.IPLen < 20 || pk.Src.Is6() && pk.IPLen < 40 {
				t.Fatalf("IPLen %d for %v", pk.IPLen, pk.Src)
			}
			if len(pk.Payload) > 0 && !aliases(pk.Payload, data) || len(pk.Payload) > int(pk.IPLen) {
				t.Fatalf("payload of %d bytes outside the %d-byte frame or beyond IPLen %d", len(pk.Payload), len(data), pk.IPLen)
			}
			if int(pk.PayloadLen) < len(pk.Payload) || pk.PayloadLen > pk.IPLen {
				t.Fatalf("payload length %d for %d captured bytes, IPLen %d", pk.PayloadLen, len(pk.Payload), pk.IPLen)
			}
		}
		if q.IPLen > uint32(len(data)) && q.IPLen > 65535+40 {
			t.Fatalf("IPLen %d from a %d-byte frame", q.IPLen, len(data))
		}
	})
}
