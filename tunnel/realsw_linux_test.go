//go:build linux

package tunnel

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/internal/netnstest"
	"github.com/jurismon/jurismon/internal/vpntest"
)

// The real-software tests run Debian's VPN software between two network
// namespaces joined by a veth pair, capture the outer traffic with the
// capture package's live capture, and check that the classifier names the
// tunnel on the flow between the two endpoints. Only documentation
// addresses are used, and only inside the namespaces. The scenario runs in
// a child process started inside the client's namespace (as the capture
// package's own live test does), so that the capture's sockets and the
// client are there.

const (
	realChildEnv = "JM_TUNNEL_REAL_CHILD" // "scenario,serverNamespace" in the child
	realVethC    = "jmtunc"
	realVethS    = "jmtuns"
)

// Outer (veth) and inner (tunnel) addresses.
var (
	realClient      = netip.MustParseAddr("192.0.2.1")
	realServer      = netip.MustParseAddr("192.0.2.2")
	realInnerClient = "198.51.100.1"
	realInnerServer = "198.51.100.2"
)

// scenario is one VPN to bring up (internal/vpntest starts it: the server
// in its namespace, the client here): the protocol the classifier must
// find on the outer flows between the endpoints, and their IP protocols.
type scenario struct {
	want   string
	protos []uint8 // the outer flows that must be recognised, by IP protocol
}

var scenarios = map[string]scenario{
	"wireguard-go": {WireGuard, []uint8{17}},
	"openvpn-udp":  {OpenVPN, []uint8{17}},
	"openvpn-tcp":  {OpenVPN, []uint8{6}},
	// IKEv2 on UDP 500 (and 4500, where MOBIKE moves it), then ESP
	// (protocol 50) for the traffic where the kernel has ESP (see
	// vpntest.ESPKernel).
	"strongswan": {IPsec, []uint8{17}},
}

func TestRealSoftware(t *testing.T) {
	if v := os.Getenv(realChildEnv); v != "" {
		name, ns, _ := strings.Cut(v, ",")
		realChild(t, name, ns)
		return
	}
	netnstest.Require(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no /dev/net/tun for the VPNs' TUN devices: %v", err)
	}
	for _, name := range []string{"wireguard-go", "openvpn-udp", "openvpn-tcp", "strongswan"} {
		t.Run(name, func(t *testing.T) {
			vpntest.Skip(t, name)
			nsC := fmt.Sprintf("jmtun-c-%d", os.Getpid())
			nsS := fmt.Sprintf("jmtun-s-%d", os.Getpid())
			netnstest.Add(t, nsC)
			netnstest.Add(t, nsS)
			for _, c := range [][]string{
				{"ip", "-n", nsC, "link", "add", realVethC, "type", "veth", "peer", "name", realVethS, "netns", nsS},
				{"ip", "-n", nsC, "addr", "add", realClient.String() + "/24", "dev", realVethC},
				{"ip", "-n", nsS, "addr", "add", realServer.String() + "/24", "dev", realVethS},
				{"ip", "-n", nsC, "link", "set", realVethC, "up"},
				{"ip", "-n", nsS, "link", "set", realVethS, "up"},
				{"ip", "-n", nsC, "link", "set", "lo", "up"},
				{"ip", "-n", nsS, "link", "set", "lo", "up"},
			} {
				if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
				}
			}
			cmd := exec.Command("ip", "netns", "exec", nsC, os.Args[0], "-test.run", "^TestRealSoftware$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), realChildEnv+"="+name+","+nsS)
			out, err := cmd.CombinedOutput()
			t.Logf("client side (in %s):\n%s", nsC, out)
			switch {
			case bytes.Contains(out, []byte("--- SKIP: TestRealSoftware")):
				t.Skip("the client side skipped")
			case err != nil || !bytes.Contains(out, []byte("--- PASS: TestRealSoftware")):
				t.Fatalf("client side failed: %v", err)
			}
		})
	}
}

// realChild runs one scenario inside the client's namespace.
func realChild(t *testing.T, name, ns string) {
	sc := scenarios[name]
	dir := t.TempDir()
	// The kernel filter cuts the payload unless asked: keep the first bytes
	// the classifier reads.
	c, err := capture.NewLive(capture.LiveOptions{Interfaces: []string{realVethC}, Payload: PayloadBytes})
	if err != nil {
		t.Fatalf("NewLive: %v", err)
	}
	fl := &liveFlows{flows: map[flowKey]*flowRun{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, fl.handle) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture: %v", err)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); !c.Started(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("capture did not start")
		}
	}
	if name == "strongswan" {
		if err := vpntest.ESPKernel(); err != nil {
			t.Logf("the kernel cannot install ESP states (%v): only IKE is checked, not ESP", err)
		} else {
			sc.protos = append(sc.protos, 50)
		}
	}
	lab := &vpntest.Lab{Dir: dir, ServerNS: ns, ClientDev: realVethC, ServerDev: realVethS,
		Client: realClient, Server: realServer, InnerClient: realInnerClient, InnerServer: realInnerServer}
	lab.Start(t, name)
	// Traffic through the tunnel makes the client start its handshake, if
	// it has not yet; keep sending until the classifier has seen it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		lab.PokeTunnel()
		missing := ""
		for _, proto := range sc.protos {
			if got := fl.found(proto); got != sc.want {
				missing = fmt.Sprintf("the protocol %d flow between the endpoints is %q, want %q", proto, got, sc.want)
				break
			}
		}
		if missing == "" {
			t.Logf("%s: the flows between %v and %v (protocols %v) are %s", name, realClient, realServer, sc.protos, sc.want)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after 20s %s; flows: %v", name, missing, fl.summary())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// liveFlows runs the classifier on the captured flows, as classifyFile does.
type liveFlows struct {
	mu    sync.Mutex
	dec   capture.Decoder
	c     Classifier
	p     capture.Packet
	flows map[flowKey]*flowRun
}

func (l *liveFlows) handle(_ int, f *capture.Frame) {
	if f == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &l.p
	if l.dec.DecodeFrame(f, p) != capture.Decoded {
		return
	}
	s, d := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	k := keyOf(p.Proto, s, d)
	r := l.flows[k]
	if r == nil {
		// The client's side is local, whoever sent first.
		local := s
		if p.Src != realClient {
			local = d
		}
		r = &flowRun{local: local, facts: enrich.Facts{Local: local, Proto: p.Proto}}
		l.flows[k] = r
	}
	r.packets++
	if r.done || r.packets > inspected {
		return
	}
	_, r.done = l.c.Inspect(&r.state, &r.facts, p, s == r.local)
}

// found returns the protocol of the flow between the two endpoints over
// the given IP protocol (one of them, if the client reconnected).
func (l *liveFlows) found(proto uint8) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, r := range l.flows {
		if k.proto == proto && (k.a.Addr() == realClient && k.b.Addr() == realServer || k.a.Addr() == realServer && k.b.Addr() == realClient) &&
			r.facts.Tunnel.Protocol != "" {
			return r.facts.Tunnel.Protocol
		}
	}
	return ""
}

func (l *liveFlows) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for k, r := range l.flows {
		fmt.Fprintf(&b, "[%v: %d packets, %q] ", k, r.packets, r.facts.Tunnel.Protocol)
	}
	return b.String()
}
