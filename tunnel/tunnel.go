// Package tunnel recognises tunnels and VPNs from the headers and the first
// payload bytes of a flow's first packets: WireGuard, OpenVPN (UDP and
// TCP), IPsec (IKE and ESP), L2TP, PPTP, Tailscale, and the tunnels the
// capture decoder removes (GRE, VXLAN, GENEVE, IP-in-IP). It is an
// enrich.Inspector: it keeps what it has seen of a flow in the flow's
// enrich.State and sets Facts.Tunnel.Protocol once it is sure.
//
// Every signature works on any port (VPN providers run WireGuard on 443
// and OpenVPN on 53), so one packet is never enough: a one-sided signature
// matches ordinary traffic now and then (nDPI's and Zeek's trackers
// document such false positives). A flow is recognised only when both
// directions agree (the responder echoes the initiator's index, session id
// or SPI) or when one direction's packets agree with each other (the same
// session id, SPI or key again, counters that grow). The exceptions are
// protocol numbers that say what they carry: ESP (50), GRE (47), IP-in-IP
// (4, 41), and tunnels the decoder has already taken apart.
package tunnel

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// The protocol names Facts.Tunnel.Protocol takes. The decapsulated tunnels
// take capture.Encap's names: "gre", "vxlan", "geneve" and "ipip".
const (
	WireGuard = "wireguard"
	OpenVPN   = "openvpn"
	IPsec     = "ipsec"
	L2TP      = "l2tp"
	PPTP      = "pptp"
	Tailscale = "tailscale"
	GRE       = "gre"
	IPIP      = "ipip"
)

// MaxPackets is how many packets of a flow the classifier looks at before
// it gives up; MaxMisses how many payloads that fit no protocol at all.
// Both bound the work a flow can cost (the flow accountant bounds it too).
const (
	MaxPackets = 16
	MaxMisses  = 3
)

// PayloadBytes is how far into a TCP or UDP payload the classifier reads
// at most: OpenVPN's control header with a 64-byte tls-auth HMAC, its
// packet id and time, an acknowledgement and the peer's session id. A live
// capture must keep this much after the transport header
// (capture.LiveOptions.Payload; the snap length may cut it shorter, and the
// signatures are checked against what was captured).
const PayloadBytes = 96

// Classifier is the tunnel inspector. The zero value is ready; it holds no
// per-flow state of its own, so one Classifier serves every flow and
// goroutine.
type Classifier struct {
	// Providers, when set, names the provider of a recognised tunnel's
	// remote endpoint (Facts.Tunnel.Provider).
	Providers *Providers
	// Reloaded, when set, is read instead of Providers each time a tunnel
	// is recognised: the agent swaps the list when the policy is reloaded.
	Reloaded *atomic.Pointer[Providers]
	// Locator locates the outer endpoint of a tunnel the decoder removed,
	// which is not the flow's remote (whose location the geo enricher
	// found). Without it such an endpoint has no location.
	Locator enrich.Locator
}

var _ enrich.Inspector = Classifier{}

// The layout of enrich.State. The candidate's own fields start at data.
const (
	sCand    = 0 // the protocol being confirmed (cand*)
	sFlags   = 1 // flag* bits, kept across candidates
	sPackets = 2 // packets seen, saturating
	sMisses  = 3 // payloads that fit nothing
	sDisco   = 4 // Tailscale disco messages seen
	data     = 5 // 27 bytes for the candidate
)

// Candidates.
const (
	candNone uint8 = iota
	candWireGuard
	candOpenVPN
	candIKE
	candESP
	candL2TP
	candPPTP
)

// Flags.
const (
	flagDone        = 1 << iota // recognised for good, or given up: nothing changes any more
	flagWireGuard               // confirmed as WireGuard, which disco may yet make Tailscale
	flagDiscoLocal              // a disco message came from the local side
	flagDiscoRemote             // ... from the remote side
)

// Inspect implements enrich.Inspector.
func (c Classifier) Inspect(s *enrich.State, f *enrich.Facts, p *capture.Packet, fromLocal bool) (changed, done bool) {
	if s[sFlags]&flagDone != 0 {
		return false, true
	}
	if s[sPackets] < 255 {
		s[sPackets]++
	}
	proto, final := classify(s, p, fromLocal)
	if proto != "" && f.Tunnel.Protocol != proto {
		c.ends(f, p, fromLocal)
		f.Tunnel.Protocol = proto
		providers := c.Providers
		if c.Reloaded != nil {
			providers = c.Reloaded.Load()
		}
		f.Tunnel.Provider = providers.Lookup(f.Tunnel.Endpoint.Addr())
		changed = true
	}
	if final || s[sPackets] >= MaxPackets || s[sMisses] >= MaxMisses {
		s[sFlags] |= flagDone
		return changed, true
	}
	return changed, false
}

