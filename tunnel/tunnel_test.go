package tunnel

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/policy"
)

// Documentation addresses: the local host and the remote endpoint.
var (
	localIP  = netip.MustParseAddr("192.0.2.10")
	remoteIP = netip.MustParseAddr("203.0.113.7")
)

// ip4 is the kind of packet a message travels in.
type ip4 struct {
	proto      layers.IPProtocol
	lport, rpt uint16
}

var (
	udpOn = func(lport, rport uint16) ip4 { return ip4{layers.IPProtocolUDP, lport, rport} }
	tcpOn = func(lport, rport uint16) ip4 { return ip4{layers.IPProtocolTCP, lport, rport} }
)

// frame builds an Ethernet frame with gopacket, as a stack would send it,
// from the local side to the remote one or back, carrying payload.
func frame(t testing.TB, on ip4, fromLocal bool, payload []byte, extra ...gopacket.SerializableLayer) []byte {
	t.Helper()
	src, dst, sport, dport := localIP, remoteIP, on.lport, on.rpt
	if !fromLocal {
		src, dst, sport, dport = dst, src, dport, sport
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: on.proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	ls := []gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}, ip}
	switch on.proto {
	case layers.IPProtocolUDP:
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		_ = u.SetNetworkLayerForChecksum(ip)
		ls = append(ls, u)
	case layers.IPProtocolTCP:
		tc := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), ACK: true, PSH: len(payload) > 0, Window: 512}
		_ = tc.SetNetworkLayerForChecksum(ip)
		ls = append(ls, tc)
	}
	ls = append(ls, extra...)
	ls = append(ls, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// message is one message of a conversation.
type message struct {
	fromLocal bool
	payload   []byte
	extra     []gopacket.SerializableLayer // headers between the transport and payload (GRE, VXLAN, ...)
}

func local(b []byte) message  { return message{fromLocal: true, payload: b} }
func remote(b []byte) message { return message{payload: b} }

// run feeds a conversation through the capture decoder and the classifier
// as the flow accountant would, and returns the protocol found after each
// message and whether the classifier was done.
func run(t testing.TB, on ip4, msgs []message) (protos []string, done []bool) {
	t.Helper()
	dec := capture.NewDecoder()
	var (
		s enrich.State
		f enrich.Facts
		c Classifier
	)
	for i, m := range msgs {
		var p capture.Packet
		if r := dec.Decode(capture.LinkEthernet, frame(t, on, m.fromLocal, m.payload, m.extra...), &p); r != capture.Decoded {
			t.Fatalf("message %d: %v", i, r)
		}
		_, d := c.Inspect(&s, &f, &p, m.fromLocal)
		protos = append(protos, f.Tunnel.Protocol)
		done = append(done, d)
	}
	return protos, done
}

// Message builders, byte-exact from the specifications.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
func be32(v uint32) []byte       { return binary.BigEndian.AppendUint32(nil, v) }
func le32(v uint32) []byte       { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte       { return binary.LittleEndian.AppendUint64(nil, v) }
func fill(n int, b byte) []byte  { return bytes.Repeat([]byte{b}, n) }

// WireGuard (whitepaper 5.4.2-5.4.6).
func wgInitiation(sender uint32) []byte {
	return cat([]byte{1, 0, 0, 0}, le32(sender), fill(140, 0xa1))
}
func wgResponse(sender, receiver uint32) []byte {
	return cat([]byte{2, 0, 0, 0}, le32(sender), le32(receiver), fill(80, 0xb2))
}
func wgCookie(receiver uint32) []byte { return cat([]byte{3, 0, 0, 0}, le32(receiver), fill(56, 0xc3)) }
func wgData(receiver uint32, counter uint64, n int) []byte {
	return cat([]byte{4, 0, 0, 0}, le32(receiver), le64(counter), fill(n-16, 0xd4))
}

// Tailscale disco (tailscale/disco/disco.go): magic, sender key, nonce, box.
func disco(key byte) []byte { return cat(discoMagic, fill(32, key), fill(24, 0x11), fill(40, 0x22)) }

// OpenVPN control packets (ssl_pkt.h): opcode<<3|key id, session id,
// [HMAC, packet id, time], ack count, acked ids, peer session id, packet id.
func ovPacket(op uint8, sid []byte, hmac int, acks []uint32, peer []byte, pid uint32, body []byte) []byte {
	b := append([]byte{op << 3}, sid...)
	if hmac > 0 {
		b = cat(b, fill(hmac, 0xee), be32(1), be32(0x5f000000))
	}
	b = append(b, byte(len(acks)))
	for _, a := range acks {
		b = append(b, be32(a)...)
	}
	if len(acks) > 0 {
		b = append(b, peer...)
	}
	if op != ovAckV1 {
		b = append(b, be32(pid)...)
	}
	return append(b, body...)
}

// ovTLSCrypt is a tls-crypt packet: opcode, session id, packet id, time,
// a 32-byte tag and the encrypted rest.
func ovTLSCrypt(op uint8, sid []byte, pid uint32) []byte {
	return cat([]byte{op << 3}, sid, be32(pid), be32(0x5f000000), fill(32, 0x77), fill(40, 0x99))
}

func tcpFramed(b []byte) []byte { return cat(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b) }

var (
	clientSid = []byte{0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8}
	serverSid = []byte{0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58}
	otherSid  = []byte{0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68}
)

// IKE header (RFC 7296 3.1) with a payload of n bytes; the length is exact.
func ike(ispi, rspi uint64, version, exchange, flags uint8, next uint8, n int) []byte {
	b := binary.BigEndian.AppendUint64(nil, ispi)
	b = binary.BigEndian.AppendUint64(b, rspi)
	b = append(b, next, version, exchange, flags)
	b = append(b, be32(0)...)
	b = append(b, be32(uint32(28+n))...)
	return append(b, fill(n, 0x33)...)
}

func esp(spi, seq uint32, n int) []byte { return cat(be32(spi), be32(seq), fill(n, 0x44)) }

// L2TPv2 control message (RFC 2661 3.1): T, L, S bits and version 2, the
// exact length, tunnel and session ids, Ns, Nr, then the Message Type AVP.
func l2tpCtrlMsg(tunnelID uint16, msgType uint16, ns uint16) []byte {
	avp := []byte{0x80, 8, 0, 0, 0, 0, byte(msgType >> 8), byte(msgType)}
	b := []byte{0xc8, 0x02, 0, 0, byte(tunnelID >> 8), byte(tunnelID), 0, 0, byte(ns >> 8), byte(ns), 0, 0}
	b = append(b, avp...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// PPTP control message (RFC 2637 2.1): length, message type 1, magic
// cookie, control message type, reserved, then the body.
func pptpControl(ctype uint16, n int) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(n))
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, pptpMagic)
	b = binary.BigEndian.AppendUint16(b, ctype)
	b = append(b, 0, 0)
	return append(b, fill(n-12, 0)...)
}

func dnsQuery(t testing.TB, id uint16, response bool) []byte {
	d := &layers.DNS{ID: id, QR: response, RD: true, Questions: []layers.DNSQuestion{{Name: []byte("example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	if response {
		d.Answers = []layers.DNSResourceRecord{{Name: []byte("example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IP{192, 0, 2, 1}}}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func TestClassifier(t *testing.T) {
	tlsHello := cat([]byte{0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03}, fill(61, 0x5a))
	quicShort := func(pn byte) []byte { return cat([]byte{0x40}, clientSid, []byte{pn}, fill(40, 0x3c)) }
	tests := []struct {
		name string
		on   ip4
		msgs []message
		want string // the protocol at the end
		at   int    // the message (1-based) at which it is first found; 0: never
	}{
		// WireGuard, on any port.
		{"wireguard handshake", udpOn(40000, 443), []message{local(wgInitiation(0x11223344)), remote(wgResponse(0x55667788, 0x11223344))}, WireGuard, 2},
		{"wireguard stays wireguard", udpOn(40000, 51820), []message{local(wgInitiation(7)), remote(wgResponse(9, 7)),
			local(ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil)),
			remote(ovPacket(ovHardResetServerV2, serverSid, 0, []uint32{0}, clientSid, 0, nil))}, WireGuard, 2},
		{"wireguard cookie reply", udpOn(40000, 51820), []message{local(wgInitiation(7)), remote(wgCookie(7))}, WireGuard, 2},
		{"wireguard response to another initiation", udpOn(40000, 51820), []message{local(wgInitiation(7)), remote(wgResponse(9, 8))}, "", 0},
		{"wireguard response from the initiator's side", udpOn(40000, 51820), []message{local(wgInitiation(7)), local(wgResponse(9, 7))}, "", 0},
		{"wireguard initiations only", udpOn(40000, 51820), []message{local(wgInitiation(7)), local(wgInitiation(8)), local(wgInitiation(9))}, "", 0},
		{"wireguard initiation one byte short", udpOn(40000, 51820), []message{local(wgInitiation(7)[:147]), remote(wgResponse(9, 7))}, "", 0},
		{"wireguard data after the handshake was missed", udpOn(40000, 5060), []message{
			local(wgData(0xaaaa, 5, 32)), local(wgData(0xaaaa, 6, 48)), remote(wgData(0xbbbb, 9, 64))}, WireGuard, 3},
		{"wireguard data to the responder's index", udpOn(40000, 51820), []message{remote(wgResponse(0x99, 0x42)), local(wgData(0x99, 0, 32))}, WireGuard, 2},
		{"wireguard data with a counter going back", udpOn(40000, 5060), []message{
			local(wgData(0xaaaa, 5, 32)), local(wgData(0xaaaa, 4, 32)), remote(wgData(0xbbbb, 9, 32))}, "", 0},
		{"wireguard data not a multiple of 16", udpOn(40000, 5060), []message{
			local(wgData(0xaaaa, 5, 33)), local(wgData(0xaaaa, 6, 33)), remote(wgData(0xbbbb, 9, 33))}, "", 0},

		// Tailscale: disco both ways, or disco beside WireGuard.
		{"tailscale disco", udpOn(41641, 41641), []message{local(disco(1)), remote(disco(2))}, Tailscale, 2},
		{"tailscale wireguard then disco", udpOn(41641, 41641), []message{
			local(wgInitiation(5)), remote(wgResponse(6, 5)), local(disco(1))}, Tailscale, 2},
		{"disco magic once", udpOn(41641, 41641), []message{local(disco(1))}, "", 0},

		// OpenVPN over UDP: no HMAC, tls-auth with SHA-1 and SHA-256, tls-crypt.
		{"openvpn udp", udpOn(50000, 1194), []message{
			local(ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil)),
			remote(ovPacket(ovHardResetServerV2, serverSid, 0, []uint32{0}, clientSid, 0, nil))}, OpenVPN, 2},
		{"openvpn udp tls-auth sha1 on 53", udpOn(50000, 53), []message{
			local(ovPacket(ovHardResetClientV2, clientSid, 20, nil, nil, 0, nil)),
			remote(ovPacket(ovHardResetServerV2, serverSid, 20, []uint32{0}, clientSid, 0, nil))}, OpenVPN, 2},
		{"openvpn udp tls-auth sha256", udpOn(50000, 1194), []message{
			local(ovPacket(ovHardResetClientV2, clientSid, 32, nil, nil, 0, nil)),
			remote(ovPacket(ovHardResetServerV2, serverSid, 32, []uint32{0}, clientSid, 0, nil))}, OpenVPN, 2},
		{"openvpn udp tls-crypt", udpOn(50000, 1194), []message{
			local(ovTLSCrypt(ovHardResetClientV2, clientSid, 1)), remote(ovTLSCrypt(ovHardResetServerV2, serverSid, 1)),
			local(ovTLSCrypt(ovAckV1, clientSid, 2))}, OpenVPN, 3},
		{"openvpn udp tls-crypt-v2", udpOn(50000, 1194), []message{
			local(ovTLSCrypt(ovHardResetClientV3, clientSid, 1)), remote(ovTLSCrypt(ovHardResetServerV2, serverSid, 1)),
			remote(ovTLSCrypt(ovControlV1, serverSid, 2))}, OpenVPN, 3},
		{"openvpn udp server side only", udpOn(50000, 1194), []message{
			remote(ovPacket(ovHardResetServerV2, serverSid, 0, []uint32{0}, clientSid, 0, nil)),
			remote(ovPacket(ovControlV1, serverSid, 0, []uint32{1}, clientSid, 1, fill(30, 0x16))),
			remote(ovPacket(ovControlV1, serverSid, 0, nil, nil, 2, fill(30, 0x16)))}, OpenVPN, 3},
		{"openvpn two client resets", udpOn(50000, 1194), []message{
			local(ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil)),
			remote(ovPacket(ovHardResetClientV2, serverSid, 0, nil, nil, 0, nil))}, "", 0},
		{"openvpn session id changes", udpOn(50000, 1194), []message{
			local(ovTLSCrypt(ovHardResetClientV2, clientSid, 1)), remote(ovTLSCrypt(ovHardResetServerV2, serverSid, 1)),
			local(ovTLSCrypt(ovAckV1, otherSid, 2))}, "", 0},
		{"openvpn reset alone", udpOn(50000, 1194), []message{local(ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil))}, "", 0},

		// OpenVPN over TCP: the handshake, then length-prefixed packets.
		{"openvpn tcp on 443", tcpOn(50000, 443), []message{local(nil), remote(nil), local(nil),
			local(tcpFramed(ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil))), remote(nil),
			remote(tcpFramed(ovPacket(ovHardResetServerV2, serverSid, 0, []uint32{0}, clientSid, 0, nil)))}, OpenVPN, 6},
		{"openvpn tcp length wrong", tcpOn(50000, 1194), []message{
			local(cat([]byte{0, 99}, ovPacket(ovHardResetClientV2, clientSid, 0, nil, nil, 0, nil))),
			remote(cat([]byte{0, 99}, ovPacket(ovHardResetServerV2, serverSid, 0, []uint32{0}, clientSid, 0, nil)))}, "", 0},

		// IPsec: IKEv2 and IKEv1, on 500 and behind the non-ESP marker on 4500; ESP.
		{"ikev2 sa init", udpOn(500, 500), []message{local(ike(0x0102030405060708, 0, 0x20, 34, 0x08, 33, 200)),
			remote(ike(0x0102030405060708, 0x1112131415161718, 0x20, 34, 0x20, 33, 180))}, IPsec, 2},
		{"ikev2 on 4500 with the non-esp marker", udpOn(4500, 4500), []message{local(cat(be32(0), ike(9, 10, 0x20, 35, 0x08, 46, 100))),
			remote(cat(be32(0), ike(9, 10, 0x20, 35, 0x20, 46, 80)))}, IPsec, 2},
		{"ikev1 main mode on another port", udpOn(40500, 10500), []message{local(ike(77, 0, 0x10, 2, 0, 1, 120)),
			remote(ike(77, 88, 0x10, 2, 0, 1, 120))}, IPsec, 2},
		{"ike length not the message's", udpOn(500, 500), []message{local(append(ike(5, 0, 0x20, 34, 0x08, 33, 100), 0)),
			remote(append(ike(5, 6, 0x20, 34, 0x20, 33, 100), 0))}, "", 0},
		{"ike version 3", udpOn(500, 500), []message{local(ike(5, 0, 0x30, 34, 0x08, 33, 100)), remote(ike(5, 6, 0x30, 34, 0x20, 33, 100))}, "", 0},
		{"ike responder names another spi", udpOn(500, 500), []message{local(ike(5, 0, 0x20, 34, 0x08, 33, 100)), remote(ike(6, 7, 0x20, 34, 0x20, 33, 100))}, "", 0},
		{"esp in udp 4500", udpOn(4500, 4500), []message{local(esp(0xc0ffee01, 1, 64)), local(esp(0xc0ffee01, 2, 64)), remote(esp(0xbeef0001, 1, 64))}, IPsec, 3},
		{"esp-like on another port", udpOn(4600, 4600), []message{local(esp(0xc0ffee01, 1, 64)), local(esp(0xc0ffee01, 2, 64)), remote(esp(0xbeef0001, 1, 64))}, "", 0},
		{"esp in udp with the spi changing", udpOn(4500, 4500), []message{local(esp(0xc0ffee01, 1, 64)), local(esp(0xc0ffee02, 2, 64)), remote(esp(0xbeef0001, 1, 64))}, "", 0},
		{"esp", ip4{layers.IPProtocolESP, 0, 0}, []message{local(esp(0x1000, 1, 48))}, IPsec, 1},

		// L2TP on 1701: SCCRQ and SCCRP.
		{"l2tp", udpOn(1701, 1701), []message{local(l2tpCtrlMsg(0, 1, 0)), remote(l2tpCtrlMsg(4, 2, 0))}, L2TP, 2},
		{"l2tp-like off its port", udpOn(1702, 1702), []message{local(l2tpCtrlMsg(0, 1, 0)), remote(l2tpCtrlMsg(4, 2, 0))}, "", 0},
		{"l2tp control with a wrong length", udpOn(1701, 1701), []message{local(append(l2tpCtrlMsg(0, 1, 0), 0)), remote(append(l2tpCtrlMsg(4, 2, 0), 0))}, "", 0},

		// PPTP: control connection on TCP (SCCRQ, SCCRP), and GRE version 1.
		{"pptp", tcpOn(41000, 1723), []message{local(nil), remote(nil), local(nil), local(pptpControl(1, 156)), remote(nil), remote(pptpControl(2, 156))}, PPTP, 6},
		{"pptp wrong cookie", tcpOn(41000, 1723), []message{local(func() []byte { b := pptpControl(1, 156); b[4] = 0; return b }()),
			remote(func() []byte { b := pptpControl(2, 156); b[4] = 0; return b }())}, "", 0},
		{"pptp gre", ip4{layers.IPProtocolGRE, 0, 0}, []message{{fromLocal: true, payload: fill(20, 0xff),
			extra: []gopacket.SerializableLayer{&layers.GRE{Version: 1, KeyPresent: true, SeqPresent: true, Protocol: 0x880b, Key: 20<<16 | 7, Seq: 1}}}}, PPTP, 1},

		// Ordinary traffic.
		{"dns", udpOn(53000, 53), []message{local(dnsQuery(t, 1, false)), remote(dnsQuery(t, 1, true)), local(dnsQuery(t, 2, false)), remote(dnsQuery(t, 2, true))}, "", 0},
		{"tls", tcpOn(50000, 443), []message{local(nil), remote(nil), local(nil), local(tlsHello), remote(tlsHello)}, "", 0},
		{"quic short headers", udpOn(50000, 443), []message{remote(quicShort(1)), remote(quicShort(2)), remote(quicShort(3)), remote(quicShort(4))}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			protos, _ := run(t, tt.on, tt.msgs)
			at := 0
			for i, p := range protos {
				if p != "" {
					at = i + 1
					break
				}
			}
			if got := protos[len(protos)-1]; got != tt.want || at != tt.at {
				t.Errorf("got %q first at message %d (%v), want %q at %d", got, at, protos, tt.want, tt.at)
			}
		})
	}
}

// TestDecapsulated checks that the tunnels the decoder removed are named
// on the inner flow, but not ERSPAN's mirrored copies.
func TestDecapsulated(t *testing.T) {
	inner := func(proto layers.IPProtocol) []gopacket.SerializableLayer {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 51, 100, 1}, DstIP: net.IP{198, 51, 100, 2}}
		u := &layers.UDP{SrcPort: 1000, DstPort: 2000}
		_ = u.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{ip, u}
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 3}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 4}, EthernetType: layers.EthernetTypeIPv4}
	tests := []struct {
		name  string
		on    ip4
		extra []gopacket.SerializableLayer
		want  string
	}{
		{"gre", ip4{layers.IPProtocolGRE, 0, 0}, append([]gopacket.SerializableLayer{&layers.GRE{Protocol: layers.EthernetTypeIPv4}}, inner(17)...), GRE},
		{"vxlan", udpOn(50000, 4789), append([]gopacket.SerializableLayer{&layers.VXLAN{ValidIDFlag: true, VNI: 5}, eth}, inner(17)...), "vxlan"},
		{"geneve", udpOn(50000, 6081), append([]gopacket.SerializableLayer{&layers.Geneve{Protocol: layers.EthernetTypeIPv4, VNI: 5}}, inner(17)...), "geneve"},
		{"ipip", ip4{layers.IPProtocolIPv4, 0, 0}, inner(17), IPIP},
		{"erspan", ip4{layers.IPProtocolGRE, 0, 0}, append([]gopacket.SerializableLayer{&layers.GRE{Protocol: layers.EthernetTypeERSPAN}, eth}, inner(17)...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			protos, done := run(t, tt.on, []message{{fromLocal: true, payload: fill(8, 1), extra: tt.extra}})
			if protos[0] != tt.want || tt.want != "" && !done[0] {
				t.Errorf("got %q (done %v), want %q", protos[0], done[0], tt.want)
			}
		})
	}
}

