package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/report"
)

// testDBArgs are the flags that resolve with the test databases, as in the
// README's lab set-up.
var testDBArgs = []string{"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation"}

func writeBytes(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// toPcapng rewrites a pcap file as pcapng, frame for frame.
func toPcapng(t *testing.T, pcapFile string) []byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(readFile(t, pcapFile)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, r.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		ci.InterfaceIndex = 0
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipBytes(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func analyzeJSON(t *testing.T, wantCode int, args ...string) (*report.Report, string) {
	t.Helper()
	out, errOut, code := jurismon(t, append(append([]string{"analyze", "--format", "json"}, testDBArgs...), args...)...)
	if code != wantCode {
		t.Fatalf("exit code %d, want %d; stderr: %s", code, wantCode, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	return &rep, errOut
}

// TestAnalyzeTruncated: a file cut short is reported up to the cut, with
// where it was cut, the other files in full, and exit code 4, for pcap,
// pcapng and gzip files.
func TestAnalyzeTruncated(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.pcap")
	writeCapture(t, full, testTraffic)
	pcap := readFile(t, full)
	ng := toPcapng(t, full)
	whole, _ := analyzeJSON(t, 0, full)
	tests := []struct {
		name    string
		data    []byte
		packets uint64 // read before the cut
		cut     string // in the error
	}{
		// The last record (16-byte header, 17-byte frame) loses 10 bytes.
		{"cut.pcap", pcap[:len(pcap)-10], 11, "record at offset"},
		// Inside the last record's header.
		{"cut-header.pcap", pcap[:len(pcap)-17-10], 11, "record at offset"},
		{"cut.pcapng", ng[:len(ng)-10], 11, "block at offset"},
		{"cut.pcap.gz", gzipBytes(pcap[:len(pcap)-10]), 11, "record at offset"},
		// The gzip stream itself cut short: its reader says unexpected EOF.
		{"cut-stream.pcap.gz", gzipBytes(pcap)[:len(gzipBytes(pcap))-12], 0, "unexpected EOF"},
		// Cut inside the file header: nothing to read, but the rest of
		// the report stands.
		{"cut-file-header.pcap", pcap[:12], 0, "truncated pcap file header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cut := writeBytes(t, filepath.Join(dir, tt.name), tt.data)
			rep, errOut := analyzeJSON(t, exitTruncated, cut, full)
			s := rep.Summary
			if len(s.Truncated) != 1 || s.Truncated[0].File != cut || !strings.Contains(s.Truncated[0].Error, tt.cut) {
				t.Fatalf("summary truncated = %+v, want %s cut with %q", s.Truncated, cut, tt.cut)
			}
			if tt.packets > 0 && s.Truncated[0].Packets != tt.packets {
				t.Errorf("packets read before the cut %d, want %d", s.Truncated[0].Packets, tt.packets)
			}
			// The whole of the other file is there, and the cut one's
			// packets on top.
			if s.PacketsRead != whole.Summary.PacketsRead+s.Truncated[0].Packets {
				t.Errorf("packets read %d, want %d + %d", s.PacketsRead, whole.Summary.PacketsRead, s.Truncated[0].Packets)
			}
			if !strings.Contains(errOut, "truncated") || !strings.Contains(errOut, cut) {
				t.Errorf("stderr does not name the cut file: %s", errOut)
			}
			// The table says it too.
			out, _, code := jurismon(t, append(append([]string{"analyze"}, testDBArgs...), cut, full)...)
			if code != exitTruncated || !strings.Contains(out, "TRUNCATED: "+cut+" is cut short after") {
				t.Errorf("table (exit %d) does not say the file is cut:\n%s", code, out)
			}
		})
	}
}

// TestAnalyzeNAT64: traffic to a NAT64 address is located by the IPv4
// address it embeds and flagged by a policy that flags its country.
func TestAnalyzeNAT64(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "nat64.pcap")
	writeCapture(t, capFile, []sent{
		{"fd00::1", "64:ff9b::c633:6407", layers.IPProtocolTCP, 40000, 443, 100}, // 198.51.100.7: US
		{"fd00::1", "2002:c000:205::1", layers.IPProtocolUDP, 5000, 53, 10},      // 6to4 of 192.0.2.5: DE
	})
	pol := writeBytes(t, filepath.Join(dir, "us.yml"), []byte("jurisdictions:\n  - name: us\n    countries: [US]\n"))
	rep, _ := analyzeJSON(t, exitFlagged, "--config", pol, "--fail-on-flagged", capFile)
	got := map[string]report.Row{}
	for _, r := range rep.Rows {
		got[r.Country] = r
	}
	if us := got["US"]; us.Embedded != "nat64" || us.Jurisdiction != "us" || us.AddressClass != "public" {
		t.Errorf("NAT64 row = %+v, want US, embedded nat64, flagged us", us)
	}
	if de := got["DE"]; de.Embedded != "6to4" || de.Jurisdiction != "" {
		t.Errorf("6to4 row = %+v, want DE, embedded 6to4, not flagged", de)
	}
	out, _, _ := jurismon(t, append(append([]string{"lookup", "--json", "--config", pol}, testDBArgs...), "64:ff9b::c633:6407")...)
	if !strings.Contains(out, `"embedded":"nat64","embedded_address":"198.51.100.7"`) || !strings.Contains(out, `"jurisdiction":"us"`) {
		t.Errorf("lookup: %s", out)
	}
}

// TestAnalyzeCaptureHost: a capture taken on a host with a public address
// has only transit traffic; the summary names the host and the flag that
// fixes it, and --local-network gives egress and ingress.
func TestAnalyzeCaptureHost(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "public-host.pcap")
	writeCapture(t, capFile, []sent{
		{"192.0.2.5", "198.51.100.7", layers.IPProtocolTCP, 40000, 443, 100},
		{"198.51.100.7", "192.0.2.5", layers.IPProtocolTCP, 443, 40000, 1000},
		{"192.0.2.5", "203.0.113.9", layers.IPProtocolUDP, 5000, 53, 10},
		{"192.0.2.5", "192.0.2.200", layers.IPProtocolUDP, 5001, 53, 10},
		{"198.51.100.8", "203.0.113.10", layers.IPProtocolUDP, 1, 2, 10}, // someone else's
	})
	rep, _ := analyzeJSON(t, 0, capFile)
	want := "192.0.2.5 looks like the capture host; pass --local-network 192.0.2.5/32"
	if h := rep.Summary.CaptureHost; h == nil || h.Hint != want || h.Address != "192.0.2.5" || h.Flows != 3 || h.TransitFlows != 4 {
		t.Fatalf("capture host = %+v, want %q in 3 of 4 flows", h, want)
	}
	out, _, _ := jurismon(t, append(append([]string{"analyze"}, testDBArgs...), capFile)...)
	if !strings.Contains(out, "hint: "+want) {
		t.Errorf("table lacks the hint:\n%s", out)
	}
	rep, _ = analyzeJSON(t, 0, "--local-network", "192.0.2.5/32", "--local-network", "2001:db8:ffff::/48", capFile)
	s := rep.Summary
	if s.CaptureHost != nil || s.Directions["egress"].Flows != 3 || s.Directions["transit"].Flows != 1 ||
		strings.Join(s.LocalNetworks, ",") != "192.0.2.5/32,2001:db8:ffff::/48" {
		t.Errorf("with --local-network: capture host %+v, directions %+v, local %v", s.CaptureHost, s.Directions, s.LocalNetworks)
	}
}

// TestAnalyzeTop: --top shows the largest rows; totals count all of them.
func TestAnalyzeTop(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "capture.pcap")
	writeCapture(t, capFile, testTraffic)
	all, _ := analyzeJSON(t, 0, capFile)
	top, _ := analyzeJSON(t, 0, "--top", "2", capFile)
	if len(all.Rows) <= 2 || len(top.Rows) != 2 || !reflect.DeepEqual(top.Rows, all.Rows[:2]) ||
		top.Summary.RowsShown != 2 || top.Summary.RowsOmitted != len(all.Rows)-2 || top.Summary.FlaggedBytes != all.Summary.FlaggedBytes {
		t.Errorf("--top 2: %d rows (of %d), summary %+v", len(top.Rows), len(all.Rows), top.Summary)
	}
	out, _, _ := jurismon(t, append(append([]string{"analyze", "--top", "2"}, testDBArgs...), capFile)...)
	if !strings.Contains(out, "rows: 2 largest shown") {
		t.Errorf("table lacks the rows line:\n%s", out)
	}
}

// writeLinkType writes a pcap of one frame of the given link type.
func writeLinkType(t *testing.T, path string, link layers.LinkType) {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 40)
	if err := w.WritePacket(gopacket.CaptureInfo{CaptureLength: len(data), Length: len(data)}, data); err != nil {
		t.Fatal(err)
	}
	writeBytes(t, path, b.Bytes())
}

