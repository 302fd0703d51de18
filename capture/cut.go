package capture

import (
	"golang.org/x/net/bpf"
)

// CutOptions say what the kernel keeps of each accepted frame.
type CutOptions struct {
	// Payload is how many bytes after the TCP or UDP header are kept (0:
	// none). No feature needs any today; tunnel classification will want
	// the first 32 or so.
	Payload int
	// Decapsulate keeps the inner headers of VXLAN, GENEVE, GRE, IP-in-IP
	// and IPv6-in-IP packets (two levels deep), which the decoder attributes the
	// traffic to; without it they are outer payload and are cut.
	Decapsulate bool
}

// The cut program ends an accepted frame where its headers do: link
// headers (VLAN tags, MPLS labels, PPPoE), the IP header with its options
// or IPv6 extension headers, the transport header (TCP with its options,
// UDP, the first 8 bytes of ICMP) and, when decapsulating, the tunnel
// headers and the inner packet's headers likewise. Classic BPF returns the
// number of bytes to keep, so it computes that length and returns it,
// capped at the snap length: nothing after the headers reaches the ring.
// Anything it does not know ends the frame after the last header it knows.
//
// A load past the end of the frame makes the kernel drop it, so every
// variable offset is checked against the frame length first ("need"): a
// frame too short for its headers is kept whole, having no payload.

// IP protocol numbers of ICMP, which the decoder does not need.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// Scratch memory of the cut program.
const (
	mSaveX = 0 // X around a length check
	mIHL   = 1 // IPv4 header length
	mNext  = 2 // protocol, next header or EtherType being dispatched
	mTmp   = 3
	mLen   = 4 // GRE header length
)

// cutLevels is how many levels of headers the cut program follows: the
// outer packet and two nested tunnels (the decoder removes up to
// MaxTunnels; deeper ones keep their outer headers only, and the program
// stays well under the kernel's 4096 instructions).
const cutLevels = 3

// cutLabels are the entry points of the header parsers of one level (0:
// outer). Each starts with X at its header.
type cutLabels struct {
	frame, etherType, ip4, ip6, tcp, udp, icmp4, icmp6, gre, udpLite, common12 int
}

type cutter struct {
	g       *codegen
	opts    CutOptions
	lvl     [cutLevels]cutLabels
	whole   int // keep the whole frame (up to the snap length)
	payload int // A is the end of a TCP or UDP header: add the payload kept
	finish  int // A is the end of what to keep
}

