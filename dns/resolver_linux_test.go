//go:build linux

package dns

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/internal/netnstest"
)

// The resolver test runs dnsmasq in one network namespace (jmdns-s-PID,
// veth jmdnss with 192.0.2.53 and 2001:db8::53) answering a local zone,
// and dig in another (jmdns-c-PID, veth jmdnsc with 192.0.2.10 and
// 2001:db8::10), where the project's live capture reads the veth and feeds
// the cache. The client side is a child test process started with `ip
// netns exec`, as the capture package's live tests do: the capture opens
// its sockets from goroutines the runtime may move between threads.
const (
	resolverChildEnv = "JMDNS_RESOLVER_CHILD"
	vethServer       = "jmdnss"
	vethClient       = "jmdnsc"
)

// The zone: www → shop → edge.cdn (a CNAME chain), edge.cdn with an A and
// an AAAA record; static shares edge.cdn's IPv4 address; api has its own.
var dnsmasqZone = []string{
	"--host-record=edge.cdn.example.test,203.0.113.10,2001:db8:cafe::10",
	"--host-record=static.example.test,203.0.113.10",
	"--host-record=api.example.test,198.51.100.20",
	"--cname=shop.example.test,edge.cdn.example.test",
	"--cname=www.example.test,shop.example.test",
}

