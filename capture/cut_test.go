package capture

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"golang.org/x/net/bpf"
)

// cutVM compiles the live capture's program for link and returns a VM
// running it.
func cutVM(t testing.TB, expr string, link LinkType, snap int, opts CutOptions) *bpf.VM {
	t.Helper()
	raw, err := CompileCapture(expr, link, snap, opts)
	if err != nil {
		t.Fatalf("CompileCapture(%q, %d): %v", expr, link, err)
	}
	if len(raw) > 4096 {
		t.Fatalf("%d instructions, past the kernel's 4096", len(raw))
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// cutFrame runs vm on data and returns what the kernel would keep.
func cutFrame(t testing.TB, vm *bpf.VM, data []byte) []byte {
	t.Helper()
	n, err := vm.Run(data)
	if err != nil {
		t.Fatalf("VM: %v", err)
	}
	return data[:min(n, len(data))]
}

// TestCutKeepsWhatTheDecoderReads cuts every frame of the decoder's valid
// cases and decodes both: the cut frame must give the same packet, with
// and without decapsulation, so that nothing the agent counts is lost.
func TestCutKeepsWhatTheDecoderReads(t *testing.T) {
	for _, decap := range []bool{true, false} {
		dec := &Decoder{Decapsulate: decap}
		vms := map[LinkType]*bpf.VM{}
		for _, c := range validCases(t) {
			if _, err := linkLayout(c.link); err != nil {
				continue // not a live link type
			}
			vm := vms[c.link]
			if vm == nil {
				vm = cutVM(t, "", c.link, MaxSnapLen, CutOptions{Decapsulate: decap})
				vms[c.link] = vm
			}
			cut := cutFrame(t, vm, c.data)
			var full, got Packet
			rf, rc := dec.Decode(c.link, c.data, &full), dec.Decode(c.link, cut, &got)
			if full.Tunnels >= cutLevels {
				continue // deeper than the cut program follows
			}
			if lengthFromCapture[c.name] {
				// The IP length field is 0 (segmentation offload, an IPv6
				// jumbogram): the decoder counts what was captured, which
				// the snap length always cut short live.
				got.IPLen, got.PayloadLen = full.IPLen, full.PayloadLen
			}
			if rf != rc || !sameHeaders(full, got) {
				t.Errorf("decap %v, %s: kept %d of %d bytes; decoded %v %+v, whole %v %+v", decap, c.name, len(cut), len(c.data), rc, got, rf, full)
			}
		}
	}
}

// lengthFromCapture are the valid cases whose IP length field is 0.
var lengthFromCapture = map[string]bool{"eth_ipv4_tso_zero_length": true, "ipv6_jumbogram": true}

const secret = "SECRET-PAYLOAD-0123456789abcdef-SECRET"

// TestCutDropsPayload builds frames whose payload is a secret and checks
// the exact number of bytes kept: the headers, then Payload bytes.
func TestCutDropsPayload(t *testing.T) {
	for _, tc := range cutCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			vm := cutVM(t, tc.filter, tc.link, tc.snap, tc.opts)
			cut := cutFrame(t, vm, tc.frame)
			if len(cut) != tc.keep {
				t.Errorf("kept %d bytes, want %d of %d", len(cut), tc.keep, len(tc.frame))
			}
			if tc.opts.Payload == 0 && bytes.Contains(cut, []byte(secret[:4])) {
				t.Errorf("the payload is kept: % x", cut)
			}
		})
	}
}