// emitCut writes the cut program for lk at the current position: the
// accept label of the filter jumps to it.
func (g *codegen) emitCut(lk layout, snaplen int, opts CutOptions) {
	c := &cutter{g: g, opts: opts, whole: g.newLabel(), payload: g.newLabel(), finish: g.newLabel()}
	for i := range c.lvl {
		l := &c.lvl[i]
		*l = cutLabels{g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel()}
	}
	o := &c.lvl[0]
	switch {
	case lk.hasEther:
		c.op(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
		c.need(lk.nh, c.whole)
		c.op(bpf.LoadConstant{Dst: bpf.RegX, Val: lk.nh})
		c.op(bpf.LoadAbsolute{Off: lk.etherOff, Size: 2})
		c.ifGoto(bpf.JumpGreaterOrEqual, 0x0600, o.etherType)
		c.llcSNAP(o)
	case lk.fixedFam == 4:
		c.op(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
		c.goTo(o.ip4)
	case lk.fixedFam == 6:
		c.op(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
		c.goTo(o.ip6)
	default: // raw IP: the version nibble says which
		c.op(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
		c.need(1, c.whole)
		c.op(bpf.LoadAbsolute{Off: 0, Size: 1})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
		c.ifGoto(bpf.JumpEqual, 4, o.ip4)
		c.ifGoto(bpf.JumpEqual, 6, o.ip6)
		c.op(bpf.RetConstant{Val: 20}) // not IP: the kernel keeps min(20, length)
	}
	// Without decapsulation a second level still follows the Ethernet
	// frame behind an MPLS pseudowire, which the decoder reads too.
	levels := 2
	if opts.Decapsulate {
		levels = cutLevels
	}
	for lvl := range levels {
		var next *cutLabels
		if lvl < levels-1 {
			next = &c.lvl[lvl+1]
		}
		c.level(lvl, next, opts.Decapsulate)
	}
	g.place(c.whole)
	c.op(bpf.LoadExtension{Num: bpf.ExtLen})
	c.goTo(c.finish)
	g.place(c.payload)
	if opts.Payload > 0 {
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: uint32(opts.Payload)})
	}
	g.place(c.finish)
	long, short := g.newLabel(), g.newLabel()
	c.g.code = append(c.g.code, ins{i: bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(snaplen)}, jt: long, jf: short})
	g.place(long)
	c.op(bpf.RetConstant{Val: uint32(snaplen)})
	g.place(short)
	c.op(bpf.RetA{})
}

func (c *cutter) op(i bpf.Instruction) { c.g.code = append(c.g.code, ins{i: i}) }

// goTo jumps to label l.
func (c *cutter) goTo(l int) { c.g.code = append(c.g.code, ins{i: bpf.Jump{}, jt: l}) }

// ifGoto jumps to l when A cond val holds, else falls through. The jump
// goes through an unconditional one, whose offset is 32 bits: the parsers
// are longer than a conditional jump's 255 instructions.
func (c *cutter) ifGoto(cond bpf.JumpTest, val uint32, l int) {
	yes, no := c.g.newLabel(), c.g.newLabel()
	c.g.code = append(c.g.code, ins{i: bpf.JumpIf{Cond: cond, Val: val}, jt: yes, jf: no})
	c.g.place(yes)
	c.goTo(l)
	c.g.place(no)
}

// need checks that the frame holds n bytes from X, jumping to fail when it
// does not; X is kept either way.
func (c *cutter) need(n uint32, fail int) {
	ok, short := c.g.newLabel(), c.g.newLabel()
	c.op(bpf.StoreScratch{Src: bpf.RegX, N: mSaveX})
	c.op(bpf.TXA{})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n})
	c.op(bpf.TAX{})
	c.op(bpf.LoadExtension{Num: bpf.ExtLen})
	c.g.code = append(c.g.code, ins{i: bpf.JumpIfX{Cond: bpf.JumpGreaterOrEqual}, jt: ok, jf: short})
	c.g.place(short)
	c.op(bpf.LoadScratch{Dst: bpf.RegX, N: mSaveX})
	c.goTo(fail)
	c.g.place(ok)
	c.op(bpf.LoadScratch{Dst: bpf.RegX, N: mSaveX})
}

// llcSNAP follows an IEEE 802.3 length field: IP only behind LLC/SNAP
// (AA AA 03, an OUI, then an EtherType).
func (c *cutter) llcSNAP(l *cutLabels) {
	end := c.g.newLabel()
	c.need(8, c.whole)
	c.op(bpf.LoadIndirect{Off: 0, Size: 2})
	c.ifGoto(bpf.JumpNotEqual, 0xaaaa, end)
	c.op(bpf.LoadIndirect{Off: 2, Size: 1})
	c.ifGoto(bpf.JumpNotEqual, 0x03, end)
	c.op(bpf.LoadIndirect{Off: 6, Size: 2})
	c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
	c.addX(8)
	c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
	c.goTo(l.etherType)
	c.g.place(end)
	c.endAtX()
}

// addX adds n to X.
func (c *cutter) addX(n uint32) {
	c.op(bpf.TXA{})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n})
	c.op(bpf.TAX{})
}

// endAtX keeps the frame up to X.
func (c *cutter) endAtX() {
	c.op(bpf.TXA{})
	c.goTo(c.finish)
}

// endAt keeps the frame up to X+n.
func (c *cutter) endAt(n uint32) {
	c.op(bpf.TXA{})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n})
	c.goTo(c.finish)
}

