//go:build linux && !(pcap && cgo)

package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/jurismon/jurismon/internal/netnstest"
)

// The live tests capture on a veth pair between two network namespaces they
// create (jmcap-a-PID holds jmcapa with 192.0.2.1/24 and 2001:db8::1/64,
// jmcap-b-PID holds jmcapb with 192.0.2.2/24 and 2001:db8::2/64).
//
// The capture side runs in a child process started with `ip netns exec`
// rather than on a thread that called setns: LiveCapture opens its sockets
// from goroutines of its own, which the runtime may schedule on any thread,
// and /sys/class/net (read for the link type) only shows the namespace's
// interfaces when sysfs is remounted there, which `ip netns exec` does. The
// sending side uses sockets created on a locked thread in the other
// namespace (a socket stays in the namespace it was created in).

const (
	liveChildEnv = "JMCAP_LIVE_CHILD" // set to the peer namespace name in the child
	vethA        = "jmcapa"
	vethB        = "jmcapb"
)

func TestLiveNamespaces(t *testing.T) {
	if peer := os.Getenv(liveChildEnv); peer != "" {
		liveChild(t, peer)
		return
	}
	netnstest.Require(t)
	nsA := fmt.Sprintf("jmcap-a-%d", os.Getpid())
	nsB := fmt.Sprintf("jmcap-b-%d", os.Getpid())
	netnstest.Add(t, nsA)
	netnstest.Add(t, nsB)
	if err := makeVeth(nsA, nsB); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", nsA, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	args := []string{"netns", "exec", nsA, os.Args[0], "-test.run", "^TestLiveNamespaces$", "-test.v", "-test.count=1"}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), liveChildEnv+"="+nsB)
	out, err := cmd.CombinedOutput()
	t.Logf("capture side (in %s):\n%s", nsA, out)
	if err != nil {
		t.Fatalf("capture side failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestLiveNamespaces")) {
		t.Fatal("capture side did not report a pass")
	}
}

