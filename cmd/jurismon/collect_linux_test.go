package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/jurismon/jurismon/geo/geotest"
)

// freePort returns a port of the loopback that was free a moment ago.
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// scrapeURL returns every sample at url as name{labels} → value.
func scrapeURL(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

// totals are bytes and packets per country or ASN.
type totals map[string][2]float64

// analyzeTotals runs jurismon analyze on a capture, by country or asn.
func analyzeTotals(t *testing.T, capFile, pol, by string, extra ...string) totals {
	t.Helper()
	args := append([]string{"analyze", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
		"--geoip.lookup-documentation", "--config", pol, "--format", "json", "--by", by}, extra...)
	out, errOut, code := jurismon(t, append(args, capFile)...)
	if code != 0 {
		t.Fatalf("analyze: exit %d: %s", code, errOut)
	}
	var rep struct {
		Rows []struct {
			Country      string  `json:"country"`
			ASN          *uint   `json:"asn"`
			BytesTo      float64 `json:"bytes_to"`
			BytesFrom    float64 `json:"bytes_from"`
			PacketsTo    float64 `json:"packets_to"`
			PacketsFrom  float64 `json:"packets_from"`
			AddressClass string  `json:"address_class"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("analyze output: %v\n%s", err, out)
	}
	got := totals{}
	for _, r := range rep.Rows {
		if r.AddressClass != "public" {
			continue
		}
		k := r.Country
		if by == "asn" {
			k = "unknown"
			if r.ASN != nil {
				k = fmt.Sprint(*r.ASN)
			}
		}
		v := got[k]
		v[0] += r.BytesTo + r.BytesFrom
		v[1] += r.PacketsTo + r.PacketsFrom
		got[k] = v
	}
	return got
}

// metricTotals sums jurismon's per-country (or per-ASN) series.
func metricTotals(m map[string]float64, by string) totals {
	got := totals{}
	for k, v := range m {
		var idx int
		var label string
		switch {
		case by == "country" && strings.HasPrefix(k, "jurismon_traffic_bytes_total{"):
			idx, label = 0, "country"
		case by == "country" && strings.HasPrefix(k, "jurismon_traffic_packets_total{"):
			idx, label = 1, "country"
		case by == "asn" && strings.HasPrefix(k, "jurismon_traffic_asn_bytes_total{"):
			idx, label = 0, "asn"
		default:
			continue
		}
		if strings.Contains(k, `direction="internal"`) {
			continue
		}
		i := strings.Index(k, label+`="`)
		val := k[i+len(label)+2:]
		val = val[:strings.IndexByte(val, '"')]
		if val == "" || v == 0 {
			continue
		}
		t := got[val]
		t[idx] += v
		got[val] = t
	}
	return got
}

// startCollector runs jurismon collect on loopback ports and returns the
// collector's port and its metrics URL.
func startCollector(t *testing.T, dir, pol string, extra ...string) (port int, metrics string) {
	t.Helper()
	port = freePort(t, "udp")
	web := freePort(t, "tcp")
	args := append([]string{"collect", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
		"--geoip.lookup-documentation", "--config", pol, "--metrics.asn", "top",
		"--collector.listen", fmt.Sprintf("127.0.0.1:%d", port), "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", web),
		"--collector.state-file", filepath.Join(dir, "templates.json"), "--flow.idle-timeout", "1s"}, extra...)
	cmd := exec.Command(binary, args...)
	logf, err := os.Create(filepath.Join(dir, "collect.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			st, _ := os.ReadFile(filepath.Join(dir, "templates.json"))
			t.Logf("collector log:\n%s\ntemplate state:\n%s", b, st)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", web)
	waitHTTP(t, base+"/-/ready", 10*time.Second)
	return port, base + "/metrics"
}

// waitRecords waits until the collector has accounted n records and the
// flows have reached the aggregates (flows are published every second).
func waitRecords(t *testing.T, metrics string, n float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := scrapeURL(t, metrics)
		var got float64
		for k, v := range m {
			if strings.HasPrefix(k, "jurismon_collector_records_total{") {
				got += v
			}
		}
		if got >= n {
			time.Sleep(2500 * time.Millisecond) // idle ticks end the flows; a publication
			return scrapeURL(t, metrics)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v records after 15s, want %v", got, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// softflowd exports capFile (of frames frames) as NetFlow version v to
// port. softflowd 1.1 reads the file, then may wait on its control socket
// with flows still open: once its statistics count every frame,
// softflowctl's shutdown makes it export them and exit.
func softflowd(t *testing.T, dir, capFile string, frames int, version string, port int) {
	t.Helper()
	bin := requireTool(t, "softflowd")
	ctlBin := requireTool(t, "softflowctl")
	ctl := filepath.Join(dir, "softflowd.ctl")
	logFile := filepath.Join(dir, "softflowd.log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-d", "-r", capFile, "-n", fmt.Sprintf("127.0.0.1:%d", port), "-v", version, "-6", "-a",
		"-p", filepath.Join(dir, "softflowd.pid"), "-c", ctl)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	read := regexp.MustCompile(`Packets processed: (\d+)[\s\S]*Ignored packets: (\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				b, _ := os.ReadFile(logFile)
				t.Fatalf("softflowd: %v\n%s", err, b)
			}
			return // it exported everything and exited by itself
		default:
		}
		stats, _ := exec.Command(ctlBin, "-c", ctl, "statistics").CombinedOutput()
		if m := read.FindSubmatch(stats); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			ign, _ := strconv.Atoi(string(m[2]))
			if n+ign >= frames {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("softflowd did not read %s in 10s:\n%s", capFile, stats)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// It may have gone on by itself once a statistics request woke it.
	_ = exec.Command(ctlBin, "-c", ctl, "shutdown").Run()
	select {
	case err := <-done:
		if err != nil {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("softflowd: %v\n%s", err, b)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("softflowd did not exit after its shutdown command")
	}
}

// exportedTraffic is testTraffic with every frame at least Ethernet's
// minimum of 60 bytes: gopacket pads shorter ones, and softflowd counts
// the padding as IP bytes where jurismon reads the IP header's length. v4
// keeps only IPv4 packets: NetFlow v5 carries no IPv6.
func exportedTraffic(v4 bool) []sent {
	var out []sent
	for _, p := range testTraffic {
		if v4 && net.ParseIP(p.src).To4() == nil {
			continue
		}
		if p.proto == layers.IPProtocolUDP && net.ParseIP(p.src).To4() != nil {
			p.payload = max(p.payload, 60-14-20-8)
		}
		out = append(out, p)
	}
	return out
}

func TestCollectSoftflowd(t *testing.T) {
	for _, tt := range []struct {
		version string
		traffic []sent
		records float64 // one per direction of each flow softflowd sees
	}{
		{"5", exportedTraffic(true), 8},
		{"9", exportedTraffic(false), 10},
		{"10", exportedTraffic(false), 10},
	} {
		t.Run("v"+tt.version, func(t *testing.T) {
			dir := t.TempDir()
			capFile := filepath.Join(dir, "capture.pcap")
			writeCapture(t, capFile, tt.traffic)
			pol := filepath.Join(dir, "policy.yml")
			if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
				t.Fatal(err)
			}
			port, metrics := startCollector(t, dir, pol)
			softflowd(t, dir, capFile, len(tt.traffic)+2, tt.version, port) // + the ARP and the cut frame
			m := waitRecords(t, metrics, tt.records)
			compareTotals(t, m, capFile, pol, "softflowd -v "+tt.version)
			checkFlaggedAPI(t, strings.TrimSuffix(metrics, "/metrics")+"/api/v1/flagged-flows", tt.version != "5")
		})
	}
}

// compareTotals checks the collector's per-country and per-ASN totals
// against analyze's of the same capture, and that nothing was lost.
func compareTotals(t *testing.T, m map[string]float64, capFile, pol, exporter string) {
	t.Helper()
	for _, by := range []string{"country", "asn"} {
		want := analyzeTotals(t, capFile, pol, by)
		got := metricTotals(m, by)
		if by == "asn" { // jurismon exports bytes per AS, not packets
			for k, v := range want {
				want[k] = [2]float64{v[0], 0}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("per-%s bytes and packets from %s = %v, analyze says %v", by, exporter, got, want)
		}
	}
	for k, v := range m {
		if strings.HasPrefix(k, "jurismon_collector_errors_total{") && v != 0 && !strings.Contains(k, `reason="sampling_unknown"`) {
			t.Errorf("%s = %v", k, v)
		}
	}
}

// pmacctd exports capFile with its nfprobe (NetFlow v9 or IPFIX) or
// sfprobe (sFlow v5, every packet sampled) plugin to port, and exits at
// the end of the file.
func pmacctd(t *testing.T, dir, capFile, plugin, version string, port int) {
	t.Helper()
	bin := requireTool(t, "pmacctd")
	conf := fmt.Sprintf("daemonize: false\npcap_savefile: %s\nplugins: %s[p]\n", capFile, plugin)
	switch plugin {
	case "nfprobe":
		conf += fmt.Sprintf("nfprobe_receiver[p]: 127.0.0.1:%d\nnfprobe_version[p]: %s\n", port, version)
	case "sfprobe":
		conf += fmt.Sprintf("sfprobe_receiver[p]: 127.0.0.1:%d\nsfprobe_agentip[p]: 127.0.0.1\nsampling_rate[p]: 1\n", port)
	}
	path := filepath.Join(dir, "pmacctd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", path)
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = cmd.CombinedOutput()
		done <- err
	}()
	select {
	case err := <-done:
		// Its sfprobe plugin ends first at the end of the file, and the
		// core then exits with 1 for having "no more plugins active".
		if err != nil && !strings.Contains(string(out), "no more plugins active") {
			t.Fatalf("pmacctd: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("pmacctd did not exit at the end of its capture file")
	}
}

func TestCollectPmacct(t *testing.T) {
	traffic := exportedTraffic(false)
	for _, tt := range []struct {
		plugin, version string
		records         float64
	}{
		{"nfprobe", "9", 10},
		{"nfprobe", "10", 10},
		{"sfprobe", "", float64(len(traffic))}, // one sample per IP packet
	} {
		t.Run(tt.plugin+tt.version, func(t *testing.T) {
			dir := t.TempDir()
			capFile := filepath.Join(dir, "capture.pcap")
			writeCapture(t, capFile, traffic)
			pol := filepath.Join(dir, "policy.yml")
			if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
				t.Fatal(err)
			}
			port, metrics := startCollector(t, dir, pol)
			pmacctd(t, dir, capFile, tt.plugin, tt.version, port)
			m := waitRecords(t, metrics, tt.records)
			compareTotals(t, m, capFile, pol, tt.plugin+tt.version)
		})
	}
}

// recordDatagrams receives UDP datagrams on a loopback port and writes
// each as an Ethernet/IPv4/UDP frame to a pcap, as tcpdump on the
// collector's port would. stop closes the file once the sender is done.
func recordDatagrams(t *testing.T, path string) (port int, stop func()) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: from.IP, DstIP: net.IPv4(127, 0, 0, 1)}
			udp := &layers.UDP{SrcPort: layers.UDPPort(from.Port), DstPort: layers.UDPPort(conn.LocalAddr().(*net.UDPAddr).Port)}
			_ = udp.SetNetworkLayerForChecksum(ip)
			sb := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(buf[:n])); err != nil {
				t.Error(err)
				return
			}
			data := sb.Bytes()
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(data), Length: len(data)}, data); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).Port, func() {
		time.Sleep(200 * time.Millisecond) // the last datagrams in flight
		conn.Close()
		<-done
		f.Close()
	}
}

// analyze --flow-records of a capture of softflowd's export gives the
// totals of analyze of the traffic itself.
func TestAnalyzeFlowRecords(t *testing.T) {
	traffic := exportedTraffic(false)
	for _, version := range []string{"5", "9", "10"} {
		t.Run("v"+version, func(t *testing.T) {
			if version == "5" {
				traffic = exportedTraffic(true)
			}
			dir := t.TempDir()
			capFile := filepath.Join(dir, "capture.pcap")
			writeCapture(t, capFile, traffic)
			pol := filepath.Join(dir, "policy.yml")
			if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
				t.Fatal(err)
			}
			exported := filepath.Join(dir, "exported.pcap")
			port, stop := recordDatagrams(t, exported)
			softflowd(t, dir, capFile, len(traffic)+2, version, port)
			stop()
			for _, by := range []string{"country", "asn"} {
				want := analyzeTotals(t, capFile, pol, by)
				got := analyzeTotals(t, exported, pol, by, "--flow-records")
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("per-%s totals of analyze --flow-records of softflowd -v %s's export = %v, of the traffic %v", by, version, got, want)
				}
			}
		})
	}
}

// checkFlaggedAPI: the flows to the flagged jurisdictions, from records,
// are in the flagged-flow API as from captured packets (RU by country, AS
// 64503 by ASN; the IPv6 RU flow with v6).
func checkFlaggedAPI(t *testing.T, url string, v6 bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Events []struct {
			Remote       string `json:"remote"`
			Jurisdiction string `json:"jurisdiction"`
			BytesTo      uint64 `json:"bytes_to"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range body.Events {
		got[e.Remote] = e.Jurisdiction
	}
	want := map[string]string{"192.0.2.129": "sanctioned", "192.0.2.130": "sanctioned", "203.0.113.9": "transit-carrier"}
	if v6 {
		want["2001:db8:2::1"] = "sanctioned"
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("flagged flows = %v, want %v", got, want)
	}
}
