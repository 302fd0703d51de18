package geo

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want Class
	}{
		// IPv4
		{"8.8.8.8", ClassPublic},
		{"1.1.1.1", ClassPublic},
		{"0.0.0.0", ClassUnspecified},
		{"0.1.2.3", ClassReserved},
		{"10.1.2.3", ClassPrivate},
		{"172.16.0.1", ClassPrivate},
		{"172.31.255.255", ClassPrivate},
		{"172.32.0.1", ClassPublic},
		{"172.15.255.255", ClassPublic},
		{"192.168.1.1", ClassPrivate},
		{"100.64.0.1", ClassShared},
		{"100.127.255.255", ClassShared},
		{"100.128.0.1", ClassPublic},
		{"100.63.255.255", ClassPublic},
		{"127.0.0.1", ClassLoopback},
		{"127.255.255.254", ClassLoopback},
		{"169.254.169.254", ClassLinkLocal},
		{"169.253.1.1", ClassPublic},
		{"224.0.0.251", ClassMulticast},
		{"239.255.255.250", ClassMulticast},
		{"255.255.255.255", ClassBroadcast},
		{"240.0.0.1", ClassReserved},
		{"255.255.255.254", ClassReserved},
		{"192.0.0.9", ClassReserved},
		{"192.0.1.1", ClassPublic},
		{"192.0.2.1", ClassDocumentation},
		{"198.51.100.7", ClassDocumentation},
		{"203.0.113.200", ClassDocumentation},
		{"203.0.114.1", ClassPublic},
		{"198.18.0.1", ClassBenchmarking},
		{"198.19.255.255", ClassBenchmarking},
		{"198.20.0.1", ClassPublic},
		{"192.88.99.1", Class6to4},
		// IPv6
		{"2001:4860:4860::8888", ClassPublic},
		{"::", ClassUnspecified},
		{"::1", ClassLoopback},
		{"::2", ClassReserved},
		{"::ffff:192.0.2.1", ClassIPv4Mapped},
		{"64:ff9b::192.0.2.1", ClassNAT64},
		{"64:ff9b:1::1", ClassNAT64},
		{"64:ff9b:2::1", ClassPublic},
		{"100::1", ClassDiscardOnly},
		{"100:0:0:1::1", ClassReserved},
		{"2001::1", ClassTeredo},
		{"2001:1::1", ClassPublic},
		{"2001:1::4", ClassReserved},
		{"2001:2::1", ClassBenchmarking},
		{"2001:2:1::1", ClassReserved},
		{"2001:3::1", ClassPublic},
		{"2001:4:112::1", ClassPublic},
		{"2001:10::1", ClassReserved},
		{"2001:20::1", ClassPublic},
		{"2001:100::1", ClassReserved},
		{"2001:200::1", ClassPublic},
		{"2001:db8::1", ClassDocumentation},
		{"2001:db8:ffff::1", ClassDocumentation},
		{"2001:db9::1", ClassPublic},
		{"3fff::1", ClassDocumentation},
		{"3fff:fff::1", ClassDocumentation},
		{"3fff:1000::1", ClassPublic},
		{"2002:c000:201::1", Class6to4},
		{"5f00::1", ClassReserved},
		{"fc00::1", ClassUniqueLocal},
		{"fd12:3456::1", ClassUniqueLocal},
		{"fe80::1", ClassLinkLocal},
		{"fe80::1%eth0", ClassLinkLocal},
		{"febf::1", ClassLinkLocal},
		{"fec0::1", ClassReserved},
		{"ff02::1", ClassMulticast},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if got := Classify(a, false); got != tt.want {
				t.Errorf("Classify(%s, false) = %v, want %v", tt.addr, got, tt.want)
			}
			// The switch only turns documentation into public.
			want := tt.want
			if want == ClassDocumentation {
				want = ClassPublic
			}
			if got := Classify(a, true); got != want {
				t.Errorf("Classify(%s, true) = %v, want %v", tt.addr, got, want)
			}
		})
	}
	if got := Classify(netip.Addr{}, false); got != ClassInvalid {
		t.Errorf("Classify(zero) = %v, want invalid", got)
	}
}

func TestClassStringAndLocal(t *testing.T) {
	seen := map[string]Class{}
	for _, c := range Classes() {
		s := c.String()
		if s == "" || s[:min(len(s), 6)] == "class_" {
			t.Errorf("class %d has no name", c)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("classes %d and %d are both %q", prev, c, s)
		}
		seen[s] = c
	}
	if got := Class(200).String(); got != "class_200" {
		t.Errorf("Class(200).String() = %q", got)
	}
	local := map[Class]bool{ClassUnspecified: true, ClassPrivate: true, ClassShared: true,
		ClassLoopback: true, ClassLinkLocal: true, ClassUniqueLocal: true}
	for _, c := range Classes() {
		if c.Local() != local[c] {
			t.Errorf("%v.Local() = %v, want %v", c, c.Local(), local[c])
		}
	}
	if ClassPublic.String() != "public" || ClassLinkLocal.String() != "link_local" {
		t.Errorf("unexpected names %q %q", ClassPublic, ClassLinkLocal)
	}
}

var sinkClass Class

func BenchmarkClassify(b *testing.B) {
	addrs := []netip.Addr{
		netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("192.168.1.1"),
		netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:4860::1"),
		netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8::1"),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkClass = Classify(addrs[i], false)
		i++
		if i == len(addrs) {
			i = 0
		}
	}
}
