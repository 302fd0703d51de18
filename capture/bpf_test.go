package capture

import (
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// bfFrame describes one packet to build with gopacket for filter tests.
type bfFrame struct {
	src, dst        string
	proto           string // tcp, udp, icmp, icmp6, arp
	sport, dport    uint16
	fragOffset      uint16 // IPv4 fragment offset in 8-byte units
	ipv6FragmentHdr bool
	payload         int
}

func bfBuildFrame(t *testing.T, f bfFrame, link LinkType) []byte {
	t.Helper()
	var ls []gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	isV6 := strings.Contains(f.src, ":")
	et := layers.EthernetTypeIPv4
	if isV6 {
		et = layers.EthernetTypeIPv6
	}
	if f.proto == "arp" {
		et = layers.EthernetTypeARP
	}
	switch link {
	case LinkEthernet:
		ls = append(ls, &layers.Ethernet{
			SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
			DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
			EthernetType: et,
		})
	case LinkSLL:
		// gopacket cannot serialise SLL: write the 16-byte header by hand.
		hdr := make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[2:], 1)
		binary.BigEndian.PutUint16(hdr[4:], 6)
		binary.BigEndian.PutUint16(hdr[14:], uint16(et))
		ls = append(ls, gopacket.Payload(hdr))
	case LinkRaw:
	default:
		t.Fatalf("bfBuildFrame: link %d", link)
	}
	if f.proto == "arp" {
		ls = append(ls, &layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
			SourceHwAddress: []byte{2, 0, 0, 0, 0, 1}, SourceProtAddress: net.ParseIP(f.src).To4(),
			DstHwAddress: []byte{0, 0, 0, 0, 0, 0}, DstProtAddress: net.ParseIP(f.dst).To4(),
		})
		return bfSerialize(t, ls...)
	}
	var ipProto layers.IPProtocol
	switch f.proto {
	case "tcp":
		ipProto = layers.IPProtocolTCP
	case "udp":
		ipProto = layers.IPProtocolUDP
	case "icmp":
		ipProto = layers.IPProtocolICMPv4
	case "icmp6":
		ipProto = layers.IPProtocolICMPv6
	}
	if isV6 {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: ipProto,
			SrcIP: net.ParseIP(f.src), DstIP: net.ParseIP(f.dst)}
		netLayer = ip6
		ls = append(ls, ip6)
		if f.ipv6FragmentHdr {
			ip6.NextHeader = layers.IPProtocolIPv6Fragment
			ls = append(ls, &layers.IPv6Fragment{NextHeader: ipProto, Identification: 7})
		}
	} else {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: ipProto,
			SrcIP: net.ParseIP(f.src).To4(), DstIP: net.ParseIP(f.dst).To4(), FragOffset: f.fragOffset}
		netLayer = ip4
		ls = append(ls, ip4)
	}
	switch f.proto {
	case "tcp":
		tcp := &layers.TCP{SrcPort: layers.TCPPort(f.sport), DstPort: layers.TCPPort(f.dport), SYN: true, Window: 1024}
		if err := tcp.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, tcp)
	case "udp":
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
		if err := udp.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, udp)
	case "icmp":
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)})
	case "icmp6":
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		if err := icmp.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, icmp)
	}
	ls = append(ls, gopacket.Payload(make([]byte, f.payload)))
	return bfSerialize(t, ls...)
}

func bfSerialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return buf.Bytes()
}

// bfFrames are the packets every filter test case runs against.
var bfFrames = map[string]bfFrame{
	"udp4":  {src: "192.0.2.1", dst: "198.51.100.7", proto: "udp", sport: 40000, dport: 53, payload: 20},
	"tcp4":  {src: "192.0.2.1", dst: "203.0.113.9", proto: "tcp", sport: 40001, dport: 443, payload: 100},
	"icmp4": {src: "203.0.113.9", dst: "192.0.2.1", proto: "icmp", payload: 8},
	"frag4": {src: "192.0.2.1", dst: "198.51.100.7", proto: "udp", sport: 40000, dport: 53, fragOffset: 100, payload: 20},
	"udp6":  {src: "2001:db8::1", dst: "2001:db8:1::53", proto: "udp", sport: 40002, dport: 53, payload: 20},
	"tcp6":  {src: "2001:db8:ffff::2", dst: "2001:db8::1", proto: "tcp", sport: 8080, dport: 50000, payload: 0},
	"icmp6": {src: "2001:db8::1", dst: "2001:db8::2", proto: "icmp6", payload: 8},
	"frag6": {src: "2001:db8::1", dst: "2001:db8::2", proto: "udp", sport: 1, dport: 2, ipv6FragmentHdr: true, payload: 8},
	"arp":   {src: "192.0.2.1", dst: "192.0.2.2", proto: "arp"},
}

