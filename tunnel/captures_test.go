package tunnel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/capture/pcapfile"
	"github.com/jurismon/jurismon/enrich"
)

// inspected mirrors the flow accountant's bound on the packets of a flow
// that inspectors see (enrich.MaxInspected on the seam branch): every
// expectation below holds within it.
const inspected = 8

// flowKey is a flow's protocol and endpoints, in a fixed order.
type flowKey struct {
	proto uint8
	a, b  netip.AddrPort
}

func keyOf(proto uint8, x, y netip.AddrPort) flowKey {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return flowKey{proto, x, y}
}

func (k flowKey) String() string { return fmt.Sprintf("%d %v <-> %v", k.proto, k.a, k.b) }

type flowRun struct {
	local   netip.AddrPort // the first packet's source
	state   enrich.State
	facts   enrich.Facts
	packets int
	done    bool
}

// classifyFile runs the classifier over every flow of a capture as the flow
// accountant would: the first packet's source is local, and the classifier
// sees the first `inspected` packets or fewer if it is done sooner. Frames
// are cut to snap bytes first, when snap is set, as a live capture's snap
// length would. It returns the protocol found for each flow ("" for none).
func classifyFile(t *testing.T, path string, snap int) map[flowKey]string {
	t.Helper()
	src, err := pcapfile.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := capture.NewDecoder()
	flows := map[flowKey]*flowRun{}
	var (
		f capture.Frame
		p capture.Packet
		c Classifier
	)
	for {
		if err := src.Next(&f); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("%s: %v", path, err)
		}
		if snap > 0 && len(f.Data) > snap {
			f.Data = f.Data[:snap]
		}
		if dec.DecodeFrame(&f, &p) != capture.Decoded {
			continue
		}
		s, d := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
		k := keyOf(p.Proto, s, d)
		r := flows[k]
		if r == nil {
			r = &flowRun{local: s}
			r.facts = enrich.Facts{Local: s, Remote: d, Proto: p.Proto}
			flows[k] = r
		}
		r.packets++
		if r.done || r.packets > inspected {
			continue
		}
		_, r.done = c.Inspect(&r.state, &r.facts, &p, s == r.local)
	}
	out := make(map[flowKey]string, len(flows))
	for k, r := range flows {
		out[k] = r.facts.Tunnel.Protocol
	}
	return out
}

// ndpiFlow matches a flow line of an nDPI result file: its protocol, the
// endpoints and the protocol nDPI found.
var ndpiFlow = regexp.MustCompile(`^\s*\d+\s+(TCP|UDP|ESP|GRE|\S+)\s+(\S+)\s+<?->\s+(\S+)\s+\[proto: [0-9.]+/([A-Za-z0-9_]+)`)

// ndpiNames are nDPI's names for the protocols nDPI and this package both
// recognise.
var ndpiNames = map[string]string{
	"WireGuard": WireGuard,
	"OpenVPN":   OpenVPN,
	"IPSec":     IPsec,
	"PPTP":      PPTP,
	"Tailscale": Tailscale,
	"L2TP":      L2TP,
}