// ends sets where the tunnel of f ends: the flow's own endpoints, or the
// outer addresses of a tunnel the decoder removed (the inner flow's remote
// is then only where the traffic goes after the tunnel's far end).
func (c Classifier) ends(f *enrich.Facts, p *capture.Packet, fromLocal bool) {
	f.Tunnel.Local, f.Tunnel.Endpoint, f.Tunnel.Location = f.Local, f.Remote, f.Location
	if p.Tunnels == 0 || !p.OuterSrc.IsValid() || !p.OuterDst.IsValid() {
		return
	}
	local, remote := p.OuterSrc, p.OuterDst
	if !fromLocal {
		local, remote = remote, local
	}
	f.Tunnel.Local, f.Tunnel.Endpoint = netip.AddrPortFrom(local, 0), netip.AddrPortFrom(remote, 0)
	if remote == f.Remote.Addr() {
		return
	}
	f.Tunnel.Location = nil
	if c.Locator != nil {
		f.Tunnel.Location = c.Locator.Lookup(remote)
	}
}

// classify looks at one packet. It returns the protocol when the flow is
// recognised, and final when nothing later can change that.
func classify(s *enrich.State, p *capture.Packet, fromLocal bool) (proto string, final bool) {
	if p.Tunnels > 0 && p.Encap != capture.EncapERSPAN && p.Encap != capture.EncapNone {
		// The decoder took the tunnel apart: its headers were checked.
		// (ERSPAN is a copy of traffic sent to a collector, not a path.)
		return p.Encap.String(), true
	}
	b, n := p.Payload, int(p.PayloadLen)
	switch p.Proto {
	case 50: // ESP: SPI and sequence number, then the encrypted payload
		if n >= 8 {
			return IPsec, true
		}
		return "", false
	case 47:
		return gre(s, b)
	case 4, 41: // IP-in-IP left in place (a fragment, or decapsulation off)
		return IPIP, true
	case 17:
		return udp(s, p, msg{b, n}, fromLocal)
	case 6:
		if n == 0 {
			return "", false // the handshake, or a pure acknowledgement
		}
		return tcp(s, msg{b, n}, fromLocal)
	}
	s[sMisses] = MaxMisses // no tunnel protocol of ours runs over it
	return "", false
}

// gre recognises a GRE packet that was not decapsulated: version 1 is
// PPTP's data channel (RFC 2637: key present, protocol PPP 0x880b).
func gre(s *enrich.State, b []byte) (string, bool) {
	if len(b) < 4 {
		return "", false
	}
	t := binary.BigEndian.Uint16(b[2:])
	switch b[1] & 0x07 {
	case 1:
		if b[0]&0x20 != 0 && t == 0x880b {
			return PPTP, true
		}
	case 0:
		if t != 0x88be && t != 0x22eb { // ERSPAN: mirrored traffic
			return GRE, true
		}
	}
	s[sMisses]++
	return "", false
}

// msg is a payload: the bytes captured (b) and its length on the wire (n),
// which is more where the snap length cut it. Sizes are checked against n,
// contents only within b.
type msg struct {
	b []byte
	n int
}

// dir is 0 for the local side, 1 for the remote one.
func dir(fromLocal bool) int {
	if fromLocal {
		return 0
	}
	return 1
}

var discoMagic = []byte("TS\xf0\x9f\x92\xac") // "TS💬"

// discoMin is the smallest disco message: magic, the sender's 32-byte disco
// key, a 24-byte nonce and a NaCl box (16 bytes of tag and a message).
const discoMin = 6 + 32 + 24 + 16 + 2

