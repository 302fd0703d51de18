package dns

import (
	"bytes"
	"net/netip"

	"golang.org/x/net/dns/dnsmessage"
)

// Result says what became of one DNS message. Its String form is the value
// of the `result` metric label.
type Result uint8

// The results of Message.
const (
	// Decoded: a response read to its last answer.
	Decoded Result = iota
	// Partial: a response cut short where the caller said it may be (the
	// first fragment of a fragmented datagram, a TCP message longer than
	// its segment); the answers before the cut were kept.
	Partial
	// Ignored: a well-formed message that answers nothing: a query, an
	// error response, an opcode other than QUERY.
	Ignored
	// Malformed: the message does not parse (answers before the fault,
	// if any, were kept: a capture's snap length cuts messages too).
	Malformed

	numResults
)

var resultNames = [numResults]string{Decoded: "decoded", Partial: "partial", Ignored: "ignored", Malformed: "malformed"}

// String returns the stable snake_case name used as the `result` label.
func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return "unknown"
}

// cname is one CNAME record of a message: owner is an alias of target.
type cname struct{ owner, target dnsmessage.Name }

// Message decodes one DNS message msg (without the TCP length prefix),
// sent to client at ts (Unix nanoseconds, packet time), and stores the
// names of its A and AAAA answers. cut says msg may end before the message
// does; a parse error is then Partial rather than Malformed. Only the
// answer section is read: the addresses in the additional section are the
// name servers', not the queried name's.
//
// A message whose names are all known already is decoded and stored
// without allocating.
func (c *Cache) Message(msg []byte, client netip.Addr, ts int64, cut bool) Result {
	r := c.message(msg, client, ts, cut)
	c.metrics.messages[r].Add(1)
	if ts > c.now.Load() {
		c.now.Store(ts) // a racing store of a slightly older time only delays expiry in the entries gauge
	}
	return r
}

func (c *Cache) message(msg []byte, client netip.Addr, ts int64, cut bool) Result {
	fault := Malformed
	if cut {
		fault = Partial
	}
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return fault
	}
	if !h.Response || h.OpCode != 0 || h.RCode != dnsmessage.RCodeSuccess {
		return Ignored
	}
	if err := p.SkipAllQuestions(); err != nil {
		return fault
	}
	// First pass: the CNAME records, so that answers in any order resolve
	// their chains; and how many answers parse.
	var cnames [MaxChain]cname
	nc, good, result := 0, 0, Decoded
	for {
		rh, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			result = fault
			break
		}
		if rh.Type == dnsmessage.TypeCNAME && rh.Class == dnsmessage.ClassINET && nc < MaxChain {
			r, err := p.CNAMEResource()
			if err != nil {
				result = fault
				break
			}
			cnames[nc] = cname{owner: rh.Name, target: r.CNAME}
			if normalise(&cnames[nc].owner) != nil && normalise(&cnames[nc].target) != nil {
				nc++
			}
		} else if err := p.SkipAnswer(); err != nil {
			result = fault
			break
		}
		good++
	}
	if good == 0 {
		if result == Decoded {
			return Ignored
		}
		return result
	}
	// Second pass: the address records among the answers that parsed.
	p = dnsmessage.Parser{}
	if _, err := p.Start(msg); err != nil {
		return fault
	}
	if err := p.SkipAllQuestions(); err != nil {
		return fault
	}
	// chain points into rh: both live across the loop, so that neither is
	// moved to the heap per answer.
	var chain [MaxChain + 1][]byte
	var rh dnsmessage.ResourceHeader
	for range good {
		if rh, err = p.AnswerHeader(); err != nil {
			return fault
		}
		var addr netip.Addr
		switch {
		case rh.Class != dnsmessage.ClassINET:
		case rh.Type == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return fault
			}
			addr = netip.AddrFrom4(r.A)
		case rh.Type == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return fault
			}
			addr = netip.AddrFrom16(r.AAAA)
		}
		if !addr.IsValid() {
			if err := p.SkipAnswer(); err != nil {
				return fault
			}
			continue
		}
		owner := normalise(&rh.Name)
		if owner == nil || addr.IsUnspecified() {
			continue // a blocking resolver's 0.0.0.0 names nothing
		}
		// The chain: the queried name first, owner last.
		steps, n := walk(owner, cnames[:nc])
		for i := range n {
			chain[i] = name(&cnames[steps[n-1-i]].owner)
		}
		chain[n] = owner
		stored, expires := c.store(addr, client, chain[:n+1], rh.TTL, ts)
		c.metrics.answers.Add(1)
		if c.answers != nil {
			c.answers.ObserveAnswer(stored, addr.Unmap(), client.Unmap(), expires, ts)
		}
	}
	return result
}

// walk follows the CNAME records back from owner to the queried name and
// returns the indexes in cnames of the records it took, owner's first.
// (Indexes rather than names, so that the names stay on the caller's
// stack.) MaxChain steps bound a CNAME loop.
func walk(owner []byte, cnames []cname) (steps [MaxChain]uint8, n int) {
	cur := owner
	for n < MaxChain {
		i := 0
		for i < len(cnames) && !bytes.Equal(name(&cnames[i].target), cur) {
			i++
		}
		if i == len(cnames) {
			break
		}
		steps[n] = uint8(i)
		n++
		cur = name(&cnames[i].owner)
	}
	return steps, n
}

// name returns n's text without the trailing dot (normalise has run).
func name(n *dnsmessage.Name) []byte {
	b := n.Data[:n.Length]
	if len(b) > 0 && b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}

// normalise lowercases n in place (answers echo the 0x20-randomised case of
// the query) and returns its text without the trailing dot, or nil when it
// is the root or holds a byte that is not printable ASCII: such a name is
// no host name, and would be unsafe in events and labels.
func normalise(n *dnsmessage.Name) []byte {
	b := n.Data[:n.Length]
	for i, ch := range b {
		switch {
		case 'A' <= ch && ch <= 'Z':
			b[i] = ch + 'a' - 'A'
		case ch <= ' ' || ch > '~':
			return nil
		}
	}
	if b = name(n); len(b) == 0 {
		return nil
	}
	return b
}