// bfCases list, for each expression, the frames (by name in bfFrames) it
// must accept; every other frame must be rejected.
var bfCases = []struct {
	expr string
	want []string
}{
	{"", []string{"udp4", "tcp4", "icmp4", "frag4", "udp6", "tcp6", "icmp6", "frag6", "arp"}},
	{"ip", []string{"udp4", "tcp4", "icmp4", "frag4"}},
	{"ip6", []string{"udp6", "tcp6", "icmp6", "frag6"}},
	{"tcp", []string{"tcp4", "tcp6"}},
	{"udp", []string{"udp4", "frag4", "udp6", "frag6"}},
	{"icmp", []string{"icmp4"}},
	{"icmp6", []string{"icmp6"}},
	{"not ip and not ip6", []string{"arp"}},
	{"host 192.0.2.1", []string{"udp4", "tcp4", "icmp4", "frag4", "arp"}},
	{"src host 192.0.2.1", []string{"udp4", "tcp4", "frag4", "arp"}},
	{"dst host 192.0.2.1", []string{"icmp4"}},
	{"ip host 203.0.113.9", []string{"tcp4", "icmp4"}},
	{"ip host 192.0.2.1", []string{"udp4", "tcp4", "icmp4", "frag4"}},
	{"ip src net 192.0.2.0/24", []string{"udp4", "tcp4", "frag4"}},
	{"not ip host 192.0.2.1", []string{"udp6", "tcp6", "icmp6", "frag6", "arp"}},
	{"host 2001:db8::1", []string{"udp6", "tcp6", "icmp6", "frag6"}},
	{"dst host 2001:db8::1", []string{"tcp6"}},
	{"ip6 src host 2001:db8::1", []string{"udp6", "icmp6", "frag6"}},
	{"net 198.51.100.0/24", []string{"udp4", "frag4"}},
	{"src net 192.0.2.0/25", []string{"udp4", "tcp4", "frag4", "arp"}},
	{"dst net 192.0.2.0/25", []string{"icmp4", "arp"}},
	{"net 0.0.0.0/0", []string{"udp4", "tcp4", "icmp4", "frag4", "arp"}},
	{"net 2001:db8::/48", []string{"udp6", "tcp6", "icmp6", "frag6"}},
	{"dst net 2001:db8:1::/52", []string{"udp6"}},
	{"src net 2001:db8:ff00::/40", []string{"tcp6"}},
	{"port 53", []string{"udp4", "udp6"}},
	{"udp port 53", []string{"udp4", "udp6"}},
	{"tcp port 53", nil},
	{"dst port 53", []string{"udp4", "udp6"}},
	{"src port 53", nil},
	{"tcp src port 8080", []string{"tcp6"}},
	{"port 50000", []string{"tcp6"}},
	{"portrange 400-500", []string{"tcp4"}},
	{"portrange 500-400", []string{"tcp4"}},
	{"dst portrange 40000-65535", []string{"tcp6"}},
	{"src portrange 40000-40001", []string{"udp4", "tcp4"}},
	{"udp and not port 53", []string{"frag4", "frag6"}},
	{"tcp or icmp", []string{"tcp4", "tcp6", "icmp4"}},
	{"tcp || icmp6", []string{"tcp4", "tcp6", "icmp6"}},
	{"!tcp && ip6", []string{"udp6", "icmp6", "frag6"}},
	// tcpdump precedence: and/or are equal and left-associative.
	{"icmp or tcp and ip6", []string{"tcp6"}},
	{"icmp or (tcp and ip6)", []string{"icmp4", "tcp6"}},
	{"not (host 192.0.2.1 or host 2001:db8::1)", nil},
	{"not not udp", []string{"udp4", "frag4", "udp6", "frag6"}},
}

