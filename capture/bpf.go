package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// CompileFilter compiles a capture filter into a classic BPF program for
// frames of the given link type, without cgo. Accepted frames are cut to
// snaplen bytes (the program's return value is the snap length, which is how
// an AF_PACKET TPACKET_V3 ring is told to keep headers only); snaplen 0 means
// 262144, libpcap's maximum. An empty expression accepts every frame.
//
// jurismon does not depend on libpcap, and no maintained pure-Go compiler of
// the full pcap-filter(7) language was found (packetcap/go-pcap's filter
// package is unreleased, Ethernet-only and limited to 8-bit jump offsets;
// pgaskin/go-pcap-filter, libpcap transpiled from WebAssembly, is a v0.0.1
// not available from the module proxy), so this is a documented subset of
// that language with the same meaning for what it accepts:
//
//	expr      = unary { ("and" | "&&" | "or" | "||") unary }
//	unary     = ("not" | "!") unary | "(" expr ")" | primitive
//	primitive = "ip" | "ip6" | "tcp" | "udp" | "icmp" | "icmp6"
//	          | ["ip" | "ip6"] ["src" | "dst"] "host" ADDRESS
//	          | ["ip" | "ip6"] ["src" | "dst"] "net" CIDR
//	          | ["tcp" | "udp"] ["src" | "dst"] "port" NUMBER
//	          | ["tcp" | "udp"] ["src" | "dst"] "portrange" NUMBER "-" NUMBER
//
// As in tcpdump, "and" and "or" have the same precedence and associate left to
// right ("a or b and c" is "(a or b) and c"); "not" binds tightest. Without
// "src" or "dst" a host, net or port matches either side; an IPv4 host or net
// without "ip" also matches ARP and RARP sender and target addresses on
// links with an EtherType, as in libpcap. ADDRESS is an IPv4
// or IPv6 address (no host names: nothing is resolved); CIDR must have no bits
// set past its prefix length. "port" and "portrange" without "tcp" or "udp"
// match both; like tcpdump, they never match non-first IPv4 fragments, and on
// IPv6 they look only at a TCP or UDP header that directly follows the fixed
// header. "tcp", "udp" and "icmp6" also match an IPv6 packet whose first
// extension header is a fragment header carrying that protocol. Not supported:
// "vlan" (Linux strips VLAN tags before AF_PACKET sees them), "proto",
// "ether", "arp", byte-offset expressions, qualifier inheritance
// ("port 53 or 80": write "port 53 or port 80") and "src or dst"/"src and dst".
//
// The link types understood are Ethernet, Linux cooked capture (SLL and SLL2)
// and raw IP (LinkRaw, LinkRawOld, LinkIPv4, LinkIPv6). A packet too short for
// a field the filter reads is rejected, as the kernel does.
func CompileFilter(expr string, link LinkType, snaplen int) ([]bpf.RawInstruction, error) {
	prog, err := compileFilter(expr, link, snaplen)
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(prog)
}

func compileFilter(expr string, link LinkType, snaplen int) ([]bpf.Instruction, error) {
	return compileCapture(expr, link, snaplen, nil)
}

// CompileCapture is CompileFilter for a live capture: an accepted frame is
// cut after its headers (see CutOptions) rather than at the snap length.
func CompileCapture(expr string, link LinkType, snaplen int, cut CutOptions) ([]bpf.RawInstruction, error) {
	prog, err := compileCapture(expr, link, snaplen, &cut)
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(prog)
}

