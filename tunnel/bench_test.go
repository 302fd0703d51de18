package tunnel

import (
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// BenchmarkInspect measures the classifier per packet: on a flow it is done
// with (kind=known: what every later packet of a recognised flow would
// cost, were the accountant to keep calling it), through a WireGuard
// handshake and an OpenVPN one from a zero state (per flow), and on a DNS
// flow until it gives up.
func BenchmarkInspect(b *testing.B) {
	decode := func(on ip4, msgs []message) ([]capture.Packet, []bool) {
		dec := capture.NewDecoder()
		var ps []capture.Packet
		var dirs []bool
		for _, m := range msgs {
			var p capture.Packet
			dec.Decode(capture.LinkEthernet, frame(b, on, m.fromLocal, m.payload, m.extra...), &p)
			ps = append(ps, p)
			dirs = append(dirs, m.fromLocal)
		}
		return ps, dirs
	}
	flows := []struct {
		name string
		on   ip4
		msgs []message
		want string
	}{
		{"wireguard", udpOn(40000, 51820), []message{local(wgInitiation(1)), remote(wgResponse(2, 1))}, WireGuard},
		{"openvpn", udpOn(40000, 1194), []message{local(ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil)),
			remote(ovPacket(ovHardResetServerV2, serverSid, 0, []uint32{0}, clientSid, 0, nil))}, OpenVPN},
		{"dns", udpOn(40000, 53), []message{local(dnsQuery(b, 1, false)), remote(dnsQuery(b, 1, true)), local(dnsQuery(b, 2, false))}, ""},
	}
	var c Classifier
	b.Run("kind=known", func(b *testing.B) {
		ps, dirs := decode(udpOn(40000, 51820), []message{local(wgInitiation(1)), remote(wgResponse(2, 1)), local(disco(1))})
		var (
			s enrich.State
			f enrich.Facts
		)
		for i := range ps {
			c.Inspect(&s, &f, &ps[i], dirs[i])
		}
		p := ps[0]
		b.ReportAllocs()
		for b.Loop() {
			if _, done := c.Inspect(&s, &f, &p, true); !done {
				b.Fatal("not done")
			}
		}
	})
	for _, fl := range flows {
		b.Run("kind=flow/proto="+fl.name, func(b *testing.B) {
			ps, dirs := decode(fl.on, fl.msgs)
			var f enrich.Facts
			b.ReportAllocs()
			for b.Loop() {
				var s enrich.State
				f.Tunnel.Protocol = ""
				for i := range ps {
					if _, done := c.Inspect(&s, &f, &ps[i], dirs[i]); done {
						break
					}
				}
			}
			if f.Tunnel.Protocol != fl.want {
				b.Fatalf("got %q, want %q", f.Tunnel.Protocol, fl.want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ps)), "ns/packet")
		})
	}
}
