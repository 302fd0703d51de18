//go:build linux

// Package vpntest runs Debian's VPN software (wireguard-go with wg, OpenVPN
// over UDP and TCP, strongSwan's charon with swanctl) between two network
// namespaces, for the tests that check what jurismon makes of real tunnels:
// the tunnel classifier's and the agent's. Only documentation addresses
// are used, and only inside namespaces the tests create (internal/netnstest).
package vpntest

import (
	"bytes"
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
	"testing"
	"time"
)

// Lab is where the VPNs run: the client side in ClientNS and the server
// side in ServerNS ("" is the test process's own namespace), joined by the
// devices ClientDev and ServerDev with the outer addresses Client and
// Server. The tunnels carry InnerClient ↔ InnerServer. Dir holds the
// configurations and the daemons' logs (logged when the test fails).
type Lab struct {
	Dir                      string
	ClientNS, ServerNS       string
	ClientDev, ServerDev     string
	Client, Server           netip.Addr
	InnerClient, InnerServer string
	// Poke, when set, sends one datagram from the inner client address to
	// the inner server's port 9 in the client's namespace; without it the
	// test process sends it (its namespace must be the client's).
	Poke func()
}

// CharonPath is strongSwan's IKE daemon.
const CharonPath = "/usr/lib/ipsec/charon"

// Software is what each VPN needs installed, by name.
var Software = map[string][]string{
	"wireguard-go": {"wireguard-go", "wg"},
	"openvpn-udp":  {"openvpn"},
	"openvpn-tcp":  {"openvpn"},
	"strongswan":   {"swanctl", CharonPath, "unshare"},
}

// Skip skips t when the software of VPN name is missing.
func Skip(t *testing.T, name string) {
	t.Helper()
	for _, c := range Software[name] {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s is not installed (apt-get install wireguard-go wireguard-tools openvpn strongswan-charon strongswan-swanctl)", c)
		}
	}
}

// Start brings up VPN name ("wireguard-go", "openvpn-udp", "openvpn-tcp",
// "strongswan"); the daemons stop when the test ends.
func (l *Lab) Start(t *testing.T, name string) {
	t.Helper()
	switch name {
	case "wireguard-go":
		l.WireGuard(t)
	case "openvpn-udp":
		l.OpenVPN(t, "udp")
	case "openvpn-tcp":
		l.OpenVPN(t, "tcp")
	case "strongswan":
		l.StrongSwan(t)
	default:
		t.Fatalf("vpntest: no VPN %q", name)
	}
}

// PokeTunnel sends one datagram through the tunnel: traffic makes a client
// start its handshake if it has not yet.
func (l *Lab) PokeTunnel() {
	if l.Poke != nil {
		l.Poke()
		return
	}
	if conn, err := net.Dial("udp", net.JoinHostPort(l.InnerServer, "9")); err == nil {
		_, _ = conn.Write([]byte("jurismon tunnel test"))
		_ = conn.Close()
	}
}

// WireGuard runs wireguard-go on both sides (userspace, on TUN devices),
// configured with wg; the server listens on UDP 51820.
func (l *Lab) WireGuard(t *testing.T) {
	t.Helper()
	ns, dir, cns := l.ServerNS, l.Dir, l.ClientNS
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
	daemon(t, cns, dir, "wireguard-go-client", "wireguard-go", "-f", "jmwgc")
	waitLink(t, ns, "jmwgs")
	waitLink(t, cns, "jmwgc")
	run1(t, ns, "wg", "set", "jmwgs", "private-key", filepath.Join(dir, "server.key"), "listen-port", "51820",
		"peer", keys["client"], "allowed-ips", l.InnerClient+"/32")
	run1(t, ns, "ip", "addr", "add", l.InnerServer+"/24", "dev", "jmwgs")
	run1(t, ns, "ip", "link", "set", "jmwgs", "up")
	run1(t, cns, "wg", "set", "jmwgc", "private-key", filepath.Join(dir, "client.key"),
		"peer", keys["server"], "endpoint", l.Server.String()+":51820", "allowed-ips", l.InnerServer+"/32")
	run1(t, cns, "ip", "addr", "add", l.InnerClient+"/24", "dev", "jmwgc")
	run1(t, cns, "ip", "link", "set", "jmwgc", "up")
}