func udp(s *enrich.State, p *capture.Packet, m msg, fromLocal bool) (string, bool) {
	if len(m.b) == 0 {
		return "", false
	}
	if m.n >= discoMin && len(m.b) >= 6 && bytes.Equal(m.b[:6], discoMagic) {
		// Tailscale's disco messages share the socket with its WireGuard
		// packets. Both sides sending them, or one side sending them again
		// and again, or disco beside WireGuard, is Tailscale.
		if fromLocal {
			s[sFlags] |= flagDiscoLocal
		} else {
			s[sFlags] |= flagDiscoRemote
		}
		if s[sDisco] < 255 {
			s[sDisco]++
		}
		both := s[sFlags]&(flagDiscoLocal|flagDiscoRemote) == flagDiscoLocal|flagDiscoRemote
		if both || s[sDisco] >= 3 || s[sFlags]&flagWireGuard != 0 {
			return Tailscale, true
		}
		return "", false
	}
	if s[sFlags]&flagWireGuard != 0 {
		return "", false // WireGuard already: only disco can still change that
	}
	if m.n == 1 && m.b[0] == 0xff {
		return "", false // a NAT-T keepalive (RFC 3948)
	}
	port4500 := p.SrcPort == 4500 || p.DstPort == 4500
	l2tpPort := p.SrcPort == 1701 || p.DstPort == 1701
	for range 2 {
		var r result
		switch s[sCand] {
		case candNone:
			r = start(s, m, fromLocal, false, port4500, l2tpPort)
			if r == reject {
				s[sMisses]++
				return "", false
			}
		case candWireGuard:
			r = wireguardStep(s, m, fromLocal)
		case candOpenVPN:
			r = openvpnStep(s, m, fromLocal, false)
		case candIKE:
			r = ikeStep(s, m, fromLocal)
		case candESP:
			r = espStep(s, m, fromLocal)
		case candL2TP:
			r = l2tpStep(s, m, fromLocal)
		}
		switch r {
		case confirm:
			return confirmed(s)
		case reject:
			// Not the candidate after all: start over from this packet.
			clear(s[data:])
			s[sCand] = candNone
			continue
		}
		return "", false
	}
	return "", false
}

func tcp(s *enrich.State, m msg, fromLocal bool) (string, bool) {
	for range 2 {
		var r result
		switch s[sCand] {
		case candNone:
			r = start(s, m, fromLocal, true, false, false)
			if r == reject {
				s[sMisses]++
				return "", false
			}
		case candOpenVPN:
			r = openvpnStep(s, m, fromLocal, true)
		case candPPTP:
			r = pptpStep(s, m, fromLocal)
		default:
			r = reject
		}
		switch r {
		case confirm:
			return confirmed(s)
		case reject:
			clear(s[data:])
			s[sCand] = candNone
			continue
		}
		return "", false
	}
	return "", false
}

// confirmed names the candidate that was just confirmed. WireGuard stays
// open to disco, which makes it Tailscale.
func confirmed(s *enrich.State) (string, bool) {
	switch s[sCand] {
	case candWireGuard:
		if s[sFlags]&(flagDiscoLocal|flagDiscoRemote) != 0 {
			return Tailscale, true
		}
		s[sFlags] |= flagWireGuard
		return WireGuard, false
	case candOpenVPN:
		return OpenVPN, true
	case candIKE, candESP:
		return IPsec, true
	case candL2TP:
		return L2TP, true
	case candPPTP:
		return PPTP, true
	}
	return "", false
}

// result is what one packet does to a candidate.
type result uint8

const (
	more    result = iota // consistent; not sure yet
	confirm               // sure
	reject                // inconsistent: not this protocol
)

// start picks the candidate a flow's packet suggests, strongest signature
// first, and records the packet in it.
func start(s *enrich.State, m msg, fromLocal, isTCP, port4500, l2tpPort bool) result {
	if isTCP {
		if isPPTP(m) {
			s[sCand] = candPPTP
			return pptpStep(s, m, fromLocal)
		}
		if _, ok := openvpnPacket(m, true); ok {
			s[sCand] = candOpenVPN
			return openvpnStep(s, m, fromLocal, true)
		}
		return reject
	}
	if _, ok := ikeHeader(m); ok {
		s[sCand] = candIKE
		return ikeStep(s, m, fromLocal)
	}
	if wireguardType(m) != 0 {
		s[sCand] = candWireGuard
		return wireguardStep(s, m, fromLocal)
	}
	if h, ok := openvpnPacket(m, false); ok && h.reset() {
		s[sCand] = candOpenVPN
		return openvpnStep(s, m, fromLocal, false)
	}
	if l2tpPort && l2tpValid(m) {
		s[sCand] = candL2TP
		return l2tpStep(s, m, fromLocal)
	}
	if port4500 && espValid(m) {
		s[sCand] = candESP
		return espStep(s, m, fromLocal)
	}
	return reject
}
