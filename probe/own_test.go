package probe

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
)

// ether puts an IP packet in an Ethernet frame, as the capture sees it.
func ether(ip []byte) []byte {
	frame := make([]byte, 14, 14+len(ip))
	copy(frame, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	frame[12], frame[13] = 0x08, 0x00
	if ip[0]>>4 == 6 {
		frame[12], frame[13] = 0x86, 0xdd
	}
	return append(frame, ip...)
}

// withIPv6 restores the IPv6 header that icmpError drops for the socket.
func withIPv6(t *testing.T, from, to netip.Addr, icmp []byte) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: from.AsSlice(), DstIP: to.AsSlice()}
	return serialize(t, ip, gopacket.Payload(icmp))
}

func echoReplyOf(t *testing.T, f flow, ident uint16) []byte {
	id := onesAdd(f.icmpSum, ^ident)
	if f.dst.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 60, Protocol: layers.IPProtocolICMPv4, SrcIP: f.dst.AsSlice(), DstIP: f.src.AsSlice()}
		return serialize(t, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: id, Seq: ident}, gopacket.Payload(probePayload[:]))
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 60, NextHeader: layers.IPProtocolICMPv6, SrcIP: f.dst.AsSlice(), DstIP: f.src.AsSlice()}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoReply, 0)}
	if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, ic, &layers.ICMPv6Echo{Identifier: id, SeqNumber: ident}, gopacket.Payload(probePayload[:]))
}

func tcpFrom(t *testing.T, from, to netip.Addr, sport, dport uint16) []byte {
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, ACK: true, Window: 1000}
	if from.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 60, Protocol: layers.IPProtocolTCP, SrcIP: from.AsSlice(), DstIP: to.AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		return serialize(t, ip, tcp)
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 60, NextHeader: layers.IPProtocolTCP, SrcIP: from.AsSlice(), DstIP: to.AsSlice()}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp)
}

// ownedFrame decodes frame as the agent does and asks owned.
func ownedFrame(t *testing.T, set ownSet, frame []byte) bool {
	t.Helper()
	var p capture.Packet
	if r := capture.NewDecoder().Decode(capture.LinkEthernet, frame, &p); r != capture.Decoded {
		t.Fatalf("frame does not decode: %v", r)
	}
	return owned(set, p.Proto, p.Src, p.Dst, p.SrcPort, p.DstPort, frame)
}

func TestOwns(t *testing.T) {
	for _, fam := range []struct{ src, dst, router netip.Addr }{{agent4, dst4, router4}, {agent6, dst6, router6}} {
		timeExceeded, unreachable := uint8(layers.ICMPv4TypeTimeExceeded), uint8(layers.ICMPv4TypeDestinationUnreachable)
		if fam.dst.Is6() {
			timeExceeded, unreachable = layers.ICMPv6TypeTimeExceeded, layers.ICMPv6TypeDestinationUnreachable
		}
		icmpErr := func(from netip.Addr, probe []byte, typ uint8) []byte {
			pkt := icmpError(t, from, fam.src, probe, 576, typ)
			if fam.dst.Is6() {
				return withIPv6(t, from, fam.src, pkt)
			}
			return pkt
		}
		for _, f := range []flow{
			{method: MethodUDP, srcPort: 40001, dstPort: 33434},
			{method: MethodTCP, srcPort: 40002, dstPort: 443},
			{method: MethodICMP, icmpSum: 0x8123},
		} {
			f.src, f.dst = fam.src, fam.dst
			other := f
			other.srcPort, other.icmpSum = 40999, 0x8999 // another trace, or the host's own traffic
			probe, otherProbe := wire(t, f, 3, 0x0301), wire(t, other, 3, 0x0301)
			owns := map[string][]byte{
				"probe":                probe,
				"time exceeded":        icmpErr(fam.router, probe, timeExceeded),
				"unreachable from dst": icmpErr(fam.dst, probe, unreachable),
			}
			foreign := map[string][]byte{
				"other flow":               otherProbe,
				"error quoting other flow": icmpErr(fam.router, otherProbe, timeExceeded),
			}
			switch f.method {
			case MethodTCP:
				owns["syn-ack"] = tcpFrom(t, f.dst, f.src, f.dstPort, f.srcPort)
				owns["kernel rst"] = tcpFrom(t, f.src, f.dst, f.srcPort, f.dstPort)
				foreign["host connection"] = tcpFrom(t, f.dst, f.src, f.dstPort, 51000)
			case MethodICMP:
				owns["echo reply"] = echoReplyOf(t, f, 0x0301)
				foreign["other ping"] = echoReplyOf(t, other, 0x0301)
			}
			set := ownSet{f.key(): {}}
			for name, pkt := range owns {
				t.Run(f.method.String()+"/"+fam.dst.String()+"/"+name, func(t *testing.T) {
					if !ownedFrame(t, set, ether(pkt)) {
						t.Error("not recognised as the prober's")
					}
					if ownedFrame(t, ownSet{}, ether(pkt)) {
						t.Error("recognised with no trace running")
					}
				})
			}
			for name, pkt := range foreign {
				t.Run(f.method.String()+"/"+fam.dst.String()+"/"+name, func(t *testing.T) {
					if ownedFrame(t, set, ether(pkt)) {
						t.Error("taken for the prober's")
					}
				})
			}
		}
	}
}

// A cut or hostile frame is never owned and never panics.
func FuzzOwned(f *testing.F) {
	fl := flow{method: MethodUDP, src: agent4, dst: dst4, srcPort: 40001, dstPort: 33434}
	probe := wire(&testing.T{}, fl, 3, 0x0301)
	f.Add(ether(probe), uint8(1))
	f.Add(ether(probe), uint8(58))
	set := ownSet{fl.key(): {}, {dst: dst6, method: MethodICMP, id: 0x8123}: {}}
	f.Fuzz(func(t *testing.T, frame []byte, proto uint8) {
		owned(set, proto, agent4, dst4, 40001, 33434, frame)
		owned(set, proto, agent6, dst6, 1, 2, frame)
		owned(set, proto, router4, agent4, 0, 0, frame)
	})
}

// The check on the capture path costs no allocation, traces running or not.
func BenchmarkOwns(b *testing.B) {
	fl := flow{method: MethodICMP, src: agent4, dst: dst4, icmpSum: 0x8123}
	p := &Prober{}
	frame := ether(wire(&testing.T{}, fl, 3, 0x0301))
	for _, running := range []bool{false, true} {
		set := ownSet{}
		if running {
			set[fl.key()] = struct{}{}
		}
		p.own.Store(&set)
		name := map[bool]string{false: "idle", true: "tracing"}[running]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Owns(1, agent4, router4, 0, 0, frame)
			}
		})
	}
}