// TestDone checks the bounds: a confirmed flow is done and stays as it is;
// a flow of payloads that fit nothing is done after MaxMisses; any flow
// after MaxPackets.
func TestDone(t *testing.T) {
	protos, done := run(t, udpOn(1, 2), []message{local(wgInitiation(1)), remote(wgResponse(2, 1)), local(disco(1)), remote(disco(2))})
	if protos[1] != WireGuard || done[1] || protos[2] != Tailscale || !done[2] {
		t.Errorf("wireguard, then tailscale: %v %v", protos, done)
	}
	_, done = run(t, udpOn(1, 2), []message{local(fill(50, 0xfe)), remote(fill(50, 0xfe)), local(fill(50, 0xfe))})
	if done[1] || !done[2] {
		t.Errorf("misses: done %v, want after %d", done, MaxMisses)
	}
	var empty []message
	for range MaxPackets {
		empty = append(empty, local(nil))
	}
	_, done = run(t, tcpOn(1, 2), empty)
	if done[MaxPackets-2] || !done[MaxPackets-1] {
		t.Errorf("packets: done %v, want after %d", done, MaxPackets)
	}
	// Once done, nothing changes.
	var (
		s enrich.State
		f enrich.Facts
		c Classifier
	)
	p := capture.Packet{Proto: 50, Payload: esp(0x1000, 1, 8), PayloadLen: 16}
	if ch, d := c.Inspect(&s, &f, &p, true); !ch || !d || f.Tunnel.Protocol != IPsec {
		t.Fatalf("esp: changed %v done %v %q", ch, d, f.Tunnel.Protocol)
	}
	p = capture.Packet{Proto: 17, Payload: disco(1), PayloadLen: uint32(len(disco(1)))}
	if ch, d := c.Inspect(&s, &f, &p, true); ch || !d || f.Tunnel.Protocol != IPsec {
		t.Errorf("after done: changed %v done %v %q", ch, d, f.Tunnel.Protocol)
	}
}

// TestPolicyNames checks that the policy's flag_unlisted applies to the
// VPNs this package names and not to the decapsulated tunnels.
func TestPolicyNames(t *testing.T) {
	for _, name := range []string{WireGuard, OpenVPN, IPsec, L2TP, PPTP, Tailscale} {
		if !policy.IsVPNProtocol(name) {
			t.Errorf("policy does not treat %q as a VPN", name)
		}
	}
	for e := capture.EncapNone + 1; e < capture.NumEncaps; e++ {
		if policy.IsVPNProtocol(e.String()) {
			t.Errorf("policy treats the decapsulated %q as a VPN", e)
		}
	}
}
