//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/jurismon/jurismon/capture"
	"golang.org/x/sys/unix"
)

func main() { os.Exit(run()) }

type config struct {
	iface    string
	rate     int
	duration time.Duration
	flows    int
	seed     uint64
	batch    int
	dstMAC   string
	scan     bool
	capture  bool
	workers  int
	senders  int
	collide  int
	bits     int
	// collideFlows are made once from collide, shared by the senders.
	collideFlows []flow
}

func run() int {
	var cfg config
	flag.StringVar(&cfg.iface, "i", "", "interface to send on (required; must carry a documentation-range address)")
	flag.IntVar(&cfg.rate, "rate", 0, "packets per second (0 = as fast as possible)")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to send")
	flag.IntVar(&cfg.flows, "flows", 1024, "number of distinct flows (1..65536)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed for flows and sizes")
	flag.IntVar(&cfg.batch, "batch", 64, "frames per sendmmsg call (1..1024)")
	flag.StringVar(&cfg.dstMAC, "dst-mac", "02:00:5e:00:53:02", "destination MAC address of every frame")
	flag.BoolVar(&cfg.scan, "scan", false, "give every IPv6 frame a new destination in 2001:db8::/32 (a scan of distinct remote addresses; checksums are not updated)")
	flag.BoolVar(&cfg.capture, "capture", false, "capture and count frames on -i until SIGINT instead of sending")
	flag.IntVar(&cfg.workers, "workers", 1, "with -capture: sockets in the fanout group")
	flag.IntVar(&cfg.senders, "senders", 1, "sending threads, each with its own socket and frames (1..64); -rate is shared among them")
	flag.IntVar(&cfg.collide, "collide", 0, "send N UDP flows whose ports collide in the flow table's old unkeyed hash (a hash-flooding attack; replaces the mix)")
	flag.IntVar(&cfg.bits, "collide-bits", 16, "with -collide: low hash bits the flows share (8..20; each more doubles the search)")
	flag.Parse()
	if cfg.capture {
		if err := countFrames(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "jurismon-loadgen:", err)
			return 1
		}
		return 0
	}
	if err := validate(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "jurismon-loadgen:", err)
		return 2
	}
	if cfg.collide > 0 {
		cfg.collideFlows = collidingFlows(cfg.collide, cfg.bits)
		cfg.flows = len(cfg.collideFlows)
		fmt.Printf("%d flows sharing %d bits of the old flow hash\n", cfg.flows, cfg.bits)
	}
	res, err := send(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jurismon-loadgen:", err)
		return 1
	}
	secs := res.elapsed.Seconds()
	fmt.Printf("sent %d packets (%d bytes) in %.3fs: %.0f packets/s, %.1f Mbit/s, %d send retries\n",
		res.packets, res.bytes, secs, float64(res.packets)/secs, float64(res.bytes)*8/secs/1e6, res.retries)
	return 0
}

func validate(cfg config) error {
	switch {
	case cfg.iface == "":
		return errors.New("-i is required")
	case cfg.rate < 0:
		return fmt.Errorf("-rate %d: must be 0 (max) or positive", cfg.rate)
	case cfg.duration <= 0 || cfg.duration > time.Hour:
		return fmt.Errorf("-duration %s: must be within (0, 1h]", cfg.duration)
	case cfg.flows < 1 || cfg.flows > 65536:
		return fmt.Errorf("-flows %d: must be within 1..65536", cfg.flows)
	case cfg.batch < 1 || cfg.batch > 1024:
		return fmt.Errorf("-batch %d: must be within 1..1024", cfg.batch)
	case cfg.collide < 0 || cfg.collide > 60000:
		return fmt.Errorf("-collide %d: must be within 0..60000", cfg.collide)
	case cfg.collide > 0 && (cfg.bits < 8 || cfg.bits > 20):
		return fmt.Errorf("-collide-bits %d: must be within 8..20", cfg.bits)
	case cfg.senders < 1 || cfg.senders > 64:
		return fmt.Errorf("-senders %d: must be within 1..64", cfg.senders)
	case cfg.rate > 0 && cfg.rate < cfg.senders:
		return fmt.Errorf("-rate %d: below one packet per second per sender (-senders %d)", cfg.rate, cfg.senders)
	}
	if _, err := net.ParseMAC(cfg.dstMAC); err != nil {
		return fmt.Errorf("-dst-mac: %w", err)
	}
	return nil
}