// OpenVPN runs OpenVPN in TLS mode, peer to peer, with certificates
// made here: the handshake (hard resets, session ids, TLS in P_CONTROL) is
// what the classifier looks at. (Static-key mode has no handshake and is
// deprecated.)
func (l *Lab) OpenVPN(t *testing.T, proto string) {
	t.Helper()
	ns, dir := l.ServerNS, l.Dir
	writePKI(t, dir)
	common := []string{"openvpn", "--dev-type", "tun", "--topology", "p2p", "--verb", "3", "--ca", filepath.Join(dir, "ca.pem"),
		"--dh", "none", "--data-ciphers", "AES-256-GCM", "--ping", "1", "--connect-retry", "1"}
	server := append(append([]string(nil), common...), "--dev", "jmovs", "--tls-server", "--cert", filepath.Join(dir, "server.pem"),
		"--key", filepath.Join(dir, "server.key"), "--ifconfig", l.InnerServer, l.InnerClient, "--lport", "1194")
	client := append(append([]string(nil), common...), "--dev", "jmovc", "--tls-client", "--cert", filepath.Join(dir, "client.pem"),
		"--key", filepath.Join(dir, "client.key"), "--ifconfig", l.InnerClient, l.InnerServer, "--remote", l.Server.String(), "1194")
	if proto == "tcp" {
		server = append(server, "--proto", "tcp-server")
		client = append(client, "--proto", "tcp-client")
	} else {
		server = append(server, "--proto", "udp")
		client = append(client, "--proto", "udp", "--nobind")
	}
	daemon(t, ns, dir, "openvpn-server", server...)
	time.Sleep(300 * time.Millisecond) // the TCP server listens before the client connects
	daemon(t, l.ClientNS, dir, "openvpn-client", client...)
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

// StrongSwan runs strongSwan's charon on each side, each in a mount
// namespace of its own with a private /run (charon keeps its pid file
// there), configured through swanctl over a vici socket in dir: IKEv2 with
// a pre-shared key, and an ESP child SA between the inner addresses.
func (l *Lab) StrongSwan(t *testing.T) {
	t.Helper()
	ns, dir := l.ServerNS, l.Dir
	sides := []struct {
		name, ns, local, remote, localTS, remoteTS, dev string
	}{
		{"server", ns, l.Server.String(), l.Client.String(), l.InnerServer, l.InnerClient, l.ServerDev},
		{"client", l.ClientNS, l.Client.String(), l.Server.String(), l.InnerClient, l.InnerServer, l.ClientDev},
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
		run1(t, sd.ns, "ip", "route", "add", sd.remoteTS+"/32", "dev", sd.dev, "src", sd.localTS)
		t.Setenv("STRONGSWAN_CONF", conf)
		daemon(t, sd.ns, dir, "charon-"+sd.name, "unshare", "-m", "sh", "-c", "mount -t tmpfs jmrun /run && exec "+CharonPath)
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
	// fails where the kernel has no ESP, which ESPKernel reports.
	if out, err := exec.Command("swanctl", "--initiate", "--child", "jm", "--timeout", "15", "--uri", "unix://"+filepath.Join(dir, "client.vici")).CombinedOutput(); err != nil {
		t.Logf("swanctl --initiate: %v (the IKE_SA may be up without its CHILD_SA): %s", err, lastLines(string(out), 4))
	}
	// Traffic between the inner addresses goes through ESP.
	for range 3 {
		l.PokeTunnel()
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ESPKernel reports whether the kernel here can hold an ESP state: some
// kernels (and containers) have no XFRM ESP support, and then strongSwan
// sets up the IKE_SA but no CHILD_SA.
func ESPKernel() error {
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