// ndpiExpectations reads an nDPI result file and returns the flows it
// labels with one of ndpiNames, as this package names them.
func ndpiExpectations(t *testing.T, path string) map[flowKey]string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	protos := map[string]uint8{"TCP": 6, "UDP": 17, "ESP": 50, "GRE": 47}
	want := map[flowKey]string{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := ndpiFlow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, ok := ndpiNames[m[4]]
		if !ok {
			continue
		}
		proto, ok := protos[m[1]]
		if n, err := strconv.ParseUint(m[1], 10, 8); !ok && err == nil {
			proto, ok = uint8(n), true // nDPI writes other protocols by number
		}
		if !ok {
			t.Fatalf("%s: protocol %q in %q", path, m[1], sc.Text())
		}
		x, err1 := endpoint(m[2])
		y, err2 := endpoint(m[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: endpoints in %q: %v %v", path, sc.Text(), err1, err2)
		}
		want[keyOf(proto, x, y)] = name
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// endpoint reads an nDPI endpoint: address and port, or (for protocols
// without ports, such as ESP and GRE) the address alone.
func endpoint(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return netip.AddrPortFrom(a, 0), err
}

func capturesDir(t *testing.T) string {
	dir := os.Getenv("JURISMON_CAPTURES_DIR")
	if dir == "" {
		t.Skip("JURISMON_CAPTURES_DIR is not set: no real captures to check")
	}
	return dir
}

// vpnProtocols are the protocols that must never be found in a capture
// with no VPN in it. (The decapsulated tunnels may: IP-in-IP is a tunnel
// wherever it is.)
var vpnProtocols = map[string]bool{WireGuard: true, OpenVPN: true, IPsec: true, L2TP: true, PPTP: true, Tailscale: true}

// TestRealCapturesVPN checks the classifier against nDPI on the VPN
// captures: every flow nDPI labels WireGuard, OpenVPN, IPsec, PPTP or
// Tailscale is recognised with that protocol. Flows nDPI does not label
// are listed, and may be recognised only as a tunnel that has no nDPI
// label in these files (PPTP's GRE data channel).
func TestRealCapturesVPN(t *testing.T) {
	dir := filepath.Join(capturesDir(t), "vpn")
	results, _ := filepath.Glob(filepath.Join(dir, "ndpi-results", "*.out"))
	if len(results) == 0 {
		t.Fatalf("no nDPI result files in %s/ndpi-results", dir)
	}
	for _, res := range results {
		name := strings.TrimSuffix(filepath.Base(res), ".out")
		t.Run(name, func(t *testing.T) {
			want := ndpiExpectations(t, res)
			// The agent's default snap length keeps 128 bytes of a frame.
			if got := classifyFile(t, filepath.Join(dir, name), capture.DefaultSnapLen); !sameFound(got, want) {
				t.Errorf("with a snap length of %d, not what nDPI says (full frames below)", capture.DefaultSnapLen)
			}
			got := classifyFile(t, filepath.Join(dir, name), 0)
			for _, k := range sortedKeys(want) {
				if got[k] != want[k] {
					t.Errorf("%v: got %q, nDPI says %q", k, got[k], want[k])
				} else {
					t.Logf("%v: %s, as nDPI says", k, got[k])
				}
			}
			for _, k := range sortedKeys(got) {
				if _, ok := want[k]; ok || got[k] == "" {
					continue
				}
				if got[k] != PPTP || k.proto != 47 {
					t.Errorf("%v: recognised as %q, which nDPI does not say", k, got[k])
				} else {
					t.Logf("%v: %s (the GRE data channel, which nDPI lists as GRE)", k, got[k])
				}
			}
		})
	}
}

// knownVPN are the VPN flows of the captures outside vpn/: mercury's
// traffic mix holds a real IKEv2 exchange followed by ESP in UDP on 4500
// (frames 3155 on; tshark decodes them as ISAKMP and ESP) and a real
// OpenVPN session over TCP 1194 with tls-auth (frames 6581 on; tshark's
// OpenVPN dissector agrees). They are the only ones.
var knownVPN = map[string]map[flowKey]string{
	"mercury_emix.pcap": {
		keyOf(17, netip.MustParseAddrPort("192.168.245.131:10954"), netip.MustParseAddrPort("172.16.15.92:4500")): IPsec,
		keyOf(6, netip.MustParseAddrPort("1.20.121.102:38764"), netip.MustParseAddrPort("1.20.121.103:1194")):     OpenVPN,
	},
}

// TestRealCapturesNoVPN checks that no flow of the captures outside vpn/
// (the top folder and dns/) is recognised as a VPN, but for the real VPN
// flows knownVPN lists, which must be.
func TestRealCapturesNoVPN(t *testing.T) {
	dir := capturesDir(t)
	var files []string
	for _, pat := range []string{"*.pcap*", "dns/*.pcap*"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got := classifyFile(t, path, 0)
			known := knownVPN[filepath.Base(path)]
			for k, want := range known {
				if got[k] != want {
					t.Errorf("%v: got %q, want %q", k, got[k], want)
				}
			}
			tunnels := map[string]int{}
			for _, k := range sortedKeys(got) {
				switch {
				case got[k] == "":
				case vpnProtocols[got[k]]:
					if known[k] == "" {
						t.Errorf("%v: recognised as %s", k, got[k])
					}
				default:
					tunnels[got[k]]++
				}
			}
			t.Logf("%d flows; decapsulated tunnels: %v", len(got), tunnels)
		})
	}
}

// sameFound reports whether got names every flow of want with its protocol.
func sameFound(got, want map[flowKey]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[flowKey]V) []flowKey {
	keys := make([]flowKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}
