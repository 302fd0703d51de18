//go:build linux

package tunnel

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/internal/netnstest"
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

// scenario is one VPN to bring up: the protocol the classifier must find on
// the outer flow between the endpoints, the outer IP protocol, and setup,
// which starts the server in ns and the client here, and returns a stop.
type scenario struct {
	want   string
	protos []uint8  // the outer flows that must be recognised, by IP protocol
	needs  []string // commands that must be installed
	setup  func(t *testing.T, ns, dir string)
}

var scenarios = map[string]scenario{
	"wireguard-go": {WireGuard, []uint8{17}, []string{"wireguard-go", "wg"}, setupWireGuard},
	"openvpn-udp":  {OpenVPN, []uint8{17}, []string{"openvpn"}, func(t *testing.T, ns, dir string) { setupOpenVPN(t, ns, dir, "udp") }},
	"openvpn-tcp":  {OpenVPN, []uint8{6}, []string{"openvpn"}, func(t *testing.T, ns, dir string) { setupOpenVPN(t, ns, dir, "tcp") }},
	// IKEv2 on UDP 500 (and 4500, where MOBIKE moves it), then ESP
	// (protocol 50) for the traffic where the kernel has ESP (see espKernel).
	"strongswan": {IPsec, []uint8{17}, []string{"swanctl", charonPath, "unshare"}, setupStrongSwan},
}

const charonPath = "/usr/lib/ipsec/charon"

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
		sc := scenarios[name]
		t.Run(name, func(t *testing.T) {
			for _, c := range sc.needs {
				if _, err := exec.LookPath(c); err != nil {
					t.Skipf("%s is not installed (apt-get install wireguard-go wireguard-tools openvpn strongswan-charon strongswan-swanctl)", c)
				}
			}
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
	c, err := capture.NewLive(capture.LiveOptions{Interfaces: []string{realVethC}, Payload: 64})
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
		if err := espKernel(); err != nil {
			t.Logf("the kernel cannot install ESP states (%v): only IKE is checked, not ESP", err)
		} else {
			sc.protos = append(sc.protos, 50)
		}
	}
	sc.setup(t, ns, dir)
	// Traffic through the tunnel makes the client start its handshake, if
	// it has not yet; keep sending until the classifier has seen it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if conn, err := net.Dial("udp", net.JoinHostPort(realInnerServer, "9")); err == nil {
			_, _ = conn.Write([]byte("jurismon tunnel test"))
			_ = conn.Close()
		}
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

// run runs a command (in namespace ns when it is set) and fails on error.
func run1(t *testing.T, ns string, args ...string) string {
	t.Helper()
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// daemon starts a long-running command (in ns when set) and stops it when
// the test ends; its output goes to a file in dir, logged on failure.
func daemon(t *testing.T, ns, dir, name string, args ...string) {
	t.Helper()
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1")
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = log.Close()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("%s:\n%s", name, out)
		}
	})
}

// waitLink waits for a TUN interface to appear in ns.
func waitLink(t *testing.T, ns, name string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		args := []string{"ip", "link", "show", name}
		if ns != "" {
			args = append([]string{"ip", "netns", "exec", ns}, args...)
		}
		if exec.Command(args[0], args[1:]...).Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", name)
		}
	}
}