// compileCapture compiles expr; accepted frames are cut by the cut program
// when cut is set, else at the snap length.
func compileCapture(expr string, link LinkType, snaplen int, cut *CutOptions) ([]bpf.Instruction, error) {
	if snaplen < 0 {
		return nil, fmt.Errorf("filter: negative snap length %d", snaplen)
	}
	if snaplen == 0 {
		snaplen = MaxSnapLen
	}
	lk, err := linkLayout(link)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr}
	if err := p.lex(); err != nil {
		return nil, err
	}
	g := &codegen{}
	if len(p.toks) == 0 {
		if cut == nil {
			return []bpf.Instruction{bpf.RetConstant{Val: uint32(snaplen)}}, nil
		}
		g.emitCut(lk, snaplen, *cut)
		return g.resolve()
	}
	ast, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		return nil, p.errorf(t, "unexpected %q: expected \"and\", \"or\" or the end of the filter", t.text)
	}
	tree, err := ast.lower(lk)
	if err != nil {
		return nil, err
	}
	accept, reject := g.newLabel(), g.newLabel()
	g.emit(tree, accept, reject)
	if cut != nil {
		// Both ends of the tests stay within a conditional jump's reach;
		// the cut program follows them.
		g.place(reject)
		g.code = append(g.code, ins{i: bpf.RetConstant{Val: 0}})
		g.place(accept)
		g.emitCut(lk, snaplen, *cut)
		return g.resolve()
	}
	g.place(accept)
	g.code = append(g.code, ins{i: bpf.RetConstant{Val: uint32(snaplen)}})
	g.place(reject)
	g.code = append(g.code, ins{i: bpf.RetConstant{Val: 0}})
	return g.resolve()
}

// ---- link layouts ----

// layout says where the network header starts and how the IP version is
// recognised for one link type.
type layout struct {
	nh        uint32 // offset of the network header
	etherOff  uint32 // offset of a 16-bit EtherType, when hasEther
	hasEther  bool
	fixedFam  int // 4 or 6 when the link type carries only that family
	versioned bool
}

func linkLayout(link LinkType) (layout, error) {
	switch link {
	case LinkEthernet:
		return layout{nh: 14, etherOff: 12, hasEther: true}, nil
	case LinkSLL:
		return layout{nh: 16, etherOff: 14, hasEther: true}, nil
	case LinkSLL2:
		return layout{nh: 20, etherOff: 0, hasEther: true}, nil
	case LinkRaw, LinkRawOld:
		return layout{versioned: true}, nil
	case LinkIPv4:
		return layout{fixedFam: 4}, nil
	case LinkIPv6:
		return layout{fixedFam: 6}, nil
	}
	return layout{}, fmt.Errorf("filter: link type %d not supported (Ethernet, SLL, SLL2 and raw IP are)", link)
}

// ---- lexer and parser ----

type token struct {
	text string
	pos  int // byte offset in the expression, reported 1-based
}

type parser struct {
	src  string
	toks []token
	pos  int
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return fmt.Errorf("filter: position %d: %s", t.pos+1, fmt.Sprintf(format, args...))
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			p.toks = append(p.toks, token{s[i : i+1], i})
			i++
		case c == '!':
			p.toks = append(p.toks, token{"!", i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(s) || s[i+1] != c {
				return fmt.Errorf("filter: position %d: single %q: use %q", i+1, string(c), string([]byte{c, c}))
			}
			p.toks = append(p.toks, token{s[i : i+2], i})
			i += 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			p.toks = append(p.toks, token{s[i:j], i})
			i = j
		default:
			return fmt.Errorf("filter: position %d: unexpected character %q", i+1, string(c))
		}
	}
	return nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_' || c == '%'
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{pos: len(p.src)}, false
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.pos++
	}
	return t, ok
}

// node is the parsed filter before it is lowered to tests on a link type.
type node interface {
	lower(lk layout) (cond, error)
}

type andNode struct{ a, b node }
type orNode struct{ a, b node }
type notNode struct{ a node }

type protoNode struct {
	name string
	tok  token
}

type hostNode struct {
	proto  string // "", "ip" or "ip6"
	dir    string // "", "src" or "dst"
	prefix netip.Prefix
	tok    token
}

type portNode struct {
	proto  string // "", "tcp" or "udp"
	dir    string
	lo, hi uint16
}

func (p *parser) parseExpr() (node, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok {
			return left, nil
		}
		var isAnd bool
		switch t.text {
		case "and", "&&":
			isAnd = true
		case "or", "||":
		default:
			return left, nil
		}
		p.pos++
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if isAnd {
			left = andNode{left, right}
		} else {
			left = orNode{left, right}
		}
	}
}

