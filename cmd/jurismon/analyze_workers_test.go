package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// workersTraffic is a random mix of flows that come back after the idle
// timeout (packets are a second apart), egress and ingress, transit,
// internal and IPv6, to many hosts of each test country.
func workersTraffic(seed uint64, n int) []sent {
	r := rand.New(rand.NewPCG(seed, seed))
	remotes := []string{"192.0.2.%d", "198.51.100.%d", "203.0.113.%d", "2001:db8:2::%d", "2001:db8:3::%d"}
	protos := []layers.IPProtocol{layers.IPProtocolTCP, layers.IPProtocolUDP, layers.IPProtocolICMPv4}
	var out []sent
	for range n {
		kind := remotes[r.IntN(len(remotes))]
		remote := fmt.Sprintf(kind, 1+r.IntN(200))
		local := fmt.Sprintf("10.0.0.%d", 1+r.IntN(6))
		if strings.Contains(kind, ":") {
			local = fmt.Sprintf("fd00::%d", 1+r.IntN(6))
		}
		p := protos[r.IntN(len(protos))]
		if strings.Contains(kind, ":") && p == layers.IPProtocolICMPv4 {
			p = layers.IPProtocolUDP
		}
		s := sent{local, remote, p, uint16(40000 + r.IntN(8)), []uint16{53, 80, 443}[r.IntN(3)], r.IntN(1200)}
		if p == layers.IPProtocolICMPv4 {
			s.sport, s.dport = 0, 0
		}
		switch x := r.IntN(10); {
		case x < 4: // the reply
			s.src, s.dst, s.sport, s.dport = s.dst, s.src, s.dport, s.sport
		case x == 4 && !strings.Contains(kind, ":"): // transit
			s.src = fmt.Sprintf("198.51.100.%d", 1+r.IntN(200))
		case x == 5: // internal
			s.dst = strings.Replace(local, "::", "::1", 1)
			if !strings.Contains(local, ":") {
				s.dst = "10.0.1.1"
			}
		}
		out = append(out, s)
	}
	return out
}

// TestAnalyzeWorkersIdentical: the report of several workers is the report
// of one, byte for byte, over several captures, groupings and formats.
func TestAnalyzeWorkersIdentical(t *testing.T) {
	dir := t.TempDir()
	pol := writeBytes(t, filepath.Join(dir, "policy.yaml"), []byte(testPolicy))
	mixed := filepath.Join(dir, "mixed.pcap")
	writeCapture(t, mixed, workersTraffic(1, 6000))
	second := filepath.Join(dir, "second.pcap")
	writeCapture(t, second, workersTraffic(2, 3000))
	gz := writeBytes(t, filepath.Join(dir, "second.pcap.gz"), gzipBytes(readFile(t, second)))
	publicHost := filepath.Join(dir, "public-host.pcap")
	writeCapture(t, publicHost, []sent{
		{"192.0.2.5", "198.51.100.7", layers.IPProtocolTCP, 40000, 443, 100},
		{"198.51.100.7", "192.0.2.5", layers.IPProtocolTCP, 443, 40000, 1000},
		{"192.0.2.5", "203.0.113.9", layers.IPProtocolUDP, 5000, 53, 10},
		{"192.0.2.5", "192.0.2.200", layers.IPProtocolUDP, 5001, 53, 10},
		{"198.51.100.8", "203.0.113.10", layers.IPProtocolUDP, 1, 2, 10},
	})
	sample := filepath.Join("..", "..", "testdata", "sample.pcap")
	// Two files make one report; from mixed to gz the time goes back by
	// more than the idle timeout (both start at the same time).
	files := [][]string{{mixed}, {mixed, gz}, {publicHost, mixed}, {sample}}
	if d := os.Getenv("JURISMON_CAPTURES_DIR"); d != "" {
		for _, sub := range []string{"vpn", "dns"} {
			got, _ := filepath.Glob(filepath.Join(d, sub, "*.pcap*"))
			if len(got) > 0 {
				files = append(files, got)
			}
		}
	}
	type variant struct {
		name string
		args []string
	}
	var variants []variant
	for _, by := range []string{"location", "country", "asn", "remote", "local-remote", "device"} {
		variants = append(variants, variant{"json by " + by, []string{"--format", "json", "--by", by, "--config", pol}})
	}
	variants = append(variants,
		variant{"csv", []string{"--format", "csv", "--by", "remote"}},
		variant{"table top 3", []string{"--format", "table", "--top", "3", "--config", pol}},
		variant{"local network", []string{"--format", "json", "--local-network", "192.0.2.0/28", "--local-network", "10.0.0.0/8", "--config", pol}},
		variant{"no decapsulation", []string{"--format", "json", "--no-decapsulate"}},
	)
	for _, fs := range files {
		for _, v := range variants {
			t.Run(filepath.Base(fs[0])+"/"+v.name, func(t *testing.T) {
				args := append(append(append([]string{"analyze"}, testDBArgs...), v.args...), fs...)
				one, errOut, code := jurismon(t, append(args, "--workers", "1")...)
				if code != 0 && code != exitTruncated {
					t.Fatalf("--workers 1: exit code %d: %s", code, errOut)
				}
				if !strings.Contains(one, "10.0.0.") && !strings.Contains(one, "rows") && !strings.Contains(one, "bytes") &&
					len(one) < 100 {
					t.Fatalf("--workers 1 wrote almost nothing: %q", one)
				}
				for _, n := range []string{"2", "3", "4"} {
					for _, split := range []string{"share", "route"} {
						out, errOut, c := jurismon(t, append(args, "--workers", n, "--debug.split", split)...)
						if c != code {
							t.Fatalf("--workers %s --debug.split %s: exit code %d, with one worker %d: %s", n, split, c, code, errOut)
						}
						if out != one {
							t.Errorf("--workers %s --debug.split %s differs from --workers 1:\n%s\n---- one worker:\n%s", n, split, out, one)
						}
					}
				}
			})
		}
	}
}
