package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/capture/pcapfile"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"1GB", 1e9, false}, {"1gb", 1e9, false}, {"512MiB", 512 << 20, false}, {"1.5 MB", 1.5e6, false},
		{"4096", 4096, false}, {"10K", 10e3, false}, {"2GiB", 2 << 30, false},
		{"", 0, true}, {"GB", 0, true}, {"-1GB", 0, true}, {"0", 0, true}, {"lots", 0, true},
	} {
		got, err := parseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// special lists ranges no remote prefix may overlap (IANA special-purpose
// registries).
var special = []string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"::/8", "64:ff9b::/96", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
}

func TestPrefixes(t *testing.T) {
	v4, v6, err := parsePrefixes()
	if err != nil {
		t.Fatal(err)
	}
	if len(v4) < 200 || len(v6) < 30 {
		t.Errorf("%d IPv4 and %d IPv6 prefixes, want a few hundred and a few dozen", len(v4), len(v6))
	}
	countries := map[string]bool{}
	for _, p := range append(remotePrefixes, remotePrefixes6...) {
		countries[p.cc] = true
	}
	if len(countries) < 50 {
		t.Errorf("prefixes from %d countries, want at least 50", len(countries))
	}
	seen := map[netip.Prefix]bool{}
	for _, p := range append(v4, v6...) {
		if p != p.Masked() {
			t.Errorf("%s is not a network address (%s)", p, p.Masked())
		}
		if p.Addr().Is4() && (p.Bits() < 16 || p.Bits() > 24) {
			t.Errorf("%s: IPv4 prefixes are /16 to /24", p)
		}
		if seen[p] {
			t.Errorf("%s listed twice", p)
		}
		seen[p] = true
		for _, s := range special {
			if sp := netip.MustParsePrefix(s); sp.Overlaps(p) {
				t.Errorf("%s overlaps special-purpose %s", p, sp)
			}
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	gen := func(seed uint64) []byte {
		var buf bytes.Buffer
		if _, err := generate(&buf, config{size: 200e3, flows: 1000, seed: seed, v6Share: 0.1}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b, c := gen(1), gen(1), gen(2)
	if !bytes.Equal(a, b) {
		t.Error("the same seed wrote different files")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds wrote the same file")
	}
}

// TestGeneratedTraffic reads a generated file back with the capture
// package and checks every frame's headers against what the benchmark
// promises.
func TestGeneratedTraffic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gen.pcap")
	var stderr strings.Builder
	if code := run([]string{"-o", path, "-size", "4MB", "-flows", "2000", "-seed", "7"}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	v4, v6, err := parsePrefixes()
	if err != nil {
		t.Fatal(err)
	}
	inAny := func(a netip.Addr, ps []netip.Prefix) bool {
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	local4, local6 := netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd6a:7572:6973::/48")

	src, err := pcapfile.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	type key struct {
		local, remote netip.Addr
		proto         uint8
	}
	flows := map[key]int{}
	v6Flows, packets, large := 0, 0, 0
	protos := map[uint8]int{}
	var f capture.Frame
	for {
		if err := src.Next(&f); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		packets++
		d := f.Data
		if f.Link != capture.LinkEthernet || len(d) < 64 || len(d) > 1500 || f.WireLen != uint32(len(d)) {
			t.Fatalf("packet %d: link %d, %d bytes of %d", packets, f.Link, len(d), f.WireLen)
		}
		if len(d) >= 1400 {
			large++
		}
		var src, dst netip.Addr
		var proto uint8
		switch et := binary.BigEndian.Uint16(d[12:]); et {
		case 0x0800:
			ip := d[14:34]
			if checksum(ip) != 0 || int(binary.BigEndian.Uint16(ip[2:])) != len(d)-14 || ip[0] != 0x45 {
				t.Fatalf("packet %d: bad IPv4 header % x", packets, ip)
			}
			src, dst, proto = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), ip[9]
		case 0x86dd:
			ip := d[14:54]
			if int(binary.BigEndian.Uint16(ip[4:])) != len(d)-54 {
				t.Fatalf("packet %d: bad IPv6 payload length", packets)
			}
			src, dst, proto = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40])), ip[6]
		default:
			t.Fatalf("packet %d: ethertype %#x", packets, et)
		}
		local, remote := src, dst
		if !local4.Contains(local) && !local6.Contains(local) {
			local, remote = dst, src
		}
		if !local4.Contains(local) && !local6.Contains(local) {
			t.Fatalf("packet %d: no local side in %s -> %s", packets, src, dst)
		}
		if !inAny(remote, v4) && !inAny(remote, v6) {
			t.Fatalf("packet %d: remote %s is in none of the prefixes", packets, remote)
		}
		k := key{local, remote, proto}
		if flows[k] == 0 && remote.Is6() {
			v6Flows++
		}
		flows[k]++
		protos[proto]++
	}
	if packets < 8000 {
		t.Fatalf("only %d packets in 4 MB", packets)
	}
	if len(flows) > 2000 {
		t.Errorf("%d flows, more than the 2000 asked for", len(flows))
	}
	if share := float64(v6Flows) / float64(len(flows)); share < 0.05 || share > 0.15 {
		t.Errorf("IPv6 share of flows %.3f, want about 0.10", share)
	}
	for _, p := range []uint8{ipProtoTCP, ipProtoUDP} {
		if protos[p] == 0 {
			t.Errorf("no packets of protocol %d", p)
		}
	}
	if protos[ipProtoICMP]+protos[ipProtoICMPv6] == 0 {
		t.Error("no ICMP packets")
	}
	top := 0
	for _, n := range flows {
		top = max(top, n)
	}
	// Zipf skew: the busiest flow carries far more than an even share.
	if even := packets / len(flows); top < 20*even {
		t.Errorf("busiest flow has %d packets, an even share is %d: not skewed", top, even)
	}
	if large == 0 || large > packets/4 {
		t.Errorf("%d of %d frames are 1400 bytes or more, want some but not most", large, packets)
	}
	t.Logf("%d packets, %d flows (%d IPv6), busiest flow %d packets, protocols %v", packets, len(flows), v6Flows, top, protos)
}

// TestSampleCapture: the capture the README's first analyze example reads
// (testdata/sample.pcap) is this generator's output with the options
// testdata/README.md gives, byte for byte, and stays small.
func TestSampleCapture(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sample.pcap")
	if code := run([]string{"-o", out, "-size", "64KB", "-flows", "40", "-seed", "1"}, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("testdata/sample.pcap is not what the generator writes: regenerate it (testdata/README.md)")
	}
	if len(want) >= 100e3 {
		t.Errorf("testdata/sample.pcap is %d bytes: keep it under 100 kB", len(want))
	}
}
