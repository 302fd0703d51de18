package tunnel

import (
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// known are the protocols the classifier may report.
var known = map[string]bool{"": true, WireGuard: true, OpenVPN: true, IPsec: true, L2TP: true, PPTP: true, Tailscale: true,
	GRE: true, IPIP: true, "vxlan": true, "geneve": true}

// FuzzClassifier feeds a flow of arbitrary packets to the classifier. The
// input is a sequence of records: a control byte (bit 0: from the local
// side; bits 1-2: UDP, TCP, ESP or GRE; bits 3-4: the port, from 500, 4500,
// 1701 and 51820; bits 5-7: wire bytes beyond those captured, in steps of
// 32, as a snap length leaves them), a length byte, and that many payload
// bytes. It checks
// that nothing panics, the protocol is a known one, a done flow stays as
// it is, and the same packets give the same answer.
func FuzzClassifier(f *testing.F) {
	rec := func(ctl byte, b []byte) []byte { return append([]byte{ctl, byte(len(b))}, b...) }
	f.Add(cat(rec(1, wgInitiation(1)[:148]), rec(0, wgResponse(2, 1))))
	f.Add(cat(rec(1, ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil)), rec(0, ovPacket(ovHardResetServerV2, serverSid, 0, []uint32{0}, clientSid, 0, nil))))
	f.Add(cat(rec(3, tcpFramed(ovPacket(ovHardResetClientV2, clientSid, 20, nil, nil, 0, nil))), rec(2, tcpFramed(ovTLSCrypt(ovHardResetServerV2, serverSid, 1)))))
	f.Add(cat(rec(1, ike(5, 0, 0x20, 34, 0x08, 33, 100)), rec(0, ike(5, 6, 0x20, 34, 0x20, 33, 100))))
	f.Add(cat(rec(1|1<<3, esp(0x1000, 1, 40)), rec(1|1<<3, esp(0x1000, 2, 40)), rec(1<<3, esp(0x2000, 1, 40))))
	f.Add(cat(rec(1|2<<3, l2tpCtrlMsg(0, 1, 0)), rec(2<<3, l2tpCtrlMsg(3, 2, 0))))
	f.Add(cat(rec(3, pptpControl(1, 156)[:156]), rec(2, pptpControl(2, 156)[:156])))
	f.Add(cat(rec(1, disco(1)), rec(0, disco(2))))
	f.Add(cat(rec(5, esp(1, 1, 8)), rec(7, []byte{0x30, 0x81, 0x88, 0x0b, 0, 8, 0, 1})))
	ports := [4]uint16{500, 4500, 1701, 51820}
	protos := [4]uint8{17, 6, 50, 47}
	f.Fuzz(func(t *testing.T, in []byte) {
		var pkts []capture.Packet
		var dirs []bool
		for len(in) >= 2 {
			ctl, n := in[0], int(in[1])
			in = in[2:]
			n = min(n, len(in))
			p := capture.Packet{Proto: protos[ctl>>1&3], Payload: in[:n:n], PayloadLen: uint32(n + 32*int(ctl>>5))}
			if p.Proto == 17 || p.Proto == 6 {
				p.SrcPort, p.DstPort = 40000, ports[ctl>>3&3]
			}
			in = in[n:]
			pkts = append(pkts, p)
			dirs = append(dirs, ctl&1 != 0)
		}
		var c Classifier
		classify := func() (string, int) {
			var (
				s    enrich.State
				fa   enrich.Facts
				done = -1
			)
			for i := range pkts {
				before := fa.Tunnel.Protocol
				changed, d := c.Inspect(&s, &fa, &pkts[i], dirs[i])
				if !known[fa.Tunnel.Protocol] {
					t.Fatalf("unknown protocol %q", fa.Tunnel.Protocol)
				}
				if changed != (before != fa.Tunnel.Protocol) {
					t.Fatalf("changed %v, protocol %q -> %q", changed, before, fa.Tunnel.Protocol)
				}
				if done >= 0 && changed {
					t.Fatalf("changed after done")
				}
				if d && done < 0 {
					done = i
				}
			}
			return fa.Tunnel.Protocol, done
		}
		p1, d1 := classify()
		if p2, d2 := classify(); p1 != p2 || d1 != d2 {
			t.Fatalf("not deterministic: %q/%d then %q/%d", p1, d1, p2, d2)
		}
	})
}