// TestAnalyzeUsage: the smaller rough edges of analyze.
func TestAnalyzeUsage(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "capture.pcap")
	writeCapture(t, capFile, testTraffic)
	radiotap := filepath.Join(dir, "wifi.pcap")
	writeLinkType(t, radiotap, layers.LinkTypeIEEE80211Radio)
	empty := writeBytes(t, filepath.Join(dir, "empty.yml"), []byte("# nothing yet\n"))
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{"enum names its flag", []string{"--format", "xml", capFile}, exitUsage, `--format: must be one of table, json, csv, html, svg, got "xml"`, ""},
		{"grouping names its flag", []string{"--by", "planet", capFile}, exitUsage, `--by: must be one of location, country, asn, remote, local-remote, device, domain, tunnel, got "planet"`, ""},
		{"progress names its flag", []string{"--progress", "sometimes", capFile}, exitUsage, `--progress: must be one of auto, always, never, got "sometimes"`, ""},
		{"same file twice", []string{capFile, capFile}, exitError, capFile + " is given twice", ""},
		{"same file by two names", []string{capFile, dir + "/./capture.pcap"}, exitError, "are the same file", ""},
		{"fail-on-flagged without a policy", []string{"--fail-on-flagged", capFile}, exitOK, "--fail-on-flagged without --config", ""},
		{"negative top", []string{"--top=-1", capFile}, exitUsage, "--top -1: must be 0 (every row) or more", ""},
		{"empty policy", []string{"--config", empty, capFile}, exitError, "the policy file is empty (or holds only comments)", ""},
		{"bad local network", []string{"--local-network", "192.0.2.5/24", capFile}, exitUsage, "--local-network 192.0.2.5/24: host bits set", ""},
		{"unsupported link type", []string{radiotap}, exitOK, "unsupported link type 127 (radiotap)", "unsupported link type 127 (radiotap): 1 frames not decoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := jurismon(t, append(append([]string{"analyze"}, testDBArgs...), tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.stderr)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out)
			}
		})
	}
}