func (p *parser) parseUnary() (node, error) {
	t, ok := p.next()
	if !ok {
		return nil, p.errorf(t, "unexpected end of filter: expected a primitive, \"not\" or \"(\"")
	}
	switch t.text {
	case "not", "!":
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case "(":
		n, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c, ok := p.next()
		if !ok {
			return nil, p.errorf(c, "missing \")\" to close the \"(\" at position %d", t.pos+1)
		}
		if c.text != ")" {
			return nil, p.errorf(c, "unexpected %q: expected \")\"", c.text)
		}
		return n, nil
	}
	p.pos--
	return p.parsePrimitive()
}

var protoNames = map[string]bool{"ip": true, "ip6": true, "tcp": true, "udp": true, "icmp": true, "icmp6": true}

func (p *parser) parsePrimitive() (node, error) {
	t, _ := p.next()
	proto := ""
	if protoNames[t.text] {
		proto = t.text
		n, ok := p.peek()
		switch {
		case ok && (n.text == "src" || n.text == "dst" || n.text == "host" || n.text == "net" || n.text == "port" || n.text == "portrange"):
			t, _ = p.next()
		default:
			return protoNode{name: proto, tok: t}, nil
		}
	}
	dir := ""
	if t.text == "src" || t.text == "dst" {
		dir = t.text
		var ok bool
		if t, ok = p.next(); !ok {
			return nil, p.errorf(t, "unexpected end of filter after %q: expected \"host\", \"net\", \"port\" or \"portrange\"", dir)
		}
	}
	kind := t
	switch kind.text {
	case "host", "net", "port", "portrange":
	case "and", "or", "not", "(", ")", "!", "&&", "||":
		return nil, p.errorf(kind, "unexpected %q: expected a primitive", kind.text)
	default:
		if dir != "" {
			return nil, p.errorf(kind, "unexpected %q after %q: expected \"host\", \"net\", \"port\" or \"portrange\"", kind.text, dir)
		}
		return nil, p.errorf(kind, "unknown primitive %q (supported: ip, ip6, tcp, udp, icmp, icmp6, host, net, port, portrange)", kind.text)
	}
	val, ok := p.next()
	if !ok || isOperator(val.text) {
		return nil, p.errorf(val, "%q needs a value", kind.text)
	}
	switch kind.text {
	case "host", "net":
		if proto != "" && proto != "ip" && proto != "ip6" {
			return nil, p.errorf(kind, "%q cannot qualify %q (only ip or ip6 can)", proto, kind.text)
		}
		var pfx netip.Prefix
		if kind.text == "host" {
			a, err := netip.ParseAddr(val.text)
			if err != nil {
				return nil, p.errorf(val, "%q is not an IP address (host names are not resolved)", val.text)
			}
			if a.Zone() != "" {
				return nil, p.errorf(val, "%q: zones are not supported", val.text)
			}
			a = a.Unmap()
			pfx = netip.PrefixFrom(a, a.BitLen())
		} else {
			var err error
			pfx, err = netip.ParsePrefix(val.text)
			if err != nil {
				return nil, p.errorf(val, "%q is not a network in CIDR notation", val.text)
			}
			if pfx.Masked() != pfx {
				return nil, p.errorf(val, "%q has bits set past its /%d mask (did you mean %s?)", val.text, pfx.Bits(), pfx.Masked())
			}
		}
		if proto == "ip" && !pfx.Addr().Is4() || proto == "ip6" && !pfx.Addr().Is6() {
			return nil, p.errorf(val, "%q is not an %s address", val.text, map[string]string{"ip": "IPv4", "ip6": "IPv6"}[proto])
		}
		return hostNode{proto: proto, dir: dir, prefix: pfx, tok: val}, nil
	default: // port, portrange
		if proto != "" && proto != "tcp" && proto != "udp" {
			return nil, p.errorf(kind, "%q cannot qualify %q (only tcp or udp can)", proto, kind.text)
		}
		n := portNode{proto: proto, dir: dir}
		if kind.text == "port" {
			v, err := parsePort(val.text)
			if err != nil {
				return nil, p.errorf(val, "%v", err)
			}
			n.lo, n.hi = v, v
		} else {
			a, b, found := strings.Cut(val.text, "-")
			if !found {
				return nil, p.errorf(val, "port range %q must look like LOW-HIGH", val.text)
			}
			lo, err := parsePort(a)
			if err != nil {
				return nil, p.errorf(val, "%v", err)
			}
			hi, err := parsePort(b)
			if err != nil {
				return nil, p.errorf(val, "%v", err)
			}
			if lo > hi { // tcpdump swaps a reversed range
				lo, hi = hi, lo
			}
			n.lo, n.hi = lo, hi
		}
		return n, nil
	}
}

