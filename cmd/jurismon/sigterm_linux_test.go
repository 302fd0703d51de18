package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jurismon/jurismon/geo/geotest"
)

// TestAgentSIGTERMWritesEveryFlaggedFlow opens 5,000 flagged UDP flows
// through a real agent whose event rate limit is 1 a second (burst 10),
// then stops it with SIGTERM: each flow's final event must be in the file
// (issue 10: with 3,851 open, 1,000 lines were written).
func TestAgentSIGTERMWritesEveryFlaggedFlow(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(labPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	eventsFile := filepath.Join(dir, "events.jsonl")
	var stderr strings.Builder
	agent := exec.Command("ip", "netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(mgmtAgent, agentPort),
		"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation",
		"--config", pol, "--events.file", eventsFile, "--events.interval", "0s", "--events.rate", "1",
		"--flow.idle-timeout", "5m")
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
	waitHTTP(t, "http://"+net.JoinHostPort(mgmtAgent, agentPort)+"/-/ready", 15*time.Second)

	const flows = 5000
	var sink *net.UDPConn
	l.in(l.a, func() (err error) { // a listener, so that no ICMP errors come back
		sink, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(agentV4), Port: 9000})
		return err
	})
	defer sink.Close()
	l.in(l.b, func() error {
		for i := range flows {
			conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(peerRUv4), Port: 10000 + i},
				&net.UDPAddr{IP: net.ParseIP(agentV4), Port: 9000})
			if err != nil {
				return err
			}
			_, err = conn.Write(make([]byte, 16))
			conn.Close()
			if err != nil {
				return err
			}
			if i%500 == 499 {
				time.Sleep(20 * time.Millisecond) // the ring need not absorb it all at once
			}
		}
		return nil
	})
	waitMetric(t, `jurismon_flagged_flows_total{as_org="Example Telecom JSC",asn="64501",country="RU",direction="ingress",jurisdiction="sanctioned",matched_by="country"}`, flows)

	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent exit: %v", err)
	}
	f, err := os.Open(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ports := map[uint16]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			RemotePort uint16 `json:"remote_port"`
			Ended      bool   `json:"ended"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", len(ports)+1, err)
		}
		if !e.Ended || e.RemotePort < 10000 || e.RemotePort >= 10000+flows || ports[e.RemotePort] {
			t.Fatalf("unexpected event %s", sc.Bytes())
		}
		ports[e.RemotePort] = true
	}
	if len(ports) != flows {
		t.Errorf("%d final events written, want %d", len(ports), flows)
	}
}