// FuzzCut runs the cut program on arbitrary frames: it never fails in the
// VM (a kernel drop), keeps at least one byte, and keeps all the decoder
// reads of a frame without tunnels that it decodes.
func FuzzCut(f *testing.F) {
	for _, c := range validCases(f) {
		if len(c.data) <= 4096 {
			f.Add(uint8(c.link), c.data)
		}
	}
	links := []LinkType{LinkEthernet, LinkRaw, LinkRawOld, LinkSLL, LinkSLL2, LinkIPv4, LinkIPv6}
	vms := map[LinkType]*bpf.VM{}
	for _, l := range links {
		vms[l] = cutVM(f, "", l, MaxSnapLen, CutOptions{Decapsulate: true})
	}
	dec := NewDecoder()
	f.Fuzz(func(t *testing.T, link uint8, data []byte) {
		lt := links[int(link)%len(links)]
		n, err := vms[lt].Run(data)
		if err != nil || n == 0 && len(data) > 0 {
			t.Fatalf("VM returned %d, %v: the kernel would drop the frame", n, err)
		}
		cut := data[:min(n, len(data))]
		var full, got Packet
		rf := dec.Decode(lt, data, &full)
		if rf != Decoded {
			return
		}
		if full.Tunnels > 0 {
			// Inside tunnels the program follows fewer VLAN tags and MPLS
			// labels than the decoder (see level): the valid cases check
			// the tunnels it does follow.
			return
		}
		rc := dec.Decode(lt, cut, &got)
		// The cut keeps the IP length fields, so IPLen differs only where
		// the decoder took it from the captured length (a length field of
		// 0: segmentation offload, IPv6 jumbograms; see lengthFromCapture).
		got.IPLen, got.PayloadLen = full.IPLen, full.PayloadLen
		if rc != rf || !sameHeaders(full, got) {
			t.Fatalf("kept %d of %d bytes: decoded %v %+v, whole %+v", len(cut), len(data), rc, got, full)
		}
	})
}

// sameHeaders reports whether the packet decoded from a cut frame is the
// packet decoded from the whole frame but for its payload, of which it has
// at most the start: header bytes the decoder calls payload (ICMP's, or a
// tunnel's it did not remove), none of a TCP or UDP payload.
func sameHeaders(full, cut Packet) bool {
	if !bytes.HasPrefix(full.Payload, cut.Payload) {
		return false
	}
	tunnelPort := cut.Proto == protoUDP && (cut.DstPort == portVXLAN || cut.DstPort == portGENEVE)
	if (cut.Proto == protoTCP || cut.Proto == protoUDP) && !tunnelPort && len(cut.Payload) != 0 {
		return false
	}
	full.Payload, cut.Payload = nil, nil
	return reflect.DeepEqual(full, cut)
}

// Frame pieces for cutCases, written out by hand so that each length is
// plain to see. Checksums are left zero: nothing here reads them.
func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func ethH(t uint16) []byte {
	return binary.BigEndian.AppendUint16([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}, t)
}

func tagH(t uint16) []byte { return binary.BigEndian.AppendUint16([]byte{0, 7}, t) }

func v4H(proto byte, optWords int, frag uint16, body []byte) []byte {
	h := make([]byte, 20+4*optWords)
	h[0] = 0x40 | byte(5+optWords)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(body)))
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	copy(h[12:], []byte{192, 0, 2, 1, 203, 0, 113, 9})
	for i := 20; i < len(h); i++ {
		h[i] = 1 // NOP options
	}
	return append(h, body...)
}

func v6H(next byte, body []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(body)))
	h[6], h[7] = next, 64
	copy(h[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
	copy(h[24:], []byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: 2})
	return append(h, body...)
}

// optH is a hop-by-hop or destination options header of 8*(units+1) bytes.
func optH(next byte, units int) []byte {
	h := make([]byte, 8*(units+1))
	h[0], h[1] = next, byte(units)
	h[2] = 1 // PadN
	h[3] = byte(len(h) - 4)
	return h
}

func fragH(next byte, off uint16) []byte {
	h := []byte{next, 0, 0, 0, 0, 0, 0, 7}
	binary.BigEndian.PutUint16(h[2:], off<<3|1)
	return h
}

func tcpH(optWords int) []byte {
	h := make([]byte, 20+4*optWords)
	binary.BigEndian.PutUint16(h, 40000)
	binary.BigEndian.PutUint16(h[2:], 443)
	h[12] = byte(5+optWords) << 4
	h[13] = 0x18
	for i := 20; i < len(h); i++ {
		h[i] = 1
	}
	return h
}

func udpH(dport uint16, body []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, 40000)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(body)))
	return append(h, body...)
}

type cutCase struct {
	name   string
	link   LinkType
	filter string
	snap   int
	opts   CutOptions
	frame  []byte
	keep   int
}