func TestCompileFilterMatches(t *testing.T) {
	tests := bfCases
	for _, link := range []LinkType{LinkEthernet, LinkSLL, LinkRaw} {
		frames := map[string][]byte{}
		for name, f := range bfFrames {
			if link == LinkRaw && f.proto == "arp" {
				continue // raw IP links cannot carry ARP
			}
			frames[name] = bfBuildFrame(t, f, link)
		}
		for _, tc := range tests {
			vm := filterVM(t, tc.expr, link, 128)
			want := map[string]bool{}
			for _, n := range tc.want {
				want[n] = true
			}
			for name, data := range frames {
				n, err := vm.Run(data)
				if err != nil {
					t.Fatalf("link %d: %q on %s: %v", link, tc.expr, name, err)
				}
				if got := n > 0; got != want[name] {
					t.Errorf("link %d: %q on %s: match = %v, want %v", link, tc.expr, name, got, want[name])
				}
				if n > 0 && n != 128 { // the kernel keeps min(n, frame length) bytes
					t.Errorf("link %d: %q on %s: snap length %d, want 128", link, tc.expr, name, n)
				}
			}
		}
	}
}

func TestCompileFilterSnapLen(t *testing.T) {
	for _, tc := range []struct {
		snap, want int
	}{{0, MaxSnapLen}, {64, 64}, {65535, 65535}} {
		vm := filterVM(t, "udp", LinkEthernet, tc.snap)
		data := bfBuildFrame(t, bfFrame{src: "192.0.2.1", dst: "192.0.2.2", proto: "udp", sport: 1, dport: 2, payload: 1400}, LinkEthernet)
		n, err := vm.Run(data)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("snaplen %d: program returns %d, want %d", tc.snap, n, tc.want)
		}
	}
}

func TestCompileFilterErrors(t *testing.T) {
	tests := []struct {
		expr string
		link LinkType
		want string
	}{
		{"tcp and", LinkEthernet, "filter: position 8: unexpected end of filter: expected a primitive, \"not\" or \"(\""},
		{"host", LinkEthernet, "filter: position 5: \"host\" needs a value"},
		{"host example.com", LinkEthernet, "filter: position 6: \"example.com\" is not an IP address (host names are not resolved)"},
		{"net 192.0.2.1/24", LinkEthernet, "filter: position 5: \"192.0.2.1/24\" has bits set past its /24 mask (did you mean 192.0.2.0/24?)"},
		{"net 192.0.2.0", LinkEthernet, "filter: position 5: \"192.0.2.0\" is not a network in CIDR notation"},
		{"port http", LinkEthernet, "filter: position 6: port \"http\" must be a number from 0 to 65535 (service names are not supported)"},
		{"port 70000", LinkEthernet, "filter: position 6: port \"70000\" must be a number from 0 to 65535 (service names are not supported)"},
		{"portrange 10", LinkEthernet, "filter: position 11: port range \"10\" must look like LOW-HIGH"},
		{"(tcp or udp", LinkEthernet, "filter: position 12: missing \")\" to close the \"(\" at position 1"},
		{"tcp)", LinkEthernet, "filter: position 4: unexpected \")\": expected \"and\", \"or\" or the end of the filter"},
		{"tcp udp", LinkEthernet, "filter: position 5: unexpected \"udp\": expected \"and\", \"or\" or the end of the filter"},
		{"vlan", LinkEthernet, "filter: position 1: unknown primitive \"vlan\" (supported: ip, ip6, tcp, udp, icmp, icmp6, host, net, port, portrange)"},
		{"src 192.0.2.1", LinkEthernet, "filter: position 5: unexpected \"192.0.2.1\" after \"src\": expected \"host\", \"net\", \"port\" or \"portrange\""},
		{"tcp host 192.0.2.1", LinkEthernet, "filter: position 5: \"tcp\" cannot qualify \"host\" (only ip or ip6 can)"},
		{"ip port 53", LinkEthernet, "filter: position 4: \"ip\" cannot qualify \"port\" (only tcp or udp can)"},
		{"ip6 host 192.0.2.1", LinkEthernet, "filter: position 10: \"192.0.2.1\" is not an IPv6 address"},
		{"tcp & udp", LinkEthernet, "filter: position 5: single \"&\": use \"&&\""},
		{"tcp; udp", LinkEthernet, "filter: position 4: unexpected character \";\""},
		{"host and", LinkEthernet, "filter: position 6: \"host\" needs a value"},
		{"tcp", LinkNull, "filter: link type 0 not supported (Ethernet, SLL, SLL2 and raw IP are)"},
	}
	for _, tc := range tests {
		_, err := CompileFilter(tc.expr, tc.link, 128)
		if err == nil {
			t.Errorf("CompileFilter(%q) succeeded, want error %q", tc.expr, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("CompileFilter(%q) error:\n got %q\nwant %q", tc.expr, err, tc.want)
		}
	}
	if _, err := CompileFilter("tcp", LinkEthernet, -1); err == nil {
		t.Error("negative snap length accepted")
	}
}

// FuzzCompileFilter checks the parser never panics and every program it
// produces is valid for the VM.
func FuzzCompileFilter(f *testing.F) {
	for _, s := range []string{"tcp", "not (host 192.0.2.1 or net 2001:db8::/32) and port 53", "portrange 1-2 || !udp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		raw, err := CompileFilter(expr, LinkEthernet, 128)
		if err != nil {
			return
		}
		prog, ok := bpf.Disassemble(raw)
		if !ok {
			t.Fatalf("%q: program does not disassemble", expr)
		}
		if _, err := bpf.NewVM(prog); err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
	})
}