// level writes the parsers of one level, in an order where every jump
// goes forward: a level's parsers jump only to later ones of the same
// level and to the next level's.
func (c *cutter) level(lvl int, next *cutLabels, decapsulate bool) {
	g, l := c.g, &c.lvl[lvl]
	// inner is where tunnels lead: the next level, when decapsulating.
	var inner *cutLabels
	decap := decapsulate && next != nil
	if decap {
		inner = next
	}

	// An Ethernet frame (an inner one: VXLAN, GENEVE and GRE carry them).
	g.place(l.frame)
	c.need(14, c.whole)
	c.op(bpf.LoadIndirect{Off: 12, Size: 2})
	c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
	c.addX(14)
	c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
	c.ifGoto(bpf.JumpGreaterOrEqual, 0x0600, l.etherType)
	c.llcSNAP(l)

	// What an EtherType in A announces at X: IP, or VLAN tags, MPLS labels
	// or a PPPoE session in front of it. The outer level follows as many
	// tags and labels as the decoder (MaxTags); inner ones, to keep the
	// program short, two tags and four labels.
	tags, labels := MaxTags, MaxTags
	if lvl > 0 {
		tags, labels = 2, 4
	}
	g.place(l.etherType)
	mpls, pppoe := g.newLabel(), g.newLabel()
	for tag := range tags + 1 {
		c.ifGoto(bpf.JumpEqual, etherIPv4, l.ip4)
		c.ifGoto(bpf.JumpEqual, etherIPv6, l.ip6)
		c.ifGoto(bpf.JumpEqual, etherMPLS, mpls)
		c.ifGoto(bpf.JumpEqual, etherMPLSMC, mpls)
		c.ifGoto(bpf.JumpEqual, etherPPPoE, pppoe)
		if tag == tags {
			break
		}
		next, vlan := g.newLabel(), g.newLabel()
		for _, t := range []uint32{etherVLAN, etherQinQ, etherQinQOld, etherQinQOld2} {
			c.ifGoto(bpf.JumpEqual, t, vlan)
		}
		c.endAtX()
		g.place(vlan)
		c.need(4, c.whole)
		c.op(bpf.LoadIndirect{Off: 2, Size: 2})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
		c.addX(4)
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
		g.place(next)
	}
	c.endAtX()

	// MPLS labels, then the first nibble guesses the payload.
	g.place(mpls)
	bottom := g.newLabel()
	for range labels {
		c.need(4, c.whole)
		c.op(bpf.LoadIndirect{Off: 2, Size: 1})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mTmp})
		c.addX(4)
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mTmp})
		c.ifGoto(bpf.JumpBitsSet, 1, bottom)
	}
	c.endAtX() // a deeper stack: stop at the labels
	g.place(bottom)
	c.need(1, c.whole)
	c.op(bpf.LoadIndirect{Off: 0, Size: 1})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
	c.ifGoto(bpf.JumpEqual, 4, l.ip4)
	c.ifGoto(bpf.JumpEqual, 6, l.ip6)
	if next != nil {
		// 0: a pseudowire control word (RFC 4385), then an Ethernet frame,
		// followed with the next level's parsers (all jumps go forward).
		cw := g.newLabel()
		c.ifGoto(bpf.JumpEqual, 0, cw)
		c.endAtX()
		g.place(cw)
		c.addX(4)
		c.goTo(next.frame)
	} else {
		c.endAtX()
	}

	// PPPoE session: 6 bytes, then the PPP protocol.
	g.place(pppoe)
	c.need(8, c.whole)
	c.op(bpf.LoadIndirect{Off: 6, Size: 2})
	c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
	c.addX(8)
	c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
	c.ifGoto(bpf.JumpEqual, 0x0021, l.ip4)
	c.ifGoto(bpf.JumpEqual, 0x0057, l.ip6)
	c.endAtX()

	// IPv4, with its options; a later fragment has no transport header.
	g.place(l.ip4)
	c.need(20, c.whole)
	c.op(bpf.LoadIndirect{Off: 0, Size: 1})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	c.op(bpf.StoreScratch{Src: bpf.RegA, N: mIHL})
	ihlOK := g.newLabel()
	c.ifGoto(bpf.JumpGreaterOrEqual, 20, ihlOK)
	c.endAt(20) // a bad header length: keep the fixed header
	g.place(ihlOK)
	c.op(bpf.LoadIndirect{Off: 6, Size: 2})
	first := g.newLabel()
	c.ifGoto(bpf.JumpBitsNotSet, 0x1fff, first)
	c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mIHL})
	c.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	c.goTo(c.finish)
	g.place(first)
	c.op(bpf.LoadIndirect{Off: 9, Size: 1})
	c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
	c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mIHL})
	c.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	c.op(bpf.TAX{})
	c.transport(l, inner, protoICMP, l.icmp4)

	// IPv6 and its extension headers, as many as the decoder follows.
	g.place(l.ip6)
	c.need(40, c.whole)
	c.op(bpf.LoadIndirect{Off: 6, Size: 1})
	c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
	c.addX(40)
	trans := g.newLabel()
	for range MaxExtensionHeaders {
		hbh, ah, frag, ext := g.newLabel(), g.newLabel(), g.newLabel(), g.newLabel()
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
		c.ifGoto(bpf.JumpEqual, protoHopByHop, hbh)
		c.ifGoto(bpf.JumpEqual, protoRouting, hbh)
		c.ifGoto(bpf.JumpEqual, protoDestOpts, hbh)
		c.ifGoto(bpf.JumpEqual, protoAH, ah)
		c.ifGoto(bpf.JumpEqual, protoFragment, frag)
		c.goTo(trans)
		g.place(hbh)
		c.need(2, c.whole)
		c.op(bpf.LoadIndirect{Off: 1, Size: 1})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 3})
		c.goTo(ext)
		g.place(ah)
		c.need(2, c.whole)
		c.op(bpf.LoadIndirect{Off: 1, Size: 1})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 2})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
		c.goTo(ext)
		g.place(frag)
		c.need(8, c.whole)
		c.op(bpf.LoadIndirect{Off: 2, Size: 2})
		firstFrag := g.newLabel()
		c.ifGoto(bpf.JumpBitsNotSet, 0xfff8, firstFrag)
		c.endAt(8) // a later fragment: no further headers
		g.place(firstFrag)
		c.op(bpf.LoadConstant{Dst: bpf.RegA, Val: 8})
		g.place(ext)
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mTmp})
		c.op(bpf.LoadIndirect{Off: 0, Size: 1})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mTmp})
		c.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		c.op(bpf.TAX{})
	}
	g.place(trans)
	c.transport(l, inner, protoICMPv6, l.icmp6)

	// TCP: the data offset says where the options end.
	g.place(l.tcp)
	c.need(13, c.whole)
	c.op(bpf.LoadIndirect{Off: 12, Size: 1})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	offOK := g.newLabel()
	c.ifGoto(bpf.JumpGreaterOrEqual, 20, offOK)
	c.op(bpf.LoadConstant{Dst: bpf.RegA, Val: 20})
	g.place(offOK)
	c.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	c.goTo(c.payload)

	// UDP, and the tunnels it carries.
	g.place(l.udp)
	plain := g.newLabel()
	if decap {
		vxlan, geneve := g.newLabel(), g.newLabel()
		c.need(4, c.whole)
		c.op(bpf.LoadIndirect{Off: 2, Size: 2})
		c.ifGoto(bpf.JumpEqual, portVXLAN, vxlan)
		c.ifGoto(bpf.JumpEqual, portGENEVE, geneve)
		c.goTo(plain)
		// VXLAN: 8 bytes, then an Ethernet frame.
		g.place(vxlan)
		c.need(8+8+14, plain)
		c.addX(16)
		c.goTo(inner.frame)
		// GENEVE: 8 bytes and options, then what its protocol field says.
		g.place(geneve)
		c.need(8+8, plain)
		c.op(bpf.LoadIndirect{Off: 8, Size: 1})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x3f})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
		c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 16})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mTmp})
		c.op(bpf.LoadIndirect{Off: 10, Size: 2})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mTmp})
		c.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		c.op(bpf.TAX{})
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
		c.ifGoto(bpf.JumpEqual, etherTEB, inner.frame)
		c.goTo(inner.etherType)
	}
	g.place(plain)
	c.op(bpf.TXA{})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 8})
	c.goTo(c.payload)

	// UDP-Lite: 8 bytes, as UDP. SCTP's common header and DCCP's generic
	// one: 12 bytes (ports first, which is all the decoder reads).
	g.place(l.udpLite)
	c.endAt(8)
	g.place(l.common12)
	c.endAt(12)

	// ICMP and ICMPv6: type, code, checksum and the 4 bytes after them;
	// for an error (unreachable, time exceeded, parameter problem, packet
	// too big), the IP header it quotes and the first 8 bytes of that
	// packet's transport header too, by which the agent recognises the
	// replies to its own probes (probe.Owns).
	g.place(l.icmp4)
	c.need(8, c.whole)
	c.op(bpf.LoadIndirect{Off: 0, Size: 1})
	err4, err6 := g.newLabel(), g.newLabel()
	for _, t := range []uint32{3, 11, 12} {
		c.ifGoto(bpf.JumpEqual, t, err4)
	}
	c.endAt(8)
	g.place(err4)
	c.addX(8)
	c.need(1, c.whole)
	c.op(bpf.LoadIndirect{Off: 0, Size: 1})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 8})
	c.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	c.goTo(c.finish)
	g.place(l.icmp6)
	c.need(8, c.whole)
	c.op(bpf.LoadIndirect{Off: 0, Size: 1})
	c.ifGoto(bpf.JumpLessThan, 128, err6) // types 0-127 are errors
	c.endAt(8)
	g.place(err6)
	c.endAt(8 + 40 + 8)

	// GRE version 0: optional checksum, key and sequence number, then what
	// its protocol field says.
	g.place(l.gre)
	if decap {
		c.need(4, c.whole)
		c.op(bpf.LoadIndirect{Off: 0, Size: 1})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mTmp})
		notDecoded := g.newLabel()
		c.ifGoto(bpf.JumpBitsSet, 0x40, notDecoded)
		c.op(bpf.LoadIndirect{Off: 1, Size: 1})
		c.ifGoto(bpf.JumpBitsSet, 0x07, notDecoded)
		c.op(bpf.LoadConstant{Dst: bpf.RegA, Val: 4})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mLen})
		for _, bit := range []uint32{0x80, 0x20, 0x10} {
			skip := g.newLabel()
			c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mTmp})
			c.ifGoto(bpf.JumpBitsNotSet, bit, skip)
			c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mLen})
			c.op(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 4})
			c.op(bpf.StoreScratch{Src: bpf.RegA, N: mLen})
			g.place(skip)
		}
		c.op(bpf.LoadIndirect{Off: 2, Size: 2})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mNext})
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mLen})
		c.op(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		c.op(bpf.TAX{})
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
		c.ifGoto(bpf.JumpEqual, etherTEB, inner.frame)
		erspan2, erspan3 := g.newLabel(), g.newLabel()
		c.ifGoto(bpf.JumpEqual, etherERSPAN2, erspan2)
		c.ifGoto(bpf.JumpEqual, etherERSPAN3, erspan3)
		c.goTo(inner.etherType)
		// ERSPAN type II has an 8-byte header when the GRE sequence number
		// is present (type I none); type III 12 bytes, and 8 more when its
		// last bit says a platform subheader follows.
		g.place(erspan2)
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mTmp})
		c.ifGoto(bpf.JumpBitsNotSet, 0x10, inner.frame)
		c.addX(8)
		c.goTo(inner.frame)
		g.place(erspan3)
		c.need(12, c.whole)
		c.op(bpf.LoadIndirect{Off: 11, Size: 1})
		c.op(bpf.StoreScratch{Src: bpf.RegA, N: mTmp})
		c.addX(12)
		c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mTmp})
		c.ifGoto(bpf.JumpBitsNotSet, 0x01, inner.frame)
		c.addX(8)
		c.goTo(inner.frame)
		g.place(notDecoded)
		c.endAtX()
	} else {
		c.endAt(4)
	}
}

// transport dispatches on the protocol in scratch mNext with X at the
// transport header.
func (c *cutter) transport(l, inner *cutLabels, icmp uint32, icmpLabel int) {
	c.op(bpf.LoadScratch{Dst: bpf.RegA, N: mNext})
	c.ifGoto(bpf.JumpEqual, protoTCP, l.tcp)
	c.ifGoto(bpf.JumpEqual, protoUDP, l.udp)
	c.ifGoto(bpf.JumpEqual, icmp, icmpLabel)
	c.ifGoto(bpf.JumpEqual, protoUDPLite, l.udpLite)
	c.ifGoto(bpf.JumpEqual, protoSCTP, l.common12)
	c.ifGoto(bpf.JumpEqual, protoDCCP, l.common12)
	if inner != nil {
		c.ifGoto(bpf.JumpEqual, protoIPIP, inner.ip4)
		c.ifGoto(bpf.JumpEqual, protoIPv6, inner.ip6)
		c.ifGoto(bpf.JumpEqual, protoGRE, l.gre)
	}
	c.endAtX()
}