func isOperator(s string) bool {
	switch s {
	case "and", "or", "not", "(", ")", "!", "&&", "||":
		return true
	}
	return false
}

func parsePort(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q must be a number from 0 to 65535 (service names are not supported)", s)
	}
	return uint16(v), nil
}

// ---- lowering to tests ----

// cond is a boolean tree over single comparisons, ready for code generation.
type cond interface{ isCond() }

type cAnd struct{ a, b cond }
type cOr struct{ a, b cond }
type cNot struct{ a cond }
type cConst bool

// cTest loads a field, masks it, and compares it with val.
type cTest struct {
	off      uint32
	size     int  // 1, 2 or 4
	indirect bool // off is relative to X = 4*(IPv4 IHL) loaded from xhdr
	xhdr     uint32
	mask     uint32 // 0: no mask
	op       bpf.JumpTest
	val      uint32
}

func (cAnd) isCond()   {}
func (cOr) isCond()    {}
func (cNot) isCond()   {}
func (cConst) isCond() {}
func (cTest) isCond()  {}

func and(cs ...cond) cond {
	var out cond
	for _, c := range cs {
		if out == nil {
			out = c
		} else {
			out = cAnd{out, c}
		}
	}
	return out
}

func or(cs ...cond) cond {
	var out cond
	for _, c := range cs {
		if out == nil {
			out = c
		} else {
			out = cOr{out, c}
		}
	}
	return out
}

func (n andNode) lower(lk layout) (cond, error) { return lowerPair(lk, n.a, n.b, true) }
func (n orNode) lower(lk layout) (cond, error)  { return lowerPair(lk, n.a, n.b, false) }
func (n notNode) lower(lk layout) (cond, error) {
	c, err := n.a.lower(lk)
	if err != nil {
		return nil, err
	}
	return cNot{c}, nil
}

func lowerPair(lk layout, a, b node, isAnd bool) (cond, error) {
	ca, err := a.lower(lk)
	if err != nil {
		return nil, err
	}
	cb, err := b.lower(lk)
	if err != nil {
		return nil, err
	}
	if isAnd {
		return cAnd{ca, cb}, nil
	}
	return cOr{ca, cb}, nil
}

// isFamily tests that the frame carries IPv4 (4) or IPv6 (6).
func (lk layout) isFamily(fam int) cond {
	switch {
	case lk.hasEther:
		et := uint32(0x0800)
		if fam == 6 {
			et = 0x86dd
		}
		return cTest{off: lk.etherOff, size: 2, op: bpf.JumpEqual, val: et}
	case lk.versioned:
		return cTest{off: 0, size: 1, mask: 0xf0, op: bpf.JumpEqual, val: uint32(fam) << 4}
	}
	return cConst(lk.fixedFam == fam)
}

const (
	bpfProtoICMP   = 1
	bpfProtoTCP    = 6
	bpfProtoUDP    = 17
	bpfProtoFrag6  = 44
	bpfProtoICMPv6 = 58
)

// ipProto tests the IPv4 protocol field.
func (lk layout) ip4Proto(proto uint32) cond {
	return and(lk.isFamily(4), cTest{off: lk.nh + 9, size: 1, op: bpf.JumpEqual, val: proto})
}

