//go:build linux

package main

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestMix checks generated frames decode, stay in the documentation ranges
// and in 64..1500 bytes, and cover every protocol and family.
func TestMix(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mac := net.HardwareAddr{2, 0, 0x5e, 0, 0x53, 1}
	seen := map[string]int{}
	for range 2000 {
		f := randomFlow(r)
		size := frameSize(r)
		data, err := buildFrame(f, size, mac, mac)
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		// Zero padding after port 53 or 123 fails gopacket's DNS and
		// NTP decoders; only the headers matter here.
		if pkt.NetworkLayer() == nil || f.proto != "icmp" && pkt.TransportLayer() == nil {
			t.Fatalf("frame of %v does not decode: %v", f, pkt.ErrorLayer())
		}
		// A frame is exactly the size asked, unless its headers alone
		// are longer (IPv6 + TCP is 74 bytes): then it has no payload.
		padded := len(data) == size || len(data) > size && f.proto == "tcp" && len(pkt.TransportLayer().LayerPayload()) == 0
		if !padded || len(data) < 64 || len(data) > 1500 {
			t.Fatalf("frame of %v: %d bytes, asked %d (want 64..1500)", f, len(data), size)
		}
		nl := pkt.NetworkLayer()
		src, _ := netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
		if src != f.src || dst != f.dst || !isDocumentation(src) || !isDocumentation(dst) {
			t.Fatalf("frame of %v carries %v -> %v", f, src, dst)
		}
		fam := "4"
		if f.src.Is6() {
			fam = "6"
		}
		seen[f.proto+fam]++
	}
	for _, k := range []string{"tcp4", "udp4", "icmp4", "tcp6", "udp6", "icmp6"} {
		if seen[k] == 0 {
			t.Errorf("no %s frame in 2000: mix %v", k, seen)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := config{iface: "veth0", duration: 1e9, flows: 10, batch: 64, senders: 1, dstMAC: "02:00:5e:00:53:02"}
	if err := validate(ok); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mut  func(*config)
		want string
	}{
		{func(c *config) { c.iface = "" }, "-i is required"},
		{func(c *config) { c.rate = -1 }, "-rate -1: must be 0 (max) or positive"},
		{func(c *config) { c.flows = 0 }, "-flows 0: must be within 1..65536"},
		{func(c *config) { c.batch = 5000 }, "-batch 5000: must be within 1..1024"},
		{func(c *config) { c.duration = 0 }, "-duration 0s: must be within (0, 1h]"},
		{func(c *config) { c.senders = 0 }, "-senders 0: must be within 1..64"},
		{func(c *config) { c.senders, c.rate = 4, 3 }, "-rate 3: below one packet per second per sender (-senders 4)"},
	} {
		c := ok
		tc.mut(&c)
		if err := validate(c); err == nil || err.Error() != tc.want {
			t.Errorf("validate: %v, want %q", err, tc.want)
		}
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no lo interface")
	}
	if err := checkInterface(lo); err == nil {
		t.Error("checkInterface accepted lo (127.0.0.1 is outside the documentation ranges)")
	}
}

func TestCollidingFlows(t *testing.T) {
	const n = 300
	const bits = 12
	flows := collidingFlows(n, bits)
	if len(flows) != n {
		t.Fatalf("%d flows, want %d", len(flows), n)
	}
	seen := map[[2]uint16]bool{}
	want := oldFlowHash(flows[0].src, flows[0].dst, flows[0].sport, flows[0].dport, 17) & (1<<bits - 1)
	for _, f := range flows {
		if seen[[2]uint16{f.sport, f.dport}] {
			t.Fatalf("flow %v twice", f)
		}
		seen[[2]uint16{f.sport, f.dport}] = true
		if h := oldFlowHash(f.src, f.dst, f.sport, f.dport, 17) & (1<<bits - 1); h != want {
			t.Errorf("flow %v: low hash bits %#x, want %#x", f, h, want)
		}
		if !isDocumentation(f.src) || !isDocumentation(f.dst) || f.src.Compare(f.dst) >= 0 {
			t.Errorf("flow %v: want documentation addresses, source lower (endpoint A of the key)", f)
		}
	}
}