func setupWireGuard(t *testing.T, ns, dir string) {
	keys := map[string]string{}
	for _, side := range []string{"client", "server"} {
		priv := run1(t, "", "wg", "genkey")
		path := filepath.Join(dir, side+".key")
		if err := os.WriteFile(path, []byte(priv+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("wg", "pubkey")
		cmd.Stdin = strings.NewReader(priv + "\n")
		pub, err := cmd.Output()
		if err != nil {
			t.Fatalf("wg pubkey: %v", err)
		}
		keys[side] = strings.TrimSpace(string(pub))
	}
	daemon(t, ns, dir, "wireguard-go-server", "wireguard-go", "-f", "jmwgs")
	daemon(t, "", dir, "wireguard-go-client", "wireguard-go", "-f", "jmwgc")
	waitLink(t, ns, "jmwgs")
	waitLink(t, "", "jmwgc")
	run1(t, ns, "wg", "set", "jmwgs", "private-key", filepath.Join(dir, "server.key"), "listen-port", "51820",
		"peer", keys["client"], "allowed-ips", realInnerClient+"/32")
	run1(t, ns, "ip", "addr", "add", realInnerServer+"/24", "dev", "jmwgs")
	run1(t, ns, "ip", "link", "set", "jmwgs", "up")
	run1(t, "", "wg", "set", "jmwgc", "private-key", filepath.Join(dir, "client.key"),
		"peer", keys["server"], "endpoint", realServer.String()+":51820", "allowed-ips", realInnerServer+"/32")
	run1(t, "", "ip", "addr", "add", realInnerClient+"/24", "dev", "jmwgc")
	run1(t, "", "ip", "link", "set", "jmwgc", "up")
}

// setupOpenVPN runs OpenVPN in TLS mode, peer to peer, with certificates
// made here: the handshake (hard resets, session ids, TLS in P_CONTROL) is
// what the classifier looks at. (Static-key mode has no handshake and is
// deprecated.)
func setupOpenVPN(t *testing.T, ns, dir, proto string) {
	writePKI(t, dir)
	common := []string{"openvpn", "--dev-type", "tun", "--topology", "p2p", "--verb", "3", "--ca", filepath.Join(dir, "ca.pem"),
		"--dh", "none", "--data-ciphers", "AES-256-GCM", "--ping", "1", "--connect-retry", "1"}
	server := append(append([]string(nil), common...), "--dev", "jmovs", "--tls-server", "--cert", filepath.Join(dir, "server.pem"),
		"--key", filepath.Join(dir, "server.key"), "--ifconfig", realInnerServer, realInnerClient, "--lport", "1194")
	client := append(append([]string(nil), common...), "--dev", "jmovc", "--tls-client", "--cert", filepath.Join(dir, "client.pem"),
		"--key", filepath.Join(dir, "client.key"), "--ifconfig", realInnerClient, realInnerServer, "--remote", realServer.String(), "1194")
	if proto == "tcp" {
		server = append(server, "--proto", "tcp-server")
		client = append(client, "--proto", "tcp-client")
	} else {
		server = append(server, "--proto", "udp")
		client = append(client, "--proto", "udp", "--nobind")
	}
	daemon(t, ns, dir, "openvpn-server", server...)
	time.Sleep(300 * time.Millisecond) // the TCP server listens before the client connects
	daemon(t, "", dir, "openvpn-client", client...)
}

// writePKI writes a CA and a server and a client certificate signed by it
// (ECDSA P-256) into dir.
func writePKI(t *testing.T, dir string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jurismon test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	for i, name := range []string{"server", "client"} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		usage := x509.ExtKeyUsageServerAuth
		if name == "client" {
			usage = x509.ExtKeyUsageClientAuth
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, name+".key"), "PRIVATE KEY", kder)
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// setupStrongSwan runs strongSwan's charon on each side, each in a mount
// namespace of its own with a private /run (charon keeps its pid file
// there), configured through swanctl over a vici socket in dir: IKEv2 with
// a pre-shared key, and an ESP child SA between the inner addresses.
func setupStrongSwan(t *testing.T, ns, dir string) {
	sides := []struct {
		name, ns, local, remote, localTS, remoteTS string
	}{
		{"server", ns, realServer.String(), realClient.String(), realInnerServer, realInnerClient},
		{"client", "", realClient.String(), realServer.String(), realInnerClient, realInnerServer},
	}
	for _, sd := range sides {
		vici := "unix://" + filepath.Join(dir, sd.name+".vici")
		conf := filepath.Join(dir, sd.name+"-strongswan.conf")
		writeFile(t, conf, fmt.Sprintf(`charon {
	load_modular = yes
	install_routes = no
	plugins {
		include /etc/strongswan.d/charon/*.conf
		vici {
			socket = %s
		}
		stroke {
			load = no
		}
	}
	filelog {
		log {
			path = %s
			default = 1
		}
	}
}
`, vici, filepath.Join(dir, sd.name+"-charon.log")))
		writeFile(t, filepath.Join(dir, sd.name+"-swanctl.conf"), fmt.Sprintf(`connections {
	jm {
		version = 2
		local_addrs = %s
		remote_addrs = %s
		proposals = aes128-sha256-modp2048
		local {
			auth = psk
			id = %s
		}
		remote {
			auth = psk
			id = %s
		}
		children {
			jm {
				local_ts = %s/32
				remote_ts = %s/32
				esp_proposals = aes128-sha256
			}
		}
	}
}
secrets {
	ike-jm {
		id-1 = server
		id-2 = client
		secret = "jurismon-test-only"
	}
}
`, sd.local, sd.remote, sd.name, map[string]string{"server": "client", "client": "server"}[sd.name], sd.localTS, sd.remoteTS))
		// The inner address, and (on the client) the route the traffic
		// takes, which the child SA's policy then encrypts.
		run1(t, sd.ns, "ip", "addr", "add", sd.localTS+"/32", "dev", "lo")
		dev := realVethC
		if sd.name == "server" {
			dev = realVethS
		}
		run1(t, sd.ns, "ip", "route", "add", sd.remoteTS+"/32", "dev", dev, "src", sd.localTS)
		t.Setenv("STRONGSWAN_CONF", conf)
		daemon(t, sd.ns, dir, "charon-"+sd.name, "unshare", "-m", "sh", "-c", "mount -t tmpfs jmrun /run && exec "+charonPath)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, sd.name+".vici")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("charon (%s) did not open its vici socket", sd.name)
			}
		}
		run1(t, "", "swanctl", "--load-all", "--noprompt", "--file", filepath.Join(dir, sd.name+"-swanctl.conf"), "--uri", vici)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, sd := range sides {
				out, _ := os.ReadFile(filepath.Join(dir, sd.name+"-charon.log"))
				t.Logf("charon (%s) log:\n%s", sd.name, out)
			}
		}
	})
	// The IKE exchange is what the classifier must see; the CHILD_SA
	// fails where the kernel has no ESP, which espKernel reports.
	if out, err := exec.Command("swanctl", "--initiate", "--child", "jm", "--timeout", "15", "--uri", "unix://"+filepath.Join(dir, "client.vici")).CombinedOutput(); err != nil {
		t.Logf("swanctl --initiate: %v (the IKE_SA may be up without its CHILD_SA): %s", err, lastLines(string(out), 4))
	}
	// Traffic between the inner addresses goes through ESP.
	for range 3 {
		if conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(realInnerClient)}, &net.UDPAddr{IP: net.ParseIP(realInnerServer), Port: 9}); err == nil {
			_, _ = conn.Write([]byte("jurismon esp test"))
			_ = conn.Close()
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// espKernel reports whether the kernel here can hold an ESP state: some
// kernels (and containers) have no XFRM ESP support, and then strongSwan
// sets up the IKE_SA but no CHILD_SA.
func espKernel() error {
	out, err := exec.Command("ip", "xfrm", "state", "add", "src", "192.0.2.250", "dst", "192.0.2.251", "proto", "esp", "spi", "0x4a4d",
		"mode", "tunnel", "enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff",
		"auth", "hmac(sha256)", "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return exec.Command("ip", "xfrm", "state", "delete", "src", "192.0.2.250", "dst", "192.0.2.251", "proto", "esp", "spi", "0x4a4d").Run()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
