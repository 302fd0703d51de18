//go:build linux

package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// sockets are the raw sockets of one prober. They are all opened when the
// prober is made, so they belong to the network namespace of the calling
// thread whichever goroutine later uses them.
type sockets struct {
	send4  int // IPPROTO_RAW (implies IP_HDRINCL): whole IPv4 probes
	icmp4  int // receives ICMP errors and echo replies
	tcp4   int // receives SYN-ACK and RST
	route4 int // unconnected-then-connected UDP socket: source address lookup

	icmp6  int // sends echo requests, receives ICMPv6
	udp6   int // sends UDP probes
	tcp6   int // sends SYNs, receives SYN-ACK and RST
	route6 int
	err6   error // why IPv6 is unavailable, if it is

	routeMu sync.Mutex
}

const recvPoll = 100 * time.Millisecond

func openSockets() (*sockets, error) {
	s := &sockets{send4: -1, icmp4: -1, tcp4: -1, route4: -1, icmp6: -1, udp6: -1, tcp6: -1, route6: -1}
	var err error
	open := func(fd *int, family, typ, proto int) {
		if err != nil {
			return
		}
		var e error
		*fd, e = unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
		if e != nil {
			*fd = -1
			err = fmt.Errorf("probe: socket(%d, %d, %d): %w (raw sockets need CAP_NET_RAW)", family, typ, proto, e)
		}
	}
	open(&s.send4, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	open(&s.icmp4, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	open(&s.tcp4, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP)
	open(&s.route4, unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		s.close()
		return nil, err
	}
	open(&s.icmp6, unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6)
	open(&s.udp6, unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_UDP)
	open(&s.tcp6, unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_TCP)
	open(&s.route6, unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err == nil {
		// A zero flow label on every probe: the label is part of the flow
		// identifier that IPv6 load balancers hash.
		for _, fd := range []int{s.icmp6, s.udp6, s.tcp6} {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_AUTOFLOWLABEL, 0)
		}
		// The UDP socket is send-only; keep what it would queue small.
		_ = unix.SetsockoptInt(s.udp6, unix.SOL_SOCKET, unix.SO_RCVBUF, 256)
	}
	if err != nil {
		s.err6 = err
		for _, fd := range []*int{&s.icmp6, &s.udp6, &s.tcp6, &s.route6} {
			if *fd >= 0 {
				unix.Close(*fd)
				*fd = -1
			}
		}
	}
	// The receiving TCP sockets keep only SYN-ACKs and RSTs; the IPv6 UDP
	// socket only sends, so it keeps nothing.
	for _, f := range []struct {
		fd   int
		prog []bpf.Instruction
	}{{s.tcp4, tcpReplyFilter(false)}, {s.tcp6, tcpReplyFilter(true)}, {s.udp6, []bpf.Instruction{bpf.RetConstant{Val: 0}}}} {
		if f.fd >= 0 {
			if e := attachFilter(f.fd, f.prog); e != nil {
				s.close()
				return nil, e
			}
		}
	}
	tv := unix.NsecToTimeval(recvPoll.Nanoseconds())
	for _, fd := range []int{s.icmp4, s.tcp4, s.icmp6, s.tcp6} {
		if fd >= 0 {
			if e := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); e != nil {
				s.close()
				return nil, fmt.Errorf("probe: SO_RCVTIMEO: %w", e)
			}
		}
	}
	return s, nil
}

func (s *sockets) close() {
	for _, fd := range []*int{&s.send4, &s.icmp4, &s.tcp4, &s.route4, &s.icmp6, &s.udp6, &s.tcp6, &s.route6} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// source returns the address the kernel would send from to reach dst,
// by connecting a UDP socket (which sends nothing).
func (s *sockets) source(dst netip.Addr) (netip.Addr, error) {
	s.routeMu.Lock()
	defer s.routeMu.Unlock()
	var fd int
	var sa unix.Sockaddr
	if dst.Is4() {
		fd, sa = s.route4, &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}
	} else {
		if s.err6 != nil {
			return netip.Addr{}, s.err6
		}
		fd, sa = s.route6, &unix.SockaddrInet6{Port: 9, Addr: dst.As16()}
	}
	if err := unix.Connect(fd, sa); err != nil {
		return netip.Addr{}, fmt.Errorf("probe: no route to %v: %w", dst, err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, err
	}
	switch a := local.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr), nil
	}
	return netip.Addr{}, errors.New("probe: unexpected local address type")
}

// send writes one probe built by builder.build.
func (s *sockets) send(m Method, dst netip.Addr, ttl uint8, pkt []byte) error {
	if dst.Is4() {
		return unix.Sendto(s.send4, pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()})
	}
	if s.err6 != nil {
		return s.err6
	}
	fd := s.icmp6
	switch m {
	case MethodUDP:
		fd = s.udp6
	case MethodTCP:
		fd = s.tcp6
	}
	// The hop limit travels with the packet (IPV6_HOPLIMIT ancillary
	// data) rather than through IPV6_UNICAST_HOPS, so concurrent traces
	// sharing the socket cannot race on it.
	oob := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], uint32(ttl))
	_, err := unix.SendmsgN(fd, pkt, oob, &unix.SockaddrInet6{Addr: dst.As16()}, 0)
	return err
}

// receivers returns the read loops to run: one per receiving socket.
func (s *sockets) receivers() []func(buf []byte, p *parser) (reply, bool, error) {
	var out []func([]byte, *parser) (reply, bool, error)
	read := func(fd int, parse func(*parser, netip.Addr, []byte) (reply, bool)) func([]byte, *parser) (reply, bool, error) {
		return func(buf []byte, p *parser) (reply, bool, error) {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return reply{}, false, err
			}
			var addr netip.Addr
			switch a := from.(type) {
			case *unix.SockaddrInet4:
				addr = netip.AddrFrom4(a.Addr)
			case *unix.SockaddrInet6:
				addr = netip.AddrFrom16(a.Addr)
			}
			r, ok := parse(p, addr, buf[:n])
			return r, ok, nil
		}
	}
	out = append(out,
		read(s.icmp4, func(p *parser, _ netip.Addr, b []byte) (reply, bool) { return p.parseICMPv4(b) }),
		read(s.tcp4, func(p *parser, _ netip.Addr, b []byte) (reply, bool) { return p.parseTCPv4(b) }))
	if s.err6 == nil {
		out = append(out,
			read(s.icmp6, (*parser).parseICMPv6),
			read(s.tcp6, (*parser).parseTCPv6))
	}
	return out
}

// isTimeout reports a receive timeout (SO_RCVTIMEO) or an interruption.
func isTimeout(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR)
}
