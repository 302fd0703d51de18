package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/jurismon/jurismon/geo/geotest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// binary is the real jurismon, built once for the tests that run it.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "jurismon-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "jurismon")
	// Built as released: without cgo, so that it can drop capabilities.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type sent struct {
	src, dst     string
	proto        layers.IPProtocol
	sport, dport uint16
	payload      int
}

// writeCapture writes an Ethernet pcap of the given packets, one second
// apart, with a non-IP frame and a truncated one for the summary.
func writeCapture(t *testing.T, path string, pkts []sent) {
	t.Helper()
	writeCaptureData(t, path, pkts, nil)
}

// writeCaptureData is writeCapture with the payload bytes of the packets
// whose data is not nil (zeros of their payload size otherwise).
func writeCaptureData(t *testing.T, path string, pkts []sent, data [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(data []byte) {
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
		ts = ts.Add(time.Second)
	}
	mac1, mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	for i, p := range pkts {
		src, dst := net.ParseIP(p.src), net.ParseIP(p.dst)
		eth := &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2}
		var ip gopacket.NetworkLayer
		var ls []gopacket.SerializableLayer
		if src.To4() != nil {
			eth.EthernetType = layers.EthernetTypeIPv4
			v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: p.proto, SrcIP: src, DstIP: dst}
			ip = v4
			ls = append(ls, eth, v4)
		} else {
			eth.EthernetType = layers.EthernetTypeIPv6
			v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p.proto, SrcIP: src, DstIP: dst}
			ip = v6
			ls = append(ls, eth, v6)
		}
		switch p.proto {
		case layers.IPProtocolTCP:
			tcp := &layers.TCP{SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport), ACK: true, Window: 100}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			ls = append(ls, tcp)
		case layers.IPProtocolUDP:
			udp := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
			_ = udp.SetNetworkLayerForChecksum(ip)
			ls = append(ls, udp)
		case layers.IPProtocolICMPv4:
			ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1})
		}
		payload := make([]byte, p.payload)
		if i < len(data) && data[i] != nil {
			payload = data[i]
		}
		ls = append(ls, gopacket.Payload(payload))
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		write(buf.Bytes())
	}
	// An ARP frame (not IP) and an IPv4 frame cut inside its header.
	arp := append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06}, make([]byte, 28)...)
	write(arp)
	write([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0x00, 0x00})
}

// testTraffic: local hosts in 10.0.0.0/8 talking to the test database's
// countries (DE, RU, US, CN) over IPv4 and IPv6.
var testTraffic = []sent{
	{"10.0.0.1", "192.0.2.10", layers.IPProtocolTCP, 40000, 443, 1000}, // DE egress
	{"192.0.2.10", "10.0.0.1", layers.IPProtocolTCP, 443, 40000, 200},  // DE ingress, same flow
	{"10.0.0.2", "192.0.2.129", layers.IPProtocolUDP, 5000, 53, 100},   // RU (flagged by country)
	{"10.0.0.2", "192.0.2.130", layers.IPProtocolUDP, 5000, 53, 100},   // RU, second host
	{"10.0.0.3", "198.51.100.7", layers.IPProtocolICMPv4, 0, 0, 56},    // US
	{"10.0.0.3", "203.0.113.9", layers.IPProtocolTCP, 1234, 80, 10},    // CN, AS 64503 (flagged by ASN)
	{"fd00::1", "2001:db8:2::1", layers.IPProtocolUDP, 6000, 443, 300}, // RU over IPv6
	{"fd00::1", "2001:db8:3::1", layers.IPProtocolTCP, 6001, 443, 20},  // FR
	{"10.0.0.1", "10.0.0.2", layers.IPProtocolUDP, 1, 2, 10},           // internal
	{"192.0.2.10", "198.51.100.7", layers.IPProtocolUDP, 7, 7, 0},      // transit DE -> US
}

const testPolicy = `jurisdictions:
  - name: sanctioned
    countries: [RU, BY]
  - name: transit-carrier
    asns: [64503]
`

func jurismon(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestAnalyzeGolden(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "capture.pcap")
	writeCapture(t, capFile, testTraffic)
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"analyze", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
		"--geoip.lookup-documentation", "--config", pol}
	tests := []struct {
		name   string
		args   []string
		golden string
		code   int
	}{
		{"table", []string{"--format", "table"}, "analyze.table", 0},
		{"json by country", []string{"--format", "json", "--by", "country"}, "analyze-country.json", 0},
		{"csv by asn", []string{"--format", "csv", "--by", "asn"}, "analyze-asn.csv", 0},
		{"csv by remote", []string{"--format", "csv", "--by", "remote"}, "analyze-remote.csv", 0},
		{"json local-remote", []string{"--format", "json", "--by", "local-remote"}, "analyze-local-remote.json", 0},
		{"fail on flagged", []string{"--format", "csv", "--by", "country", "--fail-on-flagged"}, "analyze-country.csv", exitFlagged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append(append([]string{}, base...), tt.args...), capFile)
			out, errOut, code := jurismon(t, args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			// File names differ per machine and run: make them stable.
			out = strings.ReplaceAll(out, capFile, "CAPTURE")
			out = strings.ReplaceAll(out, pol, "POLICY")
			golden(t, tt.golden, strings.ReplaceAll(out, geotest.Dir(), "GEOTESTDATA"))
		})
	}
}

// TestAnalyzeStdin: "-" reads standard input, plain or gzip, and gives the
// same report as the file.
func TestAnalyzeStdin(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "capture.pcap")
	writeCapture(t, capFile, testTraffic)
	args := []string{"analyze", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
		"--geoip.lookup-documentation", "--format", "csv"}
	want, _, code := jurismon(t, append(args, capFile)...)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	data, err := os.ReadFile(capFile)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	for name, in := range map[string][]byte{"plain": data, "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(binary, append(args, "-")...)
			cmd.Stdin = bytes.NewReader(in)
			got, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("stdin report differs:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestAnalyzeErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	if err := os.WriteFile(garbage, []byte("this is not a capture file"), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	badPolicy := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(badPolicy, []byte("jurisdictions:\n  - name: x\n    contries: [RU]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"missing file", []string{"analyze", filepath.Join(dir, "nope.pcap")}, exitError, "nope.pcap"},
		{"not a capture", []string{"analyze", garbage}, exitError, "garbage.pcap"},
		{"corrupt database", []string{"analyze", "--geoip.country", corrupt, garbage}, exitError, "corrupt.mmdb"},
		{"bad policy", []string{"analyze", "--config", badPolicy, garbage}, exitError, "line 3"},
		{"bad grouping", []string{"analyze", "--by", "planet", garbage}, exitUsage, "planet"},
		{"no files", []string{"analyze"}, exitUsage, "required argument 'files' not provided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := jurismon(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := jurismon(t, "lookup", "--json", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
		"--geoip.lookup-documentation", "--config", pol, "192.0.2.129", "2001:db8:3::1", "10.1.2.3", "ff02::1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "lookup.jsonl", out)
}