func TestResolver(t *testing.T) {
	if os.Getenv(resolverChildEnv) != "" {
		resolverClient(t)
		return
	}
	netnstest.Require(t)
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("needs dnsmasq (apt-get install dnsmasq-base)")
	}
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("needs dig (apt-get install bind9-dnsutils)")
	}
	nsS := fmt.Sprintf("jmdns-s-%d", os.Getpid())
	nsC := fmt.Sprintf("jmdns-c-%d", os.Getpid())
	netnstest.Add(t, nsS)
	netnstest.Add(t, nsC)
	for _, c := range [][]string{
		{"ip", "netns", "exec", nsS, "ip", "link", "add", vethServer, "type", "veth", "peer", "name", vethClient, "netns", nsC},
		{"ip", "netns", "exec", nsS, "ip", "addr", "add", "192.0.2.53/24", "dev", vethServer},
		{"ip", "netns", "exec", nsS, "ip", "-6", "addr", "add", "2001:db8::53/64", "dev", vethServer, "nodad"},
		{"ip", "netns", "exec", nsS, "ip", "link", "set", vethServer, "up"},
		{"ip", "netns", "exec", nsS, "ip", "link", "set", "lo", "up"},
		{"ip", "netns", "exec", nsC, "ip", "addr", "add", "192.0.2.10/24", "dev", vethClient},
		{"ip", "netns", "exec", nsC, "ip", "-6", "addr", "add", "2001:db8::10/64", "dev", vethClient, "nodad"},
		{"ip", "netns", "exec", nsC, "ip", "link", "set", vethClient, "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	args := append([]string{"netns", "exec", nsS, dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=192.0.2.53", "--listen-address=2001:db8::53",
		"--pid-file=", "--user=root", "--local-ttl=120", "--log-facility=-"}, dnsmasqZone...)
	srv := exec.Command("ip", args...)
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		t.Logf("dnsmasq:\n%s", srvOut.String())
	})
	// dnsmasq is up once it listens on both addresses.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("ip", "netns", "exec", nsS, "ss", "-Hlun").Output()
		if bytes.Contains(out, []byte("192.0.2.53:53")) && bytes.Contains(out, []byte("[2001:db8::53]:53")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq did not listen within 10s: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd := exec.Command("ip", "netns", "exec", nsC, os.Args[0], "-test.run", "^TestResolver$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), resolverChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("client side (in %s):\n%s", nsC, out)
	if err != nil {
		t.Fatalf("client side failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestResolver")) {
		t.Fatal("client side did not report a pass")
	}
}

// resolverClient runs in the client namespace: live capture on the veth
// into a Cache, real queries with dig over UDP and TCP, IPv4 and IPv6.
func resolverClient(t *testing.T) {
	// The kernel filter cuts the payload unless asked: keep the DNS messages.
	live, err := capture.NewLive(capture.LiveOptions{Interfaces: []string{vethClient}, SnapLen: 65535, Payload: 65535 - 64})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{})
	dec := capture.NewDecoder()
	var mu sync.Mutex
	states := map[[2]netip.AddrPort]*enrich.State{}
	handle := func(_ int, f *capture.Frame) {
		if f == nil {
			return
		}
		var p capture.Packet
		if dec.DecodeFrame(f, &p) != capture.Decoded {
			return
		}
		key := [2]netip.AddrPort{netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)}
		mu.Lock()
		defer mu.Unlock()
		st := states[key]
		if st == nil {
			st = new(enrich.State)
			states[key] = st
		}
		c.Feed(st, &p, payload(f.Data))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx, handle) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture: %v", err)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); !live.Started(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("capture did not start within 10s")
		}
	}
	queries := []struct {
		server, name, typ string
		tcp               bool
		want              []string // dig +short: the CNAME targets, then the address
	}{
		{"192.0.2.53", "www.example.test", "A", false, []string{"shop.example.test.", "edge.cdn.example.test.", "203.0.113.10"}},
		{"2001:db8::53", "WWW.Example.TEST", "AAAA", false, []string{"shop.example.test.", "edge.cdn.example.test.", "2001:db8:cafe::10"}},
		{"192.0.2.53", "api.example.test", "A", true, []string{"198.51.100.20"}},
		{"2001:db8::53", "static.example.test", "A", true, []string{"203.0.113.10"}},
	}
	for _, q := range queries {
		args := []string{"@" + q.server, q.name, q.typ, "+short", "+tries=1", "+time=3"}
		if q.tcp {
			args = append(args, "+tcp")
		}
		out, err := exec.Command("dig", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v: %s", strings.Join(args, " "), err, out)
		}
		if got := strings.Fields(string(out)); !slices.Equal(got, q.want) {
			t.Fatalf("dig %s: %q, want %q", strings.Join(args, " "), got, q.want)
		}
	}
	// The last response may still be in the ring: wait until the four are read.
	for deadline := time.Now().Add(10 * time.Second); c.metrics.messages[Decoded].Load() < uint64(len(queries)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("decoded %d responses, want %d", c.metrics.messages[Decoded].Load(), len(queries))
		}
	}
	for r := range numResults {
		if n := c.metrics.messages[r].Load(); r != Decoded && n != 0 {
			t.Errorf("%d %v messages", n, r)
		}
	}
	v4, v6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")
	var got []string
	for _, a := range []string{"203.0.113.10", "2001:db8:cafe::10", "198.51.100.20"} {
		for _, n := range c.Names(netip.MustParseAddr(a)) {
			got = append(got, fmt.Sprintf("%s %s by %s ttl %ds", a, strings.Join(n.Chain, ">"), n.Client,
				(n.Expires-n.Seen-DefaultGrace.Nanoseconds())/1e9))
		}
	}
	want := []string{
		"203.0.113.10 static.example.test by 2001:db8::10 ttl 120s", // asked last, over IPv6 and TCP
		"203.0.113.10 www.example.test>shop.example.test>edge.cdn.example.test by 192.0.2.10 ttl 120s",
		"2001:db8:cafe::10 www.example.test>shop.example.test>edge.cdn.example.test by 2001:db8::10 ttl 120s",
		"198.51.100.20 api.example.test by 192.0.2.10 ttl 120s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("names:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A new flow from the client to the address gets the name it asked for.
	f := enrich.Facts{Local: netip.AddrPortFrom(v4, 40000), Remote: netip.AddrPortFrom(netip.MustParseAddr("203.0.113.10"), 443)}
	c.Enrich(&f, &capture.Packet{Timestamp: time.Now().UnixNano()})
	if f.Domain.Name != "www.example.test" || !slices.Equal(f.Domain.CNAMEChain, []string{"shop.example.test", "edge.cdn.example.test"}) {
		t.Errorf("flow from %v: domain %+v", v4, f.Domain)
	}
	f = enrich.Facts{Local: netip.AddrPortFrom(v6, 40000), Remote: netip.AddrPortFrom(netip.MustParseAddr("203.0.113.10"), 443)}
	c.Enrich(&f, &capture.Packet{Timestamp: time.Now().UnixNano()})
	if f.Domain.Name != "static.example.test" {
		t.Errorf("flow from %v: domain %+v", v6, f.Domain)
	}
}