var documentation = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

func isDocumentation(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range documentation {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkInterface refuses interfaces that may be attached to a real network.
func checkInterface(ifi *net.Interface) error {
	addrs, err := ifi.Addrs()
	if err != nil {
		return fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	doc := false
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(ipn.IP)
		switch {
		case isDocumentation(ip):
			doc = true
		case ip.Unmap().IsLinkLocalUnicast():
		default:
			return fmt.Errorf("refusing to send on %s: it has address %s, outside the documentation ranges (use a veth pair in a test namespace)", ifi.Name, ip)
		}
	}
	if !doc {
		return fmt.Errorf("refusing to send on %s: it has no documentation-range address (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)", ifi.Name)
	}
	return nil
}

// flow is one 5-tuple of the mix.
type flow struct {
	src, dst     netip.Addr
	proto        string
	sport, dport uint16
}

var (
	v4Src = netip.MustParsePrefix("192.0.2.0/24")
	v4Dst = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")}
)

func randomFlow(r *rand.Rand) flow {
	var f flow
	if r.IntN(5) == 0 { // one flow in five is IPv6
		var s, d [16]byte
		copy(s[:], netip.MustParseAddr("2001:db8::").AsSlice())
		copy(d[:], netip.MustParseAddr("2001:db8:1::").AsSlice())
		for i := 8; i < 16; i++ {
			s[i], d[i] = byte(r.UintN(256)), byte(r.UintN(256))
		}
		d[6], d[7] = byte(r.UintN(256)), byte(r.UintN(256))
		f.src, f.dst = netip.AddrFrom16(s), netip.AddrFrom16(d)
	} else {
		s := v4Src.Addr().As4()
		s[3] = byte(1 + r.UintN(254))
		d := v4Dst[r.IntN(2)].Addr().As4()
		d[3] = byte(1 + r.UintN(254))
		f.src, f.dst = netip.AddrFrom4(s), netip.AddrFrom4(d)
	}
	switch p := r.IntN(100); {
	case p < 60:
		f.proto = "tcp"
	case p < 95:
		f.proto = "udp"
	default:
		f.proto = "icmp"
	}
	f.sport = uint16(32768 + r.IntN(28232))
	f.dport = []uint16{443, 80, 53, 123, 22, 8443, 5353, 9000}[r.IntN(8)]
	return f
}

// frameSize draws an Ethernet frame length (without FCS) from a simple
// IMIX: 7 small, 4 medium, 1 full-size, with some spread.
func frameSize(r *rand.Rand) int {
	switch n := r.IntN(12); {
	case n < 7:
		return 64 + r.IntN(16)
	case n < 11:
		return 570 + r.IntN(40)
	default:
		return 1400 + r.IntN(101)
	}
}

// buildFrame returns one Ethernet frame of the flow, padded to size bytes.
func buildFrame(f flow, size int, srcMAC, dstMAC net.HardwareAddr) ([]byte, error) {
	if !isDocumentation(f.src) || !isDocumentation(f.dst) {
		return nil, fmt.Errorf("internal error: address outside the documentation ranges in %v", f)
	}
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC}
	var netl gopacket.NetworkLayer
	var ls []gopacket.SerializableLayer
	hdr := 14
	v6 := f.src.Is6()
	if v6 {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
		netl, ls, hdr = ip, []gopacket.SerializableLayer{eth, ip}, hdr+40
	} else {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
		netl, ls, hdr = ip, []gopacket.SerializableLayer{eth, ip}, hdr+20
	}
	setProto := func(p layers.IPProtocol) {
		if v6 {
			netl.(*layers.IPv6).NextHeader = p
		} else {
			netl.(*layers.IPv4).Protocol = p
		}
	}
	switch f.proto {
	case "tcp":
		setProto(layers.IPProtocolTCP)
		tcp := &layers.TCP{SrcPort: layers.TCPPort(f.sport), DstPort: layers.TCPPort(f.dport), ACK: true, PSH: true, Window: 502, Seq: 1, Ack: 1}
		if err := tcp.SetNetworkLayerForChecksum(netl); err != nil {
			return nil, err
		}
		ls, hdr = append(ls, tcp), hdr+20
	case "udp":
		setProto(layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
		if err := udp.SetNetworkLayerForChecksum(netl); err != nil {
			return nil, err
		}
		ls, hdr = append(ls, udp), hdr+8
	default:
		if v6 {
			setProto(layers.IPProtocolICMPv6)
			icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
			if err := icmp.SetNetworkLayerForChecksum(netl); err != nil {
				return nil, err
			}
			ls = append(ls, icmp, &layers.ICMPv6Echo{Identifier: f.sport, SeqNumber: 1})
		} else {
			setProto(layers.IPProtocolICMPv4)
			ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: f.sport, Seq: 1})
		}
		hdr += 8
	}
	ls = append(ls, gopacket.Payload(make([]byte, max(size-hdr, 0))))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type result struct {
	packets, bytes, retries uint64
	elapsed                 time.Duration
}

// send runs cfg.senders senders at once, each on its own thread, and adds
// up what they sent.
func send(cfg config) (result, error) {
	ifi, err := net.InterfaceByName(cfg.iface)
	if err != nil {
		return result{}, err
	}
	if err := checkInterface(ifi); err != nil {
		return result{}, err
	}
	if len(ifi.HardwareAddr) != 6 {
		return result{}, fmt.Errorf("%s is not an Ethernet interface", cfg.iface)
	}
	results := make([]result, cfg.senders)
	errs := make([]error, cfg.senders)
	var wg sync.WaitGroup
	for i := range cfg.senders {
		one := cfg
		one.rate = cfg.rate / cfg.senders
		if i < cfg.rate%cfg.senders {
			one.rate++
		}
		wg.Go(func() {
			runtime.LockOSThread()
			results[i], errs[i] = sendOne(one, ifi, i)
		})
	}
	wg.Wait()
	var total result
	for i, r := range results {
		total.packets += r.packets
		total.bytes += r.bytes
		total.retries += r.retries
		total.elapsed = max(total.elapsed, r.elapsed)
		if errs[i] != nil {
			return total, errs[i]
		}
	}
	return total, nil
}

// sendOne sends from one socket until cfg.duration has passed. Every
// sender has the same flows and frames, in its own order.
func sendOne(cfg config, ifi *net.Interface, sender int) (result, error) {
	var err error
	dstMAC, _ := net.ParseMAC(cfg.dstMAC)
	srcMAC := ifi.HardwareAddr

	// Pre-build the frames: a few sizes per flow, in a shuffled order, so
	// the send loop only hands pointers to the kernel.
	r := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))
	flows := make([]flow, cfg.flows)
	for i := range flows {
		flows[i] = randomFlow(r)
	}
	if cfg.collideFlows != nil {
		flows = cfg.collideFlows
	}
	poolSize := min(max(4*cfg.flows, 4096), 65536)
	pool := make([][]byte, poolSize)
	for i := range pool {
		if pool[i], err = buildFrame(flows[i%cfg.flows], frameSize(r), srcMAC, dstMAC); err != nil {
			return result{}, err
		}
	}
	r = rand.New(rand.NewPCG(cfg.seed+uint64(sender), cfg.seed^0x9e3779b97f4a7c15))
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })

	// Protocol 0: the socket only sends, it never receives.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return result{}, fmt.Errorf("AF_PACKET socket (needs CAP_NET_RAW): %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		return result{}, fmt.Errorf("bind to %s: %w", cfg.iface, err)
	}
	// Skip the qdisc layer, as pktgen-style senders do; not fatal if absent.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)

	iovs := make([]unix.Iovec, cfg.batch)
	msgs := make([]unix.Mmsghdr, cfg.batch)
	for i := range msgs {
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	var res result
	// Senders interleave their scan destinations, so none is sent twice.
	scanCounter := uint64(sender)
	next := 0
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var interval time.Duration
	if cfg.rate > 0 {
		interval = time.Second / time.Duration(cfg.rate)
	}
	for {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		n := cfg.batch
		if cfg.rate > 0 {
			// Send what is due by now, at most one batch; sleep when
			// ahead of the schedule.
			due := int64(now.Sub(start)/interval) + 1 - int64(res.packets)
			if due <= 0 {
				time.Sleep(min(time.Duration(-due+1)*interval, time.Millisecond))
				continue
			}
			n = int(min(due, int64(cfg.batch)))
		}
		for i := range n {
			fr := pool[next]
			next++
			if next == len(pool) {
				next = 0
			}
			if cfg.scan && len(fr) >= 54 && fr[12] == 0x86 && fr[13] == 0xdd {
				// New destination 2001:db8:XXXX:XXXX::/64 each frame,
				// still inside 2001:db8::/32.
				scanCounter += uint64(cfg.senders)
				fr[14+24+4], fr[14+24+5] = byte(scanCounter>>24), byte(scanCounter>>16)
				fr[14+24+6], fr[14+24+7] = byte(scanCounter>>8), byte(scanCounter)
			}
			iovs[i].Base = &fr[0]
			iovs[i].SetLen(len(fr))
		}
		sent, err := sendmmsg(fd, msgs[:n])
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				res.retries++
				time.Sleep(50 * time.Microsecond)
				continue
			}
			return res, fmt.Errorf("sendmmsg: %w", err)
		}
		for i := range sent {
			res.bytes += uint64(iovs[i].Len)
		}
		res.packets += uint64(sent)
		// Frames not taken by a partial send are skipped, not resent:
		// the mix stays the same and the count stays exact.
	}
	res.elapsed = time.Since(start)
	return res, nil
}