// TestAnalyzeSample: the README's first analyze examples run on the capture
// the repository ships, with whatever database the machine has (the
// built-in one on a fresh machine).
func TestAnalyzeSample(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "sample.pcap")
	for _, args := range [][]string{
		{"analyze", "--format", "json", sample},
		{"analyze", "--format", "json", "--config", filepath.Join("..", "..", "deploy", "config", "example.yml"), sample},
	} {
		out, errOut, code := jurismon(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Rows) < 10 || rep.Summary.PacketsRead != 163 || rep.Summary.Directions["egress"].Flows == 0 {
			t.Errorf("%v: %d rows, summary %+v", args, len(rep.Rows), rep.Summary)
		}
		if strings.Count(errOut, "older than 30 days") > 1 {
			t.Errorf("the age of the database is said more than once:\n%s", errOut)
		}
	}
}

// TestEnumFlagErrors: every enum flag's error names the flag and its words.
func TestEnumFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--metrics.asn", "all"}, `--metrics.asn: must be one of none, flagged, top, got "all"`},
		{[]string{"run", "--capture.engine", "pcap"}, `--capture.engine: must be one of ring, afpacket, got "pcap"`},
		{[]string{"analyze", "--format=xml", "x.pcap"}, `--format: must be one of table, json, csv, html, svg, got "xml"`},
	} {
		_, errOut, code := jurismon(t, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, exitUsage, tt.want)
		}
	}
}

// TestVersionBuiltin: on a machine without GeoLite2 files, version names
// the built-in database for what it is, and its age is said once, at info
// level, never as a warning to run geoipupdate.
func TestVersionBuiltin(t *testing.T) {
	for _, dir := range geo.DefaultSearchDirs {
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Skipf("%s holds files: the built-in database may not be used", dir)
		}
	}
	out, errOut, code := jurismon(t, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"country database: jurismon-builtin-country,", "asn database: jurismon-builtin-asn,"} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(errOut, "level=WARN") || strings.Count(errOut, "built-in geo database") > 1 {
		t.Errorf("stderr warns, or says the age more than once:\n%s", errOut)
	}
}