// ip6Proto tests the IPv6 next header, looking through one fragment header.
func (lk layout) ip6Proto(proto uint32) cond {
	return and(lk.isFamily(6), or(
		cTest{off: lk.nh + 6, size: 1, op: bpf.JumpEqual, val: proto},
		and(cTest{off: lk.nh + 6, size: 1, op: bpf.JumpEqual, val: bpfProtoFrag6},
			cTest{off: lk.nh + 40, size: 1, op: bpf.JumpEqual, val: proto})))
}

func (n protoNode) lower(lk layout) (cond, error) {
	switch n.name {
	case "ip":
		return lk.isFamily(4), nil
	case "ip6":
		return lk.isFamily(6), nil
	case "tcp":
		return or(lk.ip4Proto(bpfProtoTCP), lk.ip6Proto(bpfProtoTCP)), nil
	case "udp":
		return or(lk.ip4Proto(bpfProtoUDP), lk.ip6Proto(bpfProtoUDP)), nil
	case "icmp":
		return lk.ip4Proto(bpfProtoICMP), nil
	case "icmp6":
		return lk.ip6Proto(bpfProtoICMPv6), nil
	}
	return nil, fmt.Errorf("filter: position %d: unknown protocol %q", n.tok.pos+1, n.name)
}

func (n hostNode) lower(lk layout) (cond, error) {
	a := n.prefix.Addr()
	var srcOff, dstOff uint32
	var fam int
	if a.Is4() {
		fam, srcOff, dstOff = 4, lk.nh+12, lk.nh+16
	} else {
		fam, srcOff, dstOff = 6, lk.nh+8, lk.nh+24
	}
	match := func(off uint32) cond {
		var tests []cond
		b := a.AsSlice()
		bits := n.prefix.Bits()
		for w := 0; w < len(b)/4; w++ {
			wbits := min(max(bits-32*w, 0), 32)
			if wbits == 0 {
				break
			}
			mask := ^uint32(0) << (32 - wbits)
			val := uint32(b[4*w])<<24 | uint32(b[4*w+1])<<16 | uint32(b[4*w+2])<<8 | uint32(b[4*w+3])
			t := cTest{off: off + uint32(4*w), size: 4, op: bpf.JumpEqual, val: val & mask}
			if wbits < 32 {
				t.mask = mask
			}
			tests = append(tests, t)
		}
		if len(tests) == 0 { // net 0.0.0.0/0 or ::/0
			return cConst(true)
		}
		return and(tests...)
	}
	side := func(src, dst uint32) cond {
		switch n.dir {
		case "src":
			return match(src)
		case "dst":
			return match(dst)
		}
		return or(match(src), match(dst))
	}
	c := and(lk.isFamily(fam), side(srcOff, dstOff))
	if fam == 4 && n.proto == "" && lk.hasEther {
		// Like libpcap, an unqualified IPv4 host or net also matches
		// the sender and target addresses of ARP and RARP.
		for _, et := range []uint32{0x0806, 0x8035} {
			c = or(c, and(cTest{off: lk.etherOff, size: 2, op: bpf.JumpEqual, val: et},
				side(lk.nh+14, lk.nh+24)))
		}
	}
	return c, nil
}

func (n portNode) lower(lk layout) (cond, error) {
	protos := []uint32{bpfProtoTCP, bpfProtoUDP}
	switch n.proto {
	case "tcp":
		protos = protos[:1]
	case "udp":
		protos = protos[1:]
	}
	// portMatch tests the source (at +0) or destination (at +2) port
	// of a transport header found at off (or at X+off when indirect).
	portMatch := func(t cTest) cond {
		t.size = 2
		if n.lo == n.hi {
			t.op, t.val = bpf.JumpEqual, uint32(n.lo)
			return t
		}
		lo, hi := t, t
		lo.op, lo.val = bpf.JumpGreaterOrEqual, uint32(n.lo)
		hi.op, hi.val = bpf.JumpGreaterThan, uint32(n.hi)
		return and(lo, cNot{hi})
	}
	ports := func(base cTest) cond {
		src, dst := base, base
		dst.off += 2
		switch n.dir {
		case "src":
			return portMatch(src)
		case "dst":
			return portMatch(dst)
		}
		return or(portMatch(src), portMatch(dst))
	}
	var v4p, v6p []cond
	for _, pr := range protos {
		v4p = append(v4p, cTest{off: lk.nh + 9, size: 1, op: bpf.JumpEqual, val: pr})
		v6p = append(v6p, cTest{off: lk.nh + 6, size: 1, op: bpf.JumpEqual, val: pr})
	}
	v4 := and(lk.isFamily(4), or(v4p...),
		cNot{cTest{off: lk.nh + 6, size: 2, op: bpf.JumpBitsSet, val: 0x1fff}}, // not a later fragment
		ports(cTest{off: lk.nh, indirect: true, xhdr: lk.nh}))
	v6 := and(lk.isFamily(6), or(v6p...), ports(cTest{off: lk.nh + 40}))
	return or(v4, v6), nil
}