func cutCases(t testing.TB) []cutCase {
	pay := []byte(secret)
	vxlan := func(inner []byte) []byte { return udpH(portVXLAN, cat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, inner)) }
	decap := CutOptions{Decapsulate: true}
	cs := []cutCase{
		{name: "ipv4 tcp", frame: cat(ethH(etherIPv4), v4H(6, 0, 0, cat(tcpH(0), pay))), keep: 14 + 20 + 20},
		{name: "ipv4 and tcp options", frame: cat(ethH(etherIPv4), v4H(6, 2, 0, cat(tcpH(3), pay))), keep: 14 + 28 + 32},
		{name: "ipv4 udp", frame: cat(ethH(etherIPv4), v4H(17, 0, 0, udpH(9000, pay))), keep: 14 + 20 + 8},
		{name: "ipv4 later fragment", frame: cat(ethH(etherIPv4), v4H(17, 0, 0x0010, pay)), keep: 14 + 20},
		{name: "icmp time exceeded", frame: cat(ethH(etherIPv4), v4H(1, 0, 0, cat([]byte{11, 0, 0, 0, 0, 0, 0, 0}, v4H(17, 1, 0, udpH(33434, pay))))), keep: 14 + 20 + 8 + 24 + 8},
		{name: "icmpv6 unreachable", frame: cat(ethH(etherIPv6), v6H(58, cat([]byte{1, 4, 0, 0, 0, 0, 0, 0}, v6H(17, udpH(33434, pay))))), snap: 256, keep: 14 + 40 + 8 + 40 + 8},
		{name: "icmpv6 echo", frame: cat(ethH(etherIPv6), v6H(58, cat([]byte{128, 0, 0, 0, 0, 1, 0, 1}, pay))), keep: 14 + 40 + 8},
		{name: "icmp echo", frame: cat(ethH(etherIPv4), v4H(1, 0, 0, cat([]byte{8, 0, 0, 0, 0, 1, 0, 1}, pay))), keep: 14 + 20 + 8},
		{name: "ipv6 udp", frame: cat(ethH(etherIPv6), v6H(17, udpH(9000, pay))), keep: 14 + 40 + 8},
		{name: "ipv6 hop-by-hop, destination options, tcp", frame: cat(ethH(etherIPv6), v6H(0, cat(optH(60, 0), optH(6, 1), tcpH(0), pay))), keep: 14 + 40 + 8 + 16 + 20},
		{name: "ipv6 first fragment", frame: cat(ethH(etherIPv6), v6H(44, cat(fragH(17, 0), udpH(9000, pay)))), keep: 14 + 40 + 8 + 8},
		{name: "ipv6 later fragment", frame: cat(ethH(etherIPv6), v6H(44, cat(fragH(17, 100), pay))), keep: 14 + 40 + 8},
		{name: "vlan", frame: cat(ethH(etherVLAN), tagH(etherIPv4), v4H(17, 0, 0, udpH(9000, pay))), keep: 14 + 4 + 20 + 8},
		{name: "qinq", frame: cat(ethH(etherQinQ), tagH(etherVLAN), tagH(etherIPv6), v6H(6, cat(tcpH(0), pay))), keep: 14 + 8 + 40 + 20},
		{name: "mpls", frame: cat(ethH(etherMPLS), []byte{0, 1, 0, 64}, []byte{0, 2, 1, 64}, v4H(6, 0, 0, cat(tcpH(0), pay))), keep: 14 + 8 + 20 + 20},
		{name: "pppoe", frame: cat(ethH(etherPPPoE), []byte{0x11, 0, 0, 1, 0, 0, 0, 0x57}, v6H(17, udpH(9000, pay))), keep: 14 + 8 + 40 + 8},
		{name: "vxlan", opts: decap, frame: cat(ethH(etherIPv4), v4H(17, 0, 0, vxlan(cat(ethH(etherIPv4), v4H(6, 0, 0, cat(tcpH(0), pay)))))), keep: 14 + 20 + 8 + 8 + 14 + 20 + 20},
		{name: "vxlan not decapsulated", frame: cat(ethH(etherIPv4), v4H(17, 0, 0, vxlan(cat(ethH(etherIPv4), v4H(6, 0, 0, cat(tcpH(0), pay)))))), keep: 14 + 20 + 8},
		{name: "vxlan in vxlan", snap: 256, opts: decap, frame: cat(ethH(etherIPv4), v4H(17, 0, 0, vxlan(cat(ethH(etherIPv4), v4H(17, 0, 0, vxlan(cat(ethH(etherIPv6), v6H(17, udpH(53, pay))))))))), keep: 14 + 20 + 8 + 8 + 14 + 20 + 8 + 8 + 14 + 40 + 8},
		{name: "geneve with options", opts: decap, frame: cat(ethH(etherIPv4), v4H(17, 0, 0, udpH(portGENEVE, cat([]byte{2, 0, 0x86, 0xdd, 0, 0, 1, 0}, make([]byte, 8), v6H(17, udpH(9000, pay)))))), keep: 14 + 20 + 8 + 16 + 40 + 8},
		{name: "gre with a key", opts: decap, frame: cat(ethH(etherIPv4), v4H(47, 0, 0, cat([]byte{0x20, 0, 8, 0, 0, 0, 0, 9}, v4H(17, 0, 0, udpH(9000, pay))))), keep: 14 + 20 + 8 + 20 + 8},
		{name: "gre bridging", opts: decap, frame: cat(ethH(etherIPv4), v4H(47, 0, 0, cat([]byte{0, 0, 0x65, 0x58}, ethH(etherIPv4), v4H(6, 0, 0, cat(tcpH(0), pay))))), keep: 14 + 20 + 4 + 14 + 20 + 20},
		{name: "ip in ip", opts: decap, frame: cat(ethH(etherIPv4), v4H(4, 0, 0, v4H(17, 0, 0, udpH(9000, pay)))), keep: 14 + 20 + 20 + 8},
		{name: "ipv6 in ipv4", opts: decap, frame: cat(ethH(etherIPv4), v4H(41, 0, 0, v6H(6, cat(tcpH(0), pay)))), keep: 14 + 20 + 40 + 20},
		{name: "ip in ip not decapsulated", frame: cat(ethH(etherIPv4), v4H(4, 0, 0, v4H(17, 0, 0, udpH(9000, pay)))), keep: 14 + 20},
		{name: "raw ipv4", link: LinkRaw, frame: v4H(6, 0, 0, cat(tcpH(0), pay)), keep: 20 + 20},
		{name: "raw ipv6", link: LinkIPv6, frame: v6H(17, udpH(9000, pay)), keep: 40 + 8},
		{name: "sll", link: LinkSLL, frame: cat([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd}, v6H(17, udpH(9000, pay))), keep: 16 + 40 + 8},
		{name: "payload kept", opts: CutOptions{Payload: 32}, frame: cat(ethH(etherIPv4), v4H(17, 0, 0, udpH(9000, pay))), keep: 14 + 20 + 8 + 32},
		{name: "payload kept past the frame", opts: CutOptions{Payload: 1000}, frame: cat(ethH(etherIPv4), v4H(6, 0, 0, cat(tcpH(0), pay))), keep: 14 + 20 + 20 + len(pay)},
		{name: "snap length", snap: 64, opts: decap, frame: cat(ethH(etherIPv4), v4H(17, 0, 0, vxlan(cat(ethH(etherIPv4), v4H(6, 0, 0, cat(tcpH(0), pay)))))), keep: 64},
		{name: "truncated tcp header", frame: cat(ethH(etherIPv4), v4H(6, 0, 0, tcpH(0)))[:14+20+10], keep: 14 + 20 + 10},
		{name: "filter accepts", filter: "udp", frame: cat(ethH(etherIPv4), v4H(17, 0, 0, udpH(9000, pay))), keep: 14 + 20 + 8},
		{name: "filter rejects", filter: "tcp", frame: cat(ethH(etherIPv4), v4H(17, 0, 0, udpH(9000, pay))), keep: 0},
		{name: "not ip", frame: cat(ethH(0x88cc), pay), keep: 14},
	}
	for i := range cs {
		if cs[i].link == 0 {
			cs[i].link = LinkEthernet
		}
		if cs[i].snap == 0 {
			cs[i].snap = DefaultSnapLen
		}
	}
	return cs
}