// sendmmsg sends the messages in one system call and returns how many
// went out.
func sendmmsg(fd int, msgs []unix.Mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// countFrames captures on cfg.iface with a handler that only counts, until
// SIGINT or SIGTERM.
func countFrames(cfg config) error {
	ifi, err := net.InterfaceByName(cfg.iface)
	if err != nil {
		return err
	}
	if err := checkInterface(ifi); err != nil {
		return err
	}
	c, err := capture.NewLive(capture.LiveOptions{Interfaces: []string{cfg.iface}, Workers: cfg.workers})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Per-worker counters, padded apart; plain fields, since each is
	// written by one worker and read after Run has waited for them all.
	counts := make([]struct {
		n, sum uint64
		_      [48]byte
	}, c.Workers())
	start := time.Now()
	err = c.Run(ctx, func(w int, f *capture.Frame) {
		if f == nil { // an idle tick
			return
		}
		counts[w].n++
		if len(f.Data) > 13 { // touch the frame as a consumer would
			counts[w].sum += uint64(f.Data[13])
		}
	})
	if err != nil {
		return err
	}
	var total uint64
	per := make([]uint64, len(counts))
	for i := range counts {
		per[i] = counts[i].n
		total += per[i]
	}
	st := c.Stats()[0]
	fmt.Printf("captured %d frames in %.1fs (per worker %v), kernel drops %d, queue freezes %d\n",
		total, time.Since(start).Seconds(), per, st.KernelDrops, st.QueueFreezes)
	return nil
}