// TestCompileFilterMatchesLibpcap compiles every expression of bfCases with
// libpcap too (tcpdump -ddd, when tcpdump is installed) and checks both
// programs accept exactly the same frames.
func TestCompileFilterMatchesLibpcap(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed: no libpcap to compare with")
	}
	// tcpdump needs a capture to take the link type from.
	file := filepath.Join(t.TempDir(), "eth.pcap")
	fh, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(fh)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	for _, tc := range bfCases {
		out, err := exec.Command("tcpdump", "-ddd", "-r", file, tc.expr).Output()
		if err != nil {
			t.Fatalf("tcpdump -ddd %q: %v", tc.expr, err)
		}
		fields := strings.Fields(string(out))
		var raw []bpf.RawInstruction
		for i := 1; i+3 < len(fields); i += 4 {
			var v [4]uint64
			for j := range v {
				if v[j], err = strconv.ParseUint(fields[i+j], 10, 32); err != nil {
					t.Fatalf("tcpdump -ddd %q output: %v", tc.expr, err)
				}
			}
			raw = append(raw, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
		}
		theirs, _ := bpf.Disassemble(raw)
		theirVM, err := bpf.NewVM(theirs)
		if err != nil {
			t.Fatalf("libpcap program for %q: %v", tc.expr, err)
		}
		ourVM := filterVM(t, tc.expr, LinkEthernet, 128)
		for name, f := range bfFrames {
			data := bfBuildFrame(t, f, LinkEthernet)
			a, errA := ourVM.Run(data)
			b, errB := theirVM.Run(data)
			if errA != nil || errB != nil {
				t.Fatalf("%q on %s: %v / %v", tc.expr, name, errA, errB)
			}
			if (a > 0) != (b > 0) {
				t.Errorf("%q on %s: ours %v, libpcap %v", tc.expr, name, a > 0, b > 0)
			}
		}
	}
}

// filterVM compiles expr for link with snap length snap and returns a VM
// that runs it, failing t if any step fails.
func filterVM(t testing.TB, expr string, link LinkType, snap int) *bpf.VM {
	t.Helper()
	raw, err := CompileFilter(expr, link, snap)
	if err != nil {
		t.Fatalf("link %d: CompileFilter(%q): %v", link, expr, err)
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("link %d: %q: program does not disassemble", link, expr)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("link %d: %q: NewVM: %v", link, expr, err)
	}
	return vm
}