// makeVeth creates the veth pair with one end in each namespace, addresses
// and links up. It runs the ip commands from inside nsA so it also works
// from the child, where the pair is re-created.
func makeVeth(nsA, nsB string) error {
	cmds := [][]string{
		{"ip", "netns", "exec", nsA, "ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB, "netns", nsB},
		{"ip", "netns", "exec", nsA, "ip", "addr", "add", "192.0.2.1/24", "dev", vethA},
		{"ip", "netns", "exec", nsA, "ip", "-6", "addr", "add", "2001:db8::1/64", "dev", vethA, "nodad"},
		{"ip", "netns", "exec", nsA, "ip", "link", "set", vethA, "up"},
		{"ip", "netns", "exec", nsB, "ip", "addr", "add", "192.0.2.2/24", "dev", vethB},
		{"ip", "netns", "exec", nsB, "ip", "-6", "addr", "add", "2001:db8::2/64", "dev", vethB, "nodad"},
		{"ip", "netns", "exec", nsB, "ip", "link", "set", vethB, "up"},
	}
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// peer sends test traffic from the other namespace.
type peer struct {
	ns string
}

// udp sends n datagrams from local port sport to dst; datagram i carries
// the 4-byte sequence number seq0+i followed by size-4 zero bytes.
func (p peer) udp(t *testing.T, dst string, sport, n, seq0, size int) {
	t.Helper()
	// Unconnected, so the port-unreachable errors that come back do not
	// fail the next write.
	var conn *net.UDPConn
	raddr, err := net.ResolveUDPAddr("udp", dst)
	if err != nil {
		t.Fatal(err)
	}
	err = netnstest.Run(p.ns, func() error {
		var err error
		network := "udp4"
		if raddr.IP.To4() == nil {
			network = "udp6"
		}
		conn, err = net.ListenUDP(network, &net.UDPAddr{Port: sport})
		return err
	})
	if err != nil {
		t.Fatalf("udp socket in %s: %v", p.ns, err)
	}
	defer conn.Close()
	buf := make([]byte, size)
	for i := range n {
		binary.BigEndian.PutUint32(buf, uint32(seq0+i))
		if _, err := conn.WriteToUDP(buf, raddr); err != nil {
			t.Fatalf("send to %s: %v", dst, err)
		}
	}
}

// tcpSYN tries to connect to dst (a closed port), which makes one SYN and
// one RST cross the link.
func (p peer) tcpSYN(t *testing.T, dst string) {
	t.Helper()
	err := netnstest.Run(p.ns, func() error {
		c, err := net.DialTimeout("tcp", dst, time.Second)
		if err == nil {
			c.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ping sends one ICMP or ICMPv6 echo request to dst.
func (p peer) ping(t *testing.T, dst string) {
	t.Helper()
	err := netnstest.Run(p.ns, func() error {
		network, typ := "ip4:icmp", layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)
		var msg []byte
		if strings.Contains(dst, ":") {
			network = "ip6:ipv6-icmp"
			// Type 128 (echo request), code 0; the kernel fills in
			// the ICMPv6 checksum on raw ICMPv6 sockets.
			msg = []byte{128, 0, 0, 0, 0, 1, 0, 1}
		} else {
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true},
				&layers.ICMPv4{TypeCode: typ, Id: 1, Seq: 1}); err != nil {
				return err
			}
			msg = buf.Bytes()
		}
		c, err := net.ListenPacket(network, "")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WriteTo(msg, &net.IPAddr{IP: net.ParseIP(dst)})
		return err
	})
	if err != nil {
		t.Fatalf("ping %s: %v", dst, err)
	}
}

// collector records what a LiveCapture hands to its handler.
type collector struct {
	mu     sync.Mutex
	frames []collected
	idle   int // nil-frame calls on idle sockets
}

type collected struct {
	worker int
	data   []byte
	f      Frame
}

func (c *collector) handle(worker int, f *Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f == nil {
		c.idle++
		return
	}
	c.frames = append(c.frames, collected{worker: worker, data: bytes.Clone(f.Data), f: *f})
}

func (c *collector) snapshot() []collected {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]collected(nil), c.frames...)
}

// udpDst returns the destination port and sequence number of an Ethernet
// frame carrying a test datagram, or ok false.
func udpDst(data []byte) (port uint16, seq uint32, ok bool) {
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if udp == nil || len(udp.Payload) < 4 {
		return 0, 0, false
	}
	return uint16(udp.DstPort), binary.BigEndian.Uint32(udp.Payload), true
}

// running is a LiveCapture running in the background.
type running struct {
	c    *LiveCapture
	col  *collector
	stop context.CancelFunc
	done chan error
}

// The test datagrams carry their sequence number in their first 4 payload
// bytes, so the capture keeps those (Payload 4) unless opts.Payload is -1,
// which means none, as by default.
func startLive(t *testing.T, engine string, opts LiveOptions, tweak func(*LiveCapture)) *running {
	t.Helper()
	opts.Engine = engine
	switch opts.Payload {
	case 0:
		opts.Payload = 4
	case -1:
		opts.Payload = 0
	}
	if opts.Interfaces == nil {
		opts.Interfaces = []string{vethA}
	}
	c, err := NewLive(opts)
	if err != nil {
		t.Fatalf("NewLive: %v", err)
	}
	if tweak != nil {
		tweak(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, col: &collector{}, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, r.col.handle) }()
	t.Cleanup(func() { r.close(t) })
	waitFor(t, "capture to start", c.Started)
	return r
}

// close stops the capture and checks Run returns promptly and cleanly.
func (r *running) close(t *testing.T) {
	t.Helper()
	if r.done == nil {
		return
	}
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("Run did not return within 2s of cancel")
	}
	r.done = nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle waits until the collector holds want matching frames, then a little
// longer so any unexpected extra frame would show up too.
func settle(t *testing.T, col *collector, want int, match func(collected) bool) []collected {
	t.Helper()
	count := func() []collected {
		var out []collected
		for _, c := range col.snapshot() {
			if match(c) {
				out = append(out, c)
			}
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(count()) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	return count()
}

func liveChild(t *testing.T, peerNS string) {
	p := peer{ns: peerNS}
	nsA := strings.Replace(peerNS, "jmcap-b-", "jmcap-a-", 1)
	for _, engine := range []string{EngineRing, EngineAFPacket} {
		t.Run(engine, func(t *testing.T) { liveEngine(t, engine, p, nsA, peerNS) })
	}
}

// liveEngine runs every live test with one engine.
func liveEngine(t *testing.T, engine string, p peer, nsA, peerNS string) {

	t.Run("filter, lengths and stats", func(t *testing.T) {
		r := startLive(t, engine, LiveOptions{Filter: "udp and dst port 9999"}, nil)
		sizes := []int{4, 100, 1000}
		for i, size := range sizes {
			p.udp(t, "192.0.2.1:9999", 40000+i, 20, 1000*i, size)
		}
		p.udp(t, "192.0.2.1:9998", 40100, 20, 5000, 4) // excluded by the filter
		p.udp(t, "[2001:db8::1]:9999", 40200, 10, 6000, 50)
		p.tcpSYN(t, "192.0.2.1:9999") // excluded: TCP
		p.ping(t, "192.0.2.1")        // excluded: ICMP
		got := settle(t, r.col, 70, func(collected) bool { return true })
		if len(got) != 70 {
			t.Fatalf("captured %d frames, want 70 (60 IPv4 + 10 IPv6 to port 9999)", len(got))
		}
		for _, c := range got {
			port, seq, ok := udpDst(c.data)
			if !ok || port != 9999 {
				t.Fatalf("frame not UDP to port 9999 passed the filter: % x", c.data)
			}
			// The headers and the 4 payload bytes of the sequence number.
			wire, kept := 14+20+8+sizes[min(seq/1000, 2)], 14+20+8+4
			if seq >= 6000 {
				wire, kept = 14+40+8+50, 14+40+8+4
			}
			if int(c.f.WireLen) != wire || len(c.data) != kept {
				t.Errorf("seq %d: wire length %d, captured %d; want %d and %d", seq, c.f.WireLen, len(c.data), wire, kept)
			}
			if c.f.Link != LinkEthernet || c.f.Interface != 0 || c.worker != 0 {
				t.Errorf("seq %d: link %d, interface %d, worker %d; want Ethernet, 0, 0", seq, c.f.Link, c.f.Interface, c.worker)
			}
			if d := time.Since(time.Unix(0, c.f.Timestamp)); d < 0 || d > 10*time.Second {
				t.Errorf("seq %d: timestamp %v is not recent", seq, time.Unix(0, c.f.Timestamp))
			}
		}
		st := r.c.Stats()
		if len(st) != 1 || st[0].Interface != vethA || st[0].Packets != 70 || st[0].KernelDrops != 0 || !st[0].Up {
			t.Errorf("Stats() = %+v, want 70 packets, no drops, up", st)
		}
		if r.c.Workers() != 1 {
			t.Errorf("Workers() = %d, want 1", r.c.Workers())
		}
	})

	t.Run("kernel agrees with the VM", func(t *testing.T) {
		// One unfiltered capture and one per expression run side by side;
		// during the traffic window each filtered capture must receive
		// exactly the frames of the unfiltered one that the VM accepts.
		exprs := []string{"udp", "tcp", "icmp", "icmp6", "ip6", "not ip",
			"udp and dst port 9999", "src host 192.0.2.2", "dst net 2001:db8::/64 and udp",
			"portrange 9990-9995", "tcp or icmp", "not (udp or tcp)"}
		all := startLive(t, engine, LiveOptions{SnapLen: 256}, nil)
		filtered := make([]*running, len(exprs))
		for i, e := range exprs {
			filtered[i] = startLive(t, engine, LiveOptions{SnapLen: 256, Filter: e}, nil)
		}
		time.Sleep(150 * time.Millisecond) // let every ring pass its setup window
		from := time.Now().UnixNano()
		p.udp(t, "192.0.2.1:9999", 41000, 5, 0, 8)
		p.udp(t, "192.0.2.1:9993", 41001, 5, 100, 8)
		p.udp(t, "[2001:db8::1]:9999", 41002, 5, 200, 8)
		p.udp(t, "[2001:db8::1]:7", 41003, 5, 300, 8)
		p.tcpSYN(t, "192.0.2.1:9992")
		p.tcpSYN(t, "[2001:db8::1]:80")
		p.ping(t, "192.0.2.1")
		p.ping(t, "2001:db8::1")
		time.Sleep(300 * time.Millisecond)
		to := time.Now().UnixNano()
		// Frames stamped before "to" may still sit in a ring block that
		// is not retired yet (block and poll timeouts): give every socket
		// time to hand them over before comparing, or a busy machine
		// shows one socket a frame that the other has not delivered yet.
		time.Sleep(time.Second)
		window := func(r *running) map[string]int {
			m := map[string]int{}
			for _, c := range r.col.snapshot() {
				if c.f.Timestamp >= from && c.f.Timestamp <= to {
					m[string(c.data)]++
				}
			}
			return m
		}
		base := window(all)
		if len(base) < 20 {
			t.Fatalf("unfiltered capture saw only %d distinct frames", len(base))
		}
		for i, e := range exprs {
			vm := filterVM(t, e, LinkEthernet, 256)
			want := map[string]int{}
			for d, n := range base {
				if k, _ := vm.Run([]byte(d)); k > 0 {
					want[d] = n
				}
			}
			got := window(filtered[i])
			if len(want) == 0 {
				t.Errorf("%q: the traffic has no frame the filter accepts; the case tests nothing", e)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%q: kernel delivered %d distinct frames, VM accepts %d", e, len(got), len(want))
			}
		}
	})

	t.Run("never payload", func(t *testing.T) { liveNeverPayload(t, engine, p) })

	t.Run("fanout over two workers", func(t *testing.T) {
		r := startLive(t, engine, LiveOptions{Workers: 2, Filter: "udp port 9999"}, nil)
		if r.c.Workers() != 2 {
			t.Fatalf("Workers() = %d, want 2", r.c.Workers())
		}
		const flows, per = 40, 10
		for fl := range flows {
			p.udp(t, "192.0.2.1:9999", 42000+fl, per, fl*per, 16)
		}
		got := settle(t, r.col, flows*per, func(collected) bool { return true })
		seen := map[uint32]int{}
		flowWorker := map[int]int{}
		perWorker := [2]int{}
		for _, c := range got {
			_, seq, ok := udpDst(c.data)
			if !ok {
				t.Fatalf("unexpected frame % x", c.data)
			}
			seen[seq]++
			perWorker[c.worker]++
			fl := int(seq) / per
			if w, ok := flowWorker[fl]; ok && w != c.worker {
				t.Errorf("flow %d split over workers %d and %d", fl, w, c.worker)
			}
			flowWorker[fl] = c.worker
		}
		if len(got) != flows*per || len(seen) != flows*per {
			t.Fatalf("captured %d frames (%d distinct), want %d each seen once", len(got), len(seen), flows*per)
		}
		if perWorker[0] == 0 || perWorker[1] == 0 {
			t.Errorf("frames per worker %v: fanout did not spread %d flows", perWorker, flows)
		}
		t.Logf("frames per worker: %v", perWorker)
		if st := r.c.Stats(); st[0].Packets != flows*per || st[0].KernelDrops != 0 {
			t.Errorf("Stats() = %+v, want %d packets, no drops", st, flows*per)
		}
	})

	t.Run("interface removed and re-created", func(t *testing.T) {
		r := startLive(t, engine, LiveOptions{Filter: "udp port 9999"}, func(c *LiveCapture) {
			c.retryMin, c.retryMax = 50*time.Millisecond, 400*time.Millisecond
		})
		p.udp(t, "192.0.2.1:9999", 43000, 10, 0, 8)
		if got := settle(t, r.col, 10, func(collected) bool { return true }); len(got) != 10 {
			t.Fatalf("before removal: %d frames, want 10", len(got))
		}
		if out, err := exec.Command("ip", "link", "del", vethA).CombinedOutput(); err != nil {
			t.Fatalf("ip link del: %v: %s", err, out)
		}
		waitFor(t, "interface to be reported down", func() bool { return !r.c.Stats()[0].Up })
		time.Sleep(500 * time.Millisecond) // a few failed attempts with backoff
		if err := makeVeth(nsA, peerNS); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "capture to resume", func() bool { return r.c.Stats()[0].Up })
		p.udp(t, "192.0.2.1:9999", 43001, 10, 10, 8)
		got := settle(t, r.col, 20, func(collected) bool { return true })
		if len(got) != 20 {
			t.Fatalf("after re-creation: %d frames in all, want 20", len(got))
		}
		if st := r.c.Stats(); st[0].Packets != 20 || st[0].KernelDrops != 0 {
			t.Errorf("Stats() = %+v, want 20 packets over both sockets, no drops", st)
		}
	})

	t.Run("every outage starts the backoff from the bottom", func(t *testing.T) {
		// Before the fix the backoff kept doubling across outages that
		// were less than retryMax apart: the fourth flap below waited
		// 50ms<<7 = 6.4s. Now each outage retries at 50, 100, 200, 400ms.
		var logs syncBuffer
		r := startLive(t, engine, LiveOptions{Filter: "udp port 9999", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}, func(c *LiveCapture) {
			c.retryMin, c.retryMax = 50*time.Millisecond, 10*time.Second
			c.noLinkWake = true // the backoff alone: link notifications would hide it
		})
		const flaps = 4
		for i := range flaps {
			if out, err := exec.Command("ip", "link", "del", vethA).CombinedOutput(); err != nil {
				t.Fatalf("ip link del: %v: %s", err, out)
			}
			waitFor(t, "interface to be reported down", func() bool { return !r.c.Stats()[0].Up })
			time.Sleep(300 * time.Millisecond) // attempts at about 0, 50, 150 and 350ms
			if err := makeVeth(nsA, peerNS); err != nil {
				t.Fatal(err)
			}
			back := time.Now()
			waitFor(t, "capture to resume", func() bool { return r.c.Stats()[0].Up })
			// The attempt after re-creation is at most 400ms away (it is
			// 6.4s away on the fourth flap when the backoff carries over).
			if d := time.Since(back); d > 1500*time.Millisecond {
				t.Errorf("flap %d: capture back %s after the interface, want the backoff reset", i+1, d)
			}
			if got := r.c.Stats()[0].Restarts; got != uint64(i+1) {
				t.Errorf("flap %d: Restarts = %d", i+1, got)
			}
		}
		out := logs.String()
		if n := strings.Count(out, "level=WARN msg=\"capture stopped"); n != flaps {
			t.Errorf("%d outage warnings for %d outages:\n%s", n, flaps, out)
		}
		if n := strings.Count(out, "msg=capturing") - 1; n != flaps || strings.Count(out, "outage=") != flaps {
			t.Errorf("%d re-opens logged at info (want %d, each with its outage):\n%s", n, flaps, out)
		}
	})

	t.Run("a link notification ends the wait at once", func(t *testing.T) {
		// A backoff of a minute: only the notification of the re-created
		// interface can bring capture back within the test.
		r := startLive(t, engine, LiveOptions{Filter: "udp port 9999"}, func(c *LiveCapture) {
			c.retryMin, c.retryMax = time.Minute, time.Minute
		})
		if out, err := exec.Command("ip", "link", "del", vethA).CombinedOutput(); err != nil {
			t.Fatalf("ip link del: %v: %s", err, out)
		}
		waitFor(t, "interface to be reported down", func() bool { return !r.c.Stats()[0].Up })
		time.Sleep(200 * time.Millisecond)
		if err := makeVeth(nsA, peerNS); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "capture to resume", func() bool { return r.c.Stats()[0].Up })
	})

	t.Run("any: every up interface, loopback frames once", func(t *testing.T) {
		r := startLive(t, engine, LiveOptions{Interfaces: []string{"any"}, Filter: "udp port 9999"}, nil)
		names := r.c.Interfaces()
		if !slices.Contains(names, "lo") || !slices.Contains(names, vethA) || r.c.Workers() != len(names) {
			t.Fatalf("Interfaces() = %v, Workers() = %d: want lo and %s, one worker each", names, r.c.Workers(), vethA)
		}
		waitFor(t, "every interface up", func() bool {
			for _, st := range r.c.Stats() {
				if !st.Up {
					return false
				}
			}
			return true
		})
		// From this namespace to itself over lo, and from the peer over
		// the veth pair.
		local := peer{ns: nsA}
		local.udp(t, "127.0.0.1:9999", 44000, 5, 0, 8)
		p.udp(t, "192.0.2.1:9999", 44001, 7, 100, 8)
		got := settle(t, r.col, 12, func(collected) bool { return true })
		perIface := map[string]int{}
		for _, c := range got {
			perIface[names[c.f.Interface]]++
			if c.f.Link != LinkEthernet || c.worker != c.f.Interface {
				t.Errorf("frame on %s: link %d worker %d", names[c.f.Interface], c.f.Link, c.worker)
			}
		}
		if perIface["lo"] != 5 || perIface[vethA] != 7 || len(got) != 12 {
			t.Errorf("frames per interface %v, want lo:5 %s:7", perIface, vethA)
		}
	})

	t.Run("stop is prompt with no traffic", func(t *testing.T) {
		r := startLive(t, engine, LiveOptions{Workers: 2, PollTimeout: 50 * time.Millisecond, Filter: "udp port 1"}, nil)
		// Nothing matches the filter: the workers report being idle.
		waitFor(t, "idle calls from both workers", func() bool {
			r.col.mu.Lock()
			defer r.col.mu.Unlock()
			return r.col.idle >= 4
		})
		start := time.Now()
		r.close(t)
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("Run took %v to return after cancel", d)
		}
	})
}

