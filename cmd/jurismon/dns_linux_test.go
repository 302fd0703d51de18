package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jurismon/jurismon/events"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/report"
)

// TestAgentNamesFlows runs the real agent in the lab's namespace a, dnsmasq
// in namespace b answering a local zone (a CNAME chain to the flagged
// 192.0.2.130), dig in a querying it, then a TCP connection from the test
// process (in a) to the answer. The agent's event, its API and analyze
// --by domain on a capture tcpdump wrote of the same traffic must name the
// domain; the event, the process that held the socket.
func TestAgentNamesFlows(t *testing.T) {
	l := newLab(t)
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("needs dnsmasq (apt-get install dnsmasq-base)")
	}
	for _, tool := range []string{"dig", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(labPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", l.b, dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address="+peerUSv4, "--pid-file=", "--user=root",
		"--local-ttl=120", "--log-facility=-",
		"--host-record=edge.cdn.example.test,"+peerRUv4,
		"--cname=www.example.test,edge.cdn.example.test")
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	waitListen(t, l.b, peerUSv4+":53")

	pcap := filepath.Join(dir, "lab.pcap")
	dump := exec.Command("ip", "netns", "exec", l.a, "tcpdump", "-i", "jma0", "-U", "-s", "0", "-w", pcap)
	var dumpOut bytes.Buffer
	dump.Stderr = &dumpOut
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dump.Process.Kill(); _ = dump.Wait() })

	eventsFile := filepath.Join(dir, "events.jsonl")
	var stderr strings.Builder
	agent := exec.Command("ip", "netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(mgmtAgent, agentPort),
		"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation",
		"--config", pol, "--events.file", eventsFile, "--events.interval", "0s", "--flow.idle-timeout", "2s",
		"--log.level", "debug")
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s\ndnsmasq:\n%s\ntcpdump:\n%s", stderr.String(), srvOut.String(), dumpOut.String())
		}
	}()
	base := "http://" + net.JoinHostPort(mgmtAgent, agentPort)
	waitHTTP(t, base+"/-/ready", 15*time.Second)
	time.Sleep(300 * time.Millisecond) // tcpdump's socket too

	// A real client asks the real resolver.
	out, err := exec.Command("ip", "netns", "exec", l.a, "dig", "+short", "+tries=1", "+time=2", "@"+peerUSv4, "www.example.test").CombinedOutput()
	if err != nil || !strings.Contains(string(out), peerRUv4) {
		t.Fatalf("dig: %v\n%s", err, out)
	}
	// A server in b, and a connection to the answer held open from a
	// while the agent looks up its owner.
	var ln net.Listener
	l.in(l.b, func() (err error) { ln, err = net.Listen("tcp", net.JoinHostPort(peerRUv4, "8443")); return err })
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = c.Read(make([]byte, 16)); c.Close() }()
		}
	}()
	var conn net.Conn
	l.in(l.a, func() (err error) {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(peerRUv4, "8443"), 2*time.Second)
		return err
	})
	_, _ = conn.Write([]byte("hello"))
	time.Sleep(1500 * time.Millisecond)
	local := conn.LocalAddr().(*net.TCPAddr)
	conn.Close()

	// The flow ends after the idle timeout; its event names the domain and
	// the process.
	var ev events.Event
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/api/v1/flagged-flows")
		if err == nil {
			var body struct{ Events []events.Event }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			i := slices.IndexFunc(body.Events, func(e events.Event) bool { return e.Ended && e.RemotePort == 8443 })
			if i >= 0 {
				ev = body.Events[i]
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no ended flagged flow to port 8443 in /api/v1/flagged-flows")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ev.Domain != "www.example.test" || !slices.Equal(ev.CNAMEChain, []string{"edge.cdn.example.test"}) {
		t.Errorf("API event domain %q, chain %q; want www.example.test [edge.cdn.example.test]", ev.Domain, ev.CNAMEChain)
	}
	if ev.LocalPort != uint16(local.Port) || ev.PID != int32(os.Getpid()) || ev.Process == "" || ev.UID == nil || *ev.UID != int32(os.Getuid()) {
		t.Errorf("API event process %q pid %d uid %v port %d; want this test (pid %d, port %d)", ev.Process, ev.PID, ev.UID, ev.LocalPort, os.Getpid(), local.Port)
	}
	// The same line in the file.
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"domain":"www.example.test","cname_chain":["edge.cdn.example.test"]`)) {
		t.Errorf("event file lacks the domain:\n%s", data)
	}
	metrics := scrape(t)
	if metrics[`jurismon_dns_answers_total{}`] < 1 {
		t.Errorf("jurismon_dns_answers_total = %v, want at least 1", metrics[`jurismon_dns_answers_total{}`])
	}

	// analyze --by domain on what tcpdump wrote.
	_ = dump.Process.Signal(os.Interrupt)
	_ = dump.Wait()
	cmd := exec.Command(binary, "analyze", "--by", "domain", "--format", "json", "--config", pol,
		"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation", pcap)
	rep, err := cmd.Output()
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	var r report.Report
	if err := json.Unmarshal(rep, &r); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(r.Rows, func(row report.Row) bool { return row.Domain == "example.test" })
	if i < 0 || r.Rows[i].Jurisdiction != "sanctioned" || r.Rows[i].Flows != 1 {
		t.Errorf("analyze --by domain rows = %+v, want example.test flagged sanctioned with 1 flow", r.Rows)
	}
}

// waitListen waits until something in namespace ns listens on UDP addr.
func waitListen(t *testing.T, ns, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hlun").Output()
		if bytes.Contains(out, []byte(addr)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s in %s: %s", addr, ns, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
