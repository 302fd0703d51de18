package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jurismon/jurismon/geo/geotest"
)

// A small IEEE registry in the real files' format, written for the test:
// the IEEE's files may not be shipped (TestDebianRegistry in macvendor reads
// the real ones).
const (
	labOUI = "Registry,Assignment,Organization Name,Organization Address\n" +
		"MA-L,30FBB8,\"HUAWEI TECHNOLOGIES CO.,LTD\",\"No.2 Xin Cheng Road, Room R6,Songshan Lake Technology Park Dongguan  CN 523808 \"\n" +
		"MA-L,405582,Nokia,600 March Road Kanata Ontario CA K2K 2E6 \n"
	huaweiMAC     = agentMAC
	huaweiEUI64   = "2001:db8:1::32fb:b8ff:fe0a:b0c" // a second Huawei device's MAC, 30:fb:b8:0a:0b:0c, in a DE address
	labVendorsPol = labPolicy + "vendors:\n  - name: distrusted\n    vendors: [\"(?i)huawei\"]\n"
)

// TestAgentDevices runs the agent on the lab's veth, whose MAC is a Huawei
// one (agentMAC), with a vendors rule that flags Huawei: its traffic to RU is flagged twice (the
// device and the jurisdiction), its traffic to US for the device alone, and
// an EUI-64 address names a second device beyond the frame's MAC.
func TestAgentDevices(t *testing.T) {
	l := newLab(t)
	inA := []string{"ip", "netns", "exec", l.a}
	inB := []string{"ip", "netns", "exec", l.b}
	run1(t, append(inA, "ip", "addr", "add", huaweiEUI64+"/64", "dev", "jma0", "nodad")...)
	run1(t, append(inB, "ip", "neigh", "add", huaweiEUI64, "lladdr", agentMAC, "dev", "jmb0", "nud", "permanent")...)
	dir := t.TempDir()
	reg := writeLabRegistry(t, dir)
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(labVendorsPol), 0o644); err != nil {
		t.Fatal(err)
	}
	eventsFile := filepath.Join(dir, "events.jsonl")
	var stderr strings.Builder
	agent := exec.Command("ip", "netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(mgmtAgent, agentPort),
		"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation",
		"--config", pol, "--events.file", eventsFile, "--events.interval", "0s", "--flow.idle-timeout", "2s",
		"--vendors.registry-dir", reg)
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if agent.ProcessState == nil {
			agent.Process.Kill()
			agent.Wait()
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", stderr.String())
		}
	}()
	base := "http://" + net.JoinHostPort(mgmtAgent, agentPort)
	waitHTTP(t, base+"/-/ready", 15*time.Second)

	// From the agent's namespace: 3 echoes to RU and 2 to US (84 bytes each
	// way over IPv4), and 2 from the EUI-64 address to DE (104 bytes).
	l.in(l.a, func() error {
		if err := ping("ip4:icmp", agentV4, peerRUv4, 3); err != nil {
			return err
		}
		if err := ping("ip4:icmp", agentUSv4, peerUSv4, 2); err != nil {
			return err
		}
		return ping("ip6:ipv6-icmp", huaweiEUI64, peerDEv6, 2)
	})

	const hw = "HUAWEI TECHNOLOGIES CO.,LTD"
	want := map[string]float64{
		`jurismon_device_bytes_total{country="RU",direction="egress",jurisdiction="sanctioned",vendor="` + hw + `"}`:  3 * 84,
		`jurismon_device_bytes_total{country="RU",direction="ingress",jurisdiction="sanctioned",vendor="` + hw + `"}`: 3 * 84,
		`jurismon_device_bytes_total{country="US",direction="egress",jurisdiction="",vendor="` + hw + `"}`:            2 * 84,
		`jurismon_device_bytes_total{country="DE",direction="egress",jurisdiction="",vendor="` + hw + `"}`:            2 * 104,
		`jurismon_devices{flagged="true",vendor_country="CN"}`:                                                        2,
		`jurismon_devices_new_total{flagged="true",vendor_country="CN"}`:                                              2,
		`jurismon_vendor_registry_assignments{registry="MA-L"}`:                                                       2,
	}
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; {
		got = scrape(t)
		if matches(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// The other devices on the segment (the peer's veth, sending group
	// reports from ::) have locally administered MACs: private, no vendor.
	for k, v := range got {
		if strings.HasPrefix(k, "jurismon_devices{") && !strings.Contains(k, `vendor_country="CN"`) &&
			k != `jurismon_devices{flagged="false",vendor_country=""}` {
			t.Errorf("unexpected device series %s = %v", k, v)
		}
	}

	// The inventory, once the flows have ended (idle timeout 2s) and their
	// bytes are in.
	var devs map[string]map[string]any
	for deadline := time.Now().Add(15 * time.Second); ; {
		devs = getDevices(t, base)
		if d := devs[huaweiMAC]; d != nil && d["bytes_from"].(float64) == 5*84 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	d := devs[huaweiMAC]
	if d == nil || d["vendor"] != hw || d["vendor_country"] != "CN" || d["flagged"] != true || d["vendor_rule"] != "distrusted" ||
		d["bytes_from"].(float64) != 5*84 {
		t.Errorf("device %s: %v", huaweiMAC, d)
	} else {
		// Its link-local address may be there too (its group reports).
		if addrs := jsonString(d["addresses"]); !strings.Contains(addrs, `"`+agentV4+`"`) || !strings.Contains(addrs, `"`+agentUSv4+`"`) {
			t.Errorf("device %s addresses %s, want the agent's two IPv4 addresses among them", huaweiMAC, addrs)
		}
		// Both directions of each flow; the device's group reports to
		// multicast addresses are there too, under "multicast".
		remotes := jsonString(d["remotes"])
		if !strings.Contains(remotes, `"bytes":504,"country":"RU","flows":1,"jurisdiction":"sanctioned"`) ||
			!strings.Contains(remotes, `"bytes":336,"country":"US","flows":1,"jurisdiction":""`) {
			t.Errorf("device %s remotes %s", huaweiMAC, remotes)
		}
	}
	if e := devs["30:fb:b8:0a:0b:0c"]; e == nil || e["from_eui64"] != true || e["vendor"] != hw || jsonString(e["addresses"]) != `["2001:db8:1:0:32fb:b8ff:fe0a:b0c"]` {
		t.Errorf("EUI-64 device: %v", e)
	}

	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent exit: %v", err)
	}
	// Every flow of the Huawei devices with a public remote is a flagged
	// flow: the device is; their multicast chatter is not.
	evs := readEvents(t, eventsFile)
	byRemote := map[string]map[string]any{}
	for _, e := range evs {
		byRemote[e["remote"].(string)] = e
	}
	for remote, jurisdiction := range map[string]string{peerRUv4: "sanctioned", peerUSv4: "", peerDEv6: ""} {
		e := byRemote[remote]
		if e == nil || e["jurisdiction"] != jurisdiction || e["vendor"] != hw || e["vendor_country"] != "CN" ||
			e["vendor_rule"] != "distrusted" || e["vendor_matched_by"] != "vendor" {
			t.Errorf("event for %s: %v", remote, e)
		}
	}
	if e := byRemote[peerRUv4]; e != nil && e["local_mac"] != huaweiMAC {
		t.Errorf("RU event's local_mac = %v, want %s", e["local_mac"], huaweiMAC)
	}
	if len(evs) != 3 {
		t.Errorf("%d events, want 3: %v", len(evs), evs)
	}
}

// writeLabRegistry writes labOUI as the registry directory under dir.
func writeLabRegistry(t *testing.T, dir string) string {
	t.Helper()
	reg := filepath.Join(dir, "ieee")
	if err := os.Mkdir(reg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(reg, "oui.csv"), []byte(labOUI), 0o644); err != nil {
		t.Fatal(err)
	}
	return reg
}

func getDevices(t *testing.T, base string) map[string]map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/devices")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Devices []map[string]any `json:"devices"`
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s: %v: %.300s", resp.Request.URL, err, raw)
	}
	out := map[string]map[string]any{}
	for _, d := range body.Devices {
		out[d["mac"].(string)] = d
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func readEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}