// ---- code generation ----

// ins is an instruction whose conditional jump targets are labels, resolved
// to relative offsets once every label is placed.
type ins struct {
	i      bpf.Instruction
	jt, jf int // labels for a JumpIf, or jt alone for a Jump
}

type codegen struct {
	code   []ins
	labels []int // label -> instruction index
}

func (g *codegen) newLabel() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *codegen) place(l int) { g.labels[l] = len(g.code) }

// emit writes code that jumps to t when c holds and to f otherwise. Every
// label it jumps to is placed after the code, so all jumps go forward as
// classic BPF requires.
func (g *codegen) emit(c cond, t, f int) {
	switch c := c.(type) {
	case cConst:
		l := f
		if c {
			l = t
		}
		g.code = append(g.code, ins{i: bpf.Jump{}, jt: l})
	case cNot:
		g.emit(c.a, f, t)
	case cAnd:
		mid := g.newLabel()
		g.emit(c.a, mid, f)
		g.place(mid)
		g.emit(c.b, t, f)
	case cOr:
		mid := g.newLabel()
		g.emit(c.a, t, mid)
		g.place(mid)
		g.emit(c.b, t, f)
	case cTest:
		if c.indirect {
			g.code = append(g.code, ins{i: bpf.LoadMemShift{Off: c.xhdr}})
			g.code = append(g.code, ins{i: bpf.LoadIndirect{Off: c.off, Size: c.size}})
		} else {
			g.code = append(g.code, ins{i: bpf.LoadAbsolute{Off: c.off, Size: c.size}})
		}
		if c.mask != 0 {
			g.code = append(g.code, ins{i: bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: c.mask}})
		}
		g.code = append(g.code, ins{i: bpf.JumpIf{Cond: c.op, Val: c.val}, jt: t, jf: f})
	}
}

var errTooLong = errors.New("filter: expression too complex (a conditional jump exceeds 255 instructions)")

func (g *codegen) resolve() ([]bpf.Instruction, error) {
	out := make([]bpf.Instruction, len(g.code))
	for idx, c := range g.code {
		switch j := c.i.(type) {
		case bpf.JumpIf:
			st, sf := g.labels[c.jt]-idx-1, g.labels[c.jf]-idx-1
			if st < 0 || sf < 0 {
				return nil, fmt.Errorf("filter: internal error: backward jump at %d (labels %d, %d)", idx, c.jt, c.jf)
			}
			if st > 255 || sf > 255 {
				return nil, errTooLong
			}
			j.SkipTrue, j.SkipFalse = uint8(st), uint8(sf)
			out[idx] = j
		case bpf.JumpIfX:
			st, sf := g.labels[c.jt]-idx-1, g.labels[c.jf]-idx-1
			if st < 0 || sf < 0 {
				return nil, fmt.Errorf("filter: internal error: backward jump at %d (labels %d, %d)", idx, c.jt, c.jf)
			}
			if st > 255 || sf > 255 {
				return nil, errTooLong
			}
			j.SkipTrue, j.SkipFalse = uint8(st), uint8(sf)
			out[idx] = j
		case bpf.Jump:
			out[idx] = bpf.Jump{Skip: uint32(g.labels[c.jt] - idx - 1)}
		default:
			out[idx] = c.i
		}
	}
	if len(out) > 4096 { // BPF_MAXINSNS
		return nil, errTooLong
	}
	return out, nil
}
