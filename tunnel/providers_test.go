package tunnel

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
)

const providerList = `cidr,provider
# a provider's published servers
198.51.100.0/24, Example VPN
198.51.100.128/25,Example VPN Premium
203.0.113.7,Other VPN
2001:db8:aa::/48,"Example VPN, IPv6"
::ffff:192.0.2.0/120,Mapped VPN
`

func TestProviders(t *testing.T) {
	p, err := ParseProviders(strings.NewReader(providerList))
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 5 {
		t.Errorf("Len() = %d, want 5", p.Len())
	}
	for addr, want := range map[string]string{
		"198.51.100.1":          "Example VPN",
		"198.51.100.200":        "Example VPN Premium", // the longest prefix wins
		"203.0.113.7":           "Other VPN",
		"203.0.113.8":           "",
		"::ffff:198.51.100.1":   "Example VPN",
		"2001:db8:aa:1::1":      "Example VPN, IPv6",
		"2001:db8:ab::1":        "",
		"192.0.2.9":             "Mapped VPN",
		"fe80::1%eth0":          "",
		"2001:db8:aa::1%tunnel": "Example VPN, IPv6",
	} {
		if got := p.Lookup(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Lookup(%s) = %q, want %q", addr, got, want)
		}
	}
	a := netip.MustParseAddr("198.51.100.200")
	if n := testing.AllocsPerRun(100, func() { p.Lookup(a) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
	var none *Providers
	if none.Lookup(a) != "" || none.Len() != 0 {
		t.Error("a nil list names something")
	}
}

func TestProvidersErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"host bits", "198.51.100.1/24,X\n", `line 1: "198.51.100.1/24" is not a CIDR prefix`},
		{"not an address", "example.com,X\n", `line 1: "example.com" is not a CIDR prefix`},
		{"three fields", "198.51.100.0/24,X,Y\n", "line 1: want cidr,provider, not 3 fields"},
		{"one field", "cidr,provider\n198.51.100.0/24\n", "line 2: want cidr,provider, not 1 fields"},
		{"empty name", "198.51.100.0/24, \n", `line 1: provider "": empty`},
		{"long name", "198.51.100.0/24," + strings.Repeat("x", 65) + "\n", "longer than 64 characters"},
		{"control character", "198.51.100.0/24,\"a\tb\"\n", "not printable"},
		{"twice", "198.51.100.0/24,A\n198.51.100.0/24,B\n", "line 2: 198.51.100.0/24 is listed twice (first at line 1)"},
		{"bad quote", "198.51.100.0/24,\"A\n", "line 1:"},
		{"header not first", "198.51.100.0/24,A\ncidr,provider\n", `line 2: "cidr" is not a CIDR prefix`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProviders(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, %v; want an error with %q", p, err, tt.want)
			}
		})
	}
	many := strings.Repeat("198.51.100.0/24,A\n", 20)
	if _, err := ParseProviders(strings.NewReader(many)); err == nil || strings.Count(err.Error(), "\n") != 9 {
		t.Errorf("want ten problems at most, got %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "servers.csv")
	if err := os.WriteFile(path, []byte("198.51.100.0/24,A\nnope,B\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProviders(path); err == nil || !strings.HasPrefix(err.Error(), path+": line 2:") {
		t.Errorf("LoadProviders: %v", err)
	}
	if _, err := LoadProviders(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("no error for a missing file")
	}
}

// TestClassifierProvider checks that a recognised tunnel is given the
// provider of its remote endpoint.
func TestClassifierProvider(t *testing.T) {
	p, err := ParseProviders(strings.NewReader("203.0.113.0/24,Example VPN\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := Classifier{Providers: p}
	var (
		s enrich.State
		f = enrich.Facts{Local: netip.MustParseAddrPort("192.0.2.10:40000"), Remote: netip.MustParseAddrPort("203.0.113.7:51820"), Proto: 17}
	)
	for i, m := range [][]byte{wgInitiation(1), wgResponse(2, 1)} {
		pk := capture.Packet{Proto: 17, SrcPort: 40000, DstPort: 51820, Payload: m, PayloadLen: uint32(len(m))}
		c.Inspect(&s, &f, &pk, i == 0)
	}
	if f.Tunnel != (enrich.Tunnel{Protocol: WireGuard, Provider: "Example VPN", Local: f.Local, Endpoint: f.Remote}) {
		t.Errorf("got %+v", f.Tunnel)
	}

	// A list swapped on reload is the one read.
	var reloaded atomic.Pointer[Providers]
	other, err := ParseProviders(strings.NewReader("203.0.113.0/25,Other VPN\n"))
	if err != nil {
		t.Fatal(err)
	}
	reloaded.Store(other)
	c = Classifier{Providers: p, Reloaded: &reloaded}
	s, f.Tunnel = enrich.State{}, enrich.Tunnel{}
	for i, m := range [][]byte{wgInitiation(1), wgResponse(2, 1)} {
		pk := capture.Packet{Proto: 17, SrcPort: 40000, DstPort: 51820, Payload: m, PayloadLen: uint32(len(m))}
		c.Inspect(&s, &f, &pk, i == 0)
	}
	if f.Tunnel.Provider != "Other VPN" {
		t.Errorf("with a reloaded list: provider %q", f.Tunnel.Provider)
	}
}

type locator map[netip.Addr]*geo.Location

func (l locator) Lookup(a netip.Addr) *geo.Location { return l[a] }

// TestClassifierOuterEndpoint checks that a tunnel the decoder removed ends
// at its outer addresses, located by the classifier's Locator, and that the
// provider is the outer endpoint's.
func TestClassifierOuterEndpoint(t *testing.T) {
	p, err := ParseProviders(strings.NewReader("198.51.100.0/24,Transit GRE\n"))
	if err != nil {
		t.Fatal(err)
	}
	cn := &geo.Location{Country: "CN", Class: geo.ClassPublic}
	c := Classifier{Providers: p, Locator: locator{netip.MustParseAddr("198.51.100.1"): cn}}
	inner := &geo.Location{Country: "DE", Class: geo.ClassPublic}
	for _, fromLocal := range []bool{true, false} {
		f := enrich.Facts{Local: netip.MustParseAddrPort("10.1.0.2:5000"), Remote: netip.MustParseAddrPort("203.0.113.9:443"), Proto: 6, Location: inner}
		pk := capture.Packet{Proto: 6, Tunnels: 1, Encap: capture.EncapGRE,
			OuterSrc: netip.MustParseAddr("192.0.2.1"), OuterDst: netip.MustParseAddr("198.51.100.1")}
		if !fromLocal {
			pk.OuterSrc, pk.OuterDst = pk.OuterDst, pk.OuterSrc
		}
		var s enrich.State
		if changed, done := c.Inspect(&s, &f, &pk, fromLocal); !changed || !done {
			t.Fatalf("fromLocal %v: changed %v done %v", fromLocal, changed, done)
		}
		want := enrich.Tunnel{Protocol: GRE, Provider: "Transit GRE",
			Local: netip.MustParseAddrPort("192.0.2.1:0"), Endpoint: netip.MustParseAddrPort("198.51.100.1:0"), Location: cn}
		if f.Tunnel != want {
			t.Errorf("fromLocal %v: got %+v, want %+v", fromLocal, f.Tunnel, want)
		}
	}
}

// FuzzParseProviders checks that no list makes the parser panic, and that
// a list that parses names only its own providers.
func FuzzParseProviders(f *testing.F) {
	f.Add([]byte(providerList))
	f.Add([]byte("198.51.100.0/24,\"A\"\"B\"\n# c\n\n2001:db8::/32,C\n"))
	addrs := []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("0.0.0.0"), {}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProviders(strings.NewReader(string(data)))
		if err != nil {
			if p != nil {
				t.Fatal("both a list and an error")
			}
			return
		}
		names := map[string]bool{"": true}
		for _, n := range p.nets {
			names[n] = true
			if badName(n) != "" {
				t.Fatalf("name %q accepted", n)
			}
		}
		for _, a := range addrs {
			if got := p.Lookup(a); !names[got] {
				t.Fatalf("Lookup(%v) = %q, not in the list", a, got)
			}
		}
	})
}