// TestNewLiveErrors checks option validation needs no privileges.
func TestNewLiveErrors(t *testing.T) {
	tests := []struct {
		opts LiveOptions
		want string
	}{
		{LiveOptions{Interfaces: []string{"lo"}, Workers: -1}, "capture: workers -1 out of range 1..64"},
		{LiveOptions{Interfaces: []string{"lo"}, SnapLen: 10}, "capture: snap length 10 out of range 64..262144"},
		{LiveOptions{Interfaces: []string{"lo"}, BufferSize: 1000}, "capture: buffer size 1000 below the minimum of 65536 bytes"},
		{LiveOptions{Interfaces: []string{"lo"}, Filter: "port"}, "filter: position 5: \"port\" needs a value"},
		{LiveOptions{Interfaces: []string{"a/b"}}, "capture: invalid interface name \"a/b\""},
		{LiveOptions{Interfaces: []string{"lo"}, PollTimeout: time.Microsecond}, "capture: poll timeout 1µs below 1ms"},
	}
	for _, tc := range tests {
		_, err := NewLive(tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewLive(%+v) error = %v, want %q", tc.opts, err, tc.want)
		}
	}
	c, err := NewLive(LiveOptions{Interfaces: []string{"lo", "jmcapnone", "lo"}, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Interfaces(); fmt.Sprint(got) != "[lo jmcapnone]" || c.Workers() != 6 || c.Started() {
		t.Errorf("Interfaces() = %v, Workers() = %d, Started() = %v", got, c.Workers(), c.Started())
	}
}

func TestRingGeometry(t *testing.T) {
	page := os.Getpagesize()
	for _, tc := range []struct{ buf, snap int }{{8 << 20, 128}, {64 << 10, 128}, {1 << 30, 65535}, {100 << 10, 1500}} {
		bs, nb, fs := ringGeometry(tc.buf, tc.snap)
		if bs%page != 0 || bs%fs != 0 || nb < 1 || bs*nb > tc.buf || fs < tc.snap+unix.SizeofTpacket3Hdr && fs < bs {
			t.Errorf("ringGeometry(%d, %d) = block %d x %d, frame %d: invalid", tc.buf, tc.snap, bs, nb, fs)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
