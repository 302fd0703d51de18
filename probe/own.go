package probe

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// The agent captures its own probes and their replies on the interfaces it
// watches. They are not the host's traffic: tracing a flagged destination
// must not raise the flagged-flow metrics, events and alerts. Owns
// recognises them on the capture path by the flow identifier each trace
// claims (see claimFlow): a UDP or TCP probe by its destination and source
// port, an ICMP echo by its destination and its constant identifier plus
// sequence sum, and every reply by the same key, echoed back or quoted in
// an ICMP error. Keys outlive their trace by ownLinger, so that late
// replies are recognised too, and are not reused meanwhile.

// ownLinger is how long a trace's key stays recognised after the trace
// ends: longer than any reply can be late (a probe times out after
// Options.ProbeTimeout, 1s by default).
const ownLinger = 10 * time.Second

// ownSet is an immutable snapshot of the keys of traces in progress or
// lingering, read without a lock on the packet path.
type ownSet map[flowKey]struct{}

// IP protocol numbers and ICMP types the recogniser reads.
const (
	ipProtoICMP   = 1
	ipProtoTCP    = 6
	ipProtoUDP    = 17
	ipProtoICMPv6 = 58

	icmp4EchoReply    = 0
	icmp4Unreachable  = 3
	icmp4EchoRequest  = 8
	icmp4TimeExceeded = 11
	icmp6Unreachable  = 1
	icmp6TimeExceeded = 3
	icmp6EchoRequest  = 128
	icmp6EchoReply    = 129
)

// Owns reports whether a captured IP packet is a probe of a trace of p or
// a reply to one. proto, src, dst and the ports are the decoded packet's
// (after any tunnel headers); frame is the captured frame, in which an ICMP
// packet's header is found again by its addresses (see icmpIn). It is safe
// for concurrent use, does not allocate, and costs one atomic load when no
// trace is running. Each packet it owns is counted in
// jurismon_path_probe_captured_packets_total.
func (p *Prober) Owns(proto uint8, src, dst netip.Addr, sport, dport uint16, frame []byte) bool {
	if p == nil {
		return false
	}
	set := p.own.Load()
	if set == nil || len(*set) == 0 {
		return false
	}
	if owned(*set, proto, src.Unmap(), dst.Unmap(), sport, dport, frame) {
		p.stats.captured.Add(1)
		return true
	}
	return false
}

func owned(set ownSet, proto uint8, src, dst netip.Addr, sport, dport uint16, frame []byte) bool {
	has := func(k flowKey) bool { _, ok := set[k]; return ok }
	switch proto {
	case ipProtoUDP, ipProtoTCP:
		m := MethodUDP
		if proto == ipProtoTCP {
			m = MethodTCP
		}
		// A probe (or the kernel's RST to a SYN-ACK it did not expect)
		// goes to the destination from the claimed port; an answer comes
		// back from it to that port.
		return has(flowKey{dst: dst, method: m, id: sport}) || has(flowKey{dst: src, method: m, id: dport})
	case ipProtoICMP, ipProtoICMPv6:
		v6 := proto == ipProtoICMPv6
		l4 := icmpIn(frame, v6, src, dst)
		if len(l4) < 8 {
			return false
		}
		echoKey := func(peer netip.Addr) flowKey {
			return flowKey{dst: peer, method: MethodICMP, id: onesAdd(binary.BigEndian.Uint16(l4[4:]), binary.BigEndian.Uint16(l4[6:]))}
		}
		switch t := l4[0]; {
		case !v6 && t == icmp4EchoRequest, v6 && t == icmp6EchoRequest:
			return has(echoKey(dst))
		case !v6 && t == icmp4EchoReply, v6 && t == icmp6EchoReply:
			return has(echoKey(src))
		case !v6 && (t == icmp4Unreachable || t == icmp4TimeExceeded), v6 && (t == icmp6Unreachable || t == icmp6TimeExceeded):
			k, ok := quotedKey(v6, l4[8:])
			return ok && has(k)
		}
	}
	return false
}

// maxLinkHeader bounds where icmpIn looks for the IP header: past the
// longest link and tunnel headers a probe or its reply can be under.
const maxLinkHeader = 256

// icmpIn returns the ICMP message of the IP packet from src to dst in
// frame, or nil. The decoder does not hand out offsets, so the IP header is
// found again by its version and its two addresses, at most maxLinkHeader
// bytes in: a match by chance would need both 4- or 16-byte addresses in
// place. An IPv6 packet counts only without extension headers, as probes
// and replies are sent.
func icmpIn(frame []byte, v6 bool, src, dst netip.Addr) []byte {
	if v6 {
		s, d := src.As16(), dst.As16()
		for off := 0; off <= maxLinkHeader && off+40 <= len(frame); off++ {
			b := frame[off:]
			if b[0]>>4 == 6 && b[6] == ipProtoICMPv6 && [16]byte(b[8:24]) == s && [16]byte(b[24:40]) == d {
				return b[40:]
			}
		}
		return nil
	}
	if !src.Is4() || !dst.Is4() {
		return nil
	}
	s, d := src.As4(), dst.As4()
	for off := 0; off <= maxLinkHeader && off+20 <= len(frame); off++ {
		b := frame[off:]
		if ihl := int(b[0]&0x0f) * 4; b[0]>>4 == 4 && ihl >= 20 && len(b) >= ihl && b[9] == ipProtoICMP && [4]byte(b[12:16]) == s && [4]byte(b[16:20]) == d {
			return b[ihl:]
		}
	}
	return nil
}

// quotedKey reads the key of the probe quoted in an ICMP error: the
// original IP header and the first 8 bytes of its transport header.
func quotedKey(v6 bool, q []byte) (flowKey, bool) {
	var dst netip.Addr
	var proto uint8
	var l4 []byte
	if v6 {
		if len(q) < 40+8 || q[0]>>4 != 6 {
			return flowKey{}, false
		}
		proto, dst, l4 = q[6], netip.AddrFrom16([16]byte(q[24:40])), q[40:]
	} else {
		if len(q) < 20 || q[0]>>4 != 4 {
			return flowKey{}, false
		}
		ihl := int(q[0]&0x0f) * 4
		if ihl < 20 || len(q) < ihl+8 {
			return flowKey{}, false
		}
		proto, dst, l4 = q[9], netip.AddrFrom4([4]byte(q[16:20])), q[ihl:]
	}
	switch proto {
	case ipProtoUDP:
		return flowKey{dst: dst.Unmap(), method: MethodUDP, id: binary.BigEndian.Uint16(l4)}, true
	case ipProtoTCP:
		return flowKey{dst: dst.Unmap(), method: MethodTCP, id: binary.BigEndian.Uint16(l4)}, true
	case ipProtoICMP, ipProtoICMPv6:
		return flowKey{dst: dst.Unmap(), method: MethodICMP, id: onesAdd(binary.BigEndian.Uint16(l4[4:]), binary.BigEndian.Uint16(l4[6:]))}, true
	}
	return flowKey{}, false
}

// publishOwn replaces the snapshot Owns reads with the current keys; p.mu
// must be held.
func (p *Prober) publishOwn() {
	set := make(ownSet, len(p.flows))
	for k := range p.flows {
		set[k] = struct{}{}
	}
	p.own.Store(&set)
}

// sweepFlows forgets the keys whose linger time is over; p.mu must be held.
func (p *Prober) sweepFlows(now time.Time) {
	changed := false
	for k, until := range p.flows {
		if !until.IsZero() && now.After(until) {
			delete(p.flows, k)
			changed = true
		}
	}
	if changed {
		p.publishOwn()
	}
}
