package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/internal/netnstest"
)

// The lab: namespace "a" runs the agent, namespace "b" is the rest of the
// world, joined by a veth pair (jma0 – jmb0). A second veth pair (jmm0 –
// jmm1) joins "a" to the test's own namespace so that the test and a real
// Prometheus can scrape the agent; the agent captures only on jma0. Every
// address is from the documentation ranges; the test database maps
// 192.0.2.128/25 and 2001:db8:2::/48 to RU (flagged), 2001:db8:1::/48 to DE
// and 198.51.100.0/24 to US.
const (
	agentV4    = "192.0.2.1"
	peerRUv4   = "192.0.2.130"
	agentUSv4  = "198.51.100.1"
	peerUSv4   = "198.51.100.7"
	agentRUv6  = "2001:db8:2::1"
	peerRUv6   = "2001:db8:2::2"
	agentDEv6  = "2001:db8:1::1"
	peerDEv6   = "2001:db8:1::2"
	mgmtHost   = "203.0.113.1"
	mgmtAgent  = "203.0.113.2"
	agentPort  = "9746"
	agentMAC   = "30:fb:b8:00:0a:01" // a Huawei prefix (labOUI), for the device tests
	peerMAC    = "02:00:00:00:0b:01"
	labPolicy  = "jurisdictions:\n  - name: sanctioned\n    countries: [RU]\n"
	udpPayload = 100
)

type lab struct {
	t    *testing.T
	a, b string // namespace names
	// mgmt is the management link in the test's namespace (its peer in
	// "a" is jmm1), hostIP and agentIP the /30 on it.
	mgmt, hostIP, agentIP string
}

func run1(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newLab(t *testing.T) *lab {
	return newLabWith(t, "jmm0", mgmtHost, mgmtAgent)
}

// newLabWith is newLab with another management link in the test's namespace
// and other addresses on it, for a lab that must not meet the default one
// (the soak suite, which runs while other agent tests may).
func newLabWith(t *testing.T, mgmtLink, hostIP, agentIP string) *lab {
	netnstest.Require(t)
	id := strconv.Itoa(os.Getpid() % 100000)
	l := &lab{t: t, a: "jmagent-" + id + "-a", b: "jmagent-" + id + "-b", mgmt: mgmtLink, hostIP: hostIP, agentIP: agentIP}
	netnstest.Add(t, l.a)
	netnstest.Add(t, l.b)
	t.Cleanup(func() { exec.Command("ip", "link", "del", l.mgmt).Run() })
	for _, c := range l.commands() {
		run1(t, c...)
	}
	return l
}

// recreateVeth re-creates the captured veth pair after a test deleted it:
// the lab's commands that concern it.
func (l *lab) recreateVeth() {
	for _, c := range l.commands() {
		if strings.Contains(strings.Join(c, " "), "jma0") || strings.Contains(strings.Join(c, " "), "jmb0") {
			run1(l.t, c...)
		}
	}
}

func (l *lab) commands() [][]string {
	inA := []string{"ip", "netns", "exec", l.a}
	inB := []string{"ip", "netns", "exec", l.b}
	return [][]string{
		{"ip", "link", "add", "jma0", "netns", l.a, "address", agentMAC, "type", "veth", "peer", "name", "jmb0", "netns", l.b, "address", peerMAC},
		{"ip", "link", "add", l.mgmt, "type", "veth", "peer", "name", "jmm1", "netns", l.a},
		append(inA, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.router_solicitations=0"),
		// Only an MSS option on SYNs, so that their size is known: 44 and 64 bytes.
		append(inB, "sysctl", "-qw", "net.ipv4.tcp_timestamps=0", "net.ipv4.tcp_sack=0", "net.ipv4.tcp_window_scaling=0", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.router_solicitations=0"),
		append(inA, "ip", "link", "set", "lo", "up"),
		append(inA, "ip", "link", "set", "jma0", "up"),
		append(inA, "ip", "link", "set", "jmm1", "up"),
		append(inB, "ip", "link", "set", "lo", "up"),
		append(inB, "ip", "link", "set", "jmb0", "up"),
		{"ip", "link", "set", l.mgmt, "up"},
		append(inA, "ip", "addr", "add", agentV4+"/25", "dev", "jma0"),
		append(inA, "ip", "addr", "add", agentUSv4+"/24", "dev", "jma0"),
		append(inA, "ip", "addr", "add", agentRUv6+"/64", "dev", "jma0", "nodad"),
		append(inA, "ip", "addr", "add", agentDEv6+"/64", "dev", "jma0", "nodad"),
		append(inA, "ip", "route", "add", peerRUv4+"/32", "dev", "jma0"),
		append(inA, "ip", "addr", "add", l.agentIP+"/30", "dev", "jmm1"),
		append(inB, "ip", "addr", "add", peerRUv4+"/25", "dev", "jmb0"),
		append(inB, "ip", "addr", "add", peerUSv4+"/24", "dev", "jmb0"),
		append(inB, "ip", "addr", "add", peerRUv6+"/64", "dev", "jmb0", "nodad"),
		append(inB, "ip", "addr", "add", peerDEv6+"/64", "dev", "jmb0", "nodad"),
		append(inB, "ip", "route", "add", agentV4+"/32", "dev", "jmb0"),
		{"ip", "addr", "add", l.hostIP + "/30", "dev", l.mgmt},
		// Static neighbours: no ARP or neighbour discovery between the
		// global addresses, whose ICMPv6 would add to the counts.
		append(inA, "ip", "neigh", "add", peerRUv4, "lladdr", peerMAC, "dev", "jma0", "nud", "permanent"),
		append(inA, "ip", "neigh", "add", peerUSv4, "lladdr", peerMAC, "dev", "jma0", "nud", "permanent"),
		append(inA, "ip", "neigh", "add", peerRUv6, "lladdr", peerMAC, "dev", "jma0", "nud", "permanent"),
		append(inA, "ip", "neigh", "add", peerDEv6, "lladdr", peerMAC, "dev", "jma0", "nud", "permanent"),
		append(inB, "ip", "neigh", "add", agentV4, "lladdr", agentMAC, "dev", "jmb0", "nud", "permanent"),
		append(inB, "ip", "neigh", "add", agentUSv4, "lladdr", agentMAC, "dev", "jmb0", "nud", "permanent"),
		append(inB, "ip", "neigh", "add", agentRUv6, "lladdr", agentMAC, "dev", "jmb0", "nud", "permanent"),
		append(inB, "ip", "neigh", "add", agentDEv6, "lladdr", agentMAC, "dev", "jmb0", "nud", "permanent"),
	}
}

// in runs fn on an OS thread inside namespace ns. Sockets keep the
// namespace they were made in, so fn may return them for use elsewhere.
// The thread is never returned to the scheduler: it exits with the goroutine.
func (l *lab) in(ns string, fn func() error) {
	l.t.Helper()
	if err := netnstest.Run(ns, fn); err != nil {
		l.t.Fatal(err)
	}
}

// sendTraffic sends the known mix from namespace b and returns what the
// agent must count. Replies (echo replies, RSTs) come from a's kernel.
func (l *lab) sendTraffic() {
	t := l.t
	var udp4, udp6 *net.UDPConn
	l.in(l.a, func() (err error) { // listeners, so that no ICMP errors come back
		if udp4, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(agentV4), Port: 9000}); err != nil {
			return err
		}
		udp6, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP(agentDEv6), Port: 9000})
		return err
	})
	defer udp4.Close()
	defer udp6.Close()
	l.in(l.b, func() error {
		// UDP: 5 × 128 IP bytes RU → agent; 4 × 248 IP bytes DE → agent.
		for _, c := range []struct {
			net, src, dst string
			n, size       int
		}{{"udp4", peerRUv4, agentV4, 5, udpPayload}, {"udp6", peerDEv6, agentDEv6, 4, 2 * udpPayload}} {
			conn, err := net.DialUDP(c.net, &net.UDPAddr{IP: net.ParseIP(c.src), Port: 5000}, &net.UDPAddr{IP: net.ParseIP(c.dst), Port: 9000})
			if err != nil {
				return err
			}
			for range c.n {
				if _, err := conn.Write(make([]byte, c.size)); err != nil {
					return err
				}
			}
			conn.Close()
		}
		// TCP to a closed port: a 44- or 64-byte SYN, a 40- or 60-byte RST.
		for _, c := range []struct{ src, dst string }{{peerRUv4, agentV4}, {peerRUv4, agentV4}, {peerDEv6, agentDEv6}} {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.src)}, Timeout: 2 * time.Second}
			if conn, err := d.Dial("tcp", net.JoinHostPort(c.dst, "9001")); err == nil {
				conn.Close()
				return fmt.Errorf("connected to %s:9001, which should be closed", c.dst)
			}
		}
		// ICMP echo: 3 × 84 bytes US, 3 × 104 bytes RU over IPv6, each answered.
		if err := ping("ip4:icmp", peerUSv4, agentUSv4, 3); err != nil {
			return err
		}
		return ping("ip6:ipv6-icmp", peerRUv6, agentRUv6, 3)
	})
	// The UDP listeners must have received everything: nothing was lost
	// before the agent could see it.
	buf := make([]byte, 2048)
	for _, c := range []struct {
		conn *net.UDPConn
		n    int
	}{{udp4, 5}, {udp6, 4}} {
		for i := range c.n {
			c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := c.conn.ReadFrom(buf); err != nil {
				t.Fatalf("UDP datagram %d of %d not received: %v", i+1, c.n, err)
			}
		}
	}
}

func ping(network, src, dst string, n int) error {
	c, err := icmp.ListenPacket(network, src)
	if err != nil {
		return err
	}
	defer c.Close()
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if strings.HasPrefix(network, "ip6") {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	for seq := range n {
		m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: 7, Seq: seq, Data: make([]byte, 56)}}
		b, err := m.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(b, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
			return err
		}
		buf := make([]byte, 1500)
		for {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, _, err := c.ReadFrom(buf)
			if err != nil {
				return fmt.Errorf("no echo reply from %s: %w", dst, err)
			}
			if r, err := icmp.ParseMessage(proto, buf[:k]); err == nil && r.Type == reply {
				break
			}
		}
	}
	return nil
}

func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + net.JoinHostPort(mgmtAgent, agentPort) + "/metrics")
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

func waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	netnstest.Eventually(t, timeout, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return fmt.Errorf("%s not ready (last error %v)", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s not ready: %s", url, resp.Status)
		}
		return nil
	})
}

func TestAgentEndToEnd(t *testing.T) {
	l := newLab(t)
	dir := agentDir(t)
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(labPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	eventsFile := filepath.Join(dir, "events.jsonl")
	// A copy of the country database, which the reload test replaces.
	countryDB := filepath.Join(dir, "GeoLite2-Country.mmdb")
	copyFile(t, geotest.CountryFile, countryDB)
	var stderr strings.Builder
	agent := exec.Command("ip", "netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(mgmtAgent, agentPort),
		"--geoip.country", countryDB, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation",
		"--config", pol, "--events.file", eventsFile, "--events.interval", "0s", "--flow.idle-timeout", "3s",
		"--log.level", "debug")
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

	l.sendTraffic()

	const flagged = `as_org="Example Telecom JSC",asn="64501",country="RU",direction="%s",jurisdiction="sanctioned",matched_by="country"`
	want := map[string]float64{
		// RU: 5 UDP (128) + 2 SYN (44) + 3 echo (104) in; 2 RST (40) + 3 echo replies out.
		`jurismon_traffic_bytes_total{country="RU",direction="ingress"}`:   5*128 + 2*44 + 3*104,
		`jurismon_traffic_bytes_total{country="RU",direction="egress"}`:    2*40 + 3*104,
		`jurismon_traffic_packets_total{country="RU",direction="ingress"}`: 10,
		`jurismon_traffic_packets_total{country="RU",direction="egress"}`:  5,
		`jurismon_flows_total{country="RU",direction="ingress"}`:           4,
		// DE: 4 UDP (248) + 1 SYN (64) in, 1 RST (60) out.
		`jurismon_traffic_bytes_total{country="DE",direction="ingress"}`:   4*248 + 64,
		`jurismon_traffic_bytes_total{country="DE",direction="egress"}`:    60,
		`jurismon_traffic_packets_total{country="DE",direction="ingress"}`: 5,
		`jurismon_flows_total{country="DE",direction="ingress"}`:           2,
		// US: 3 echo requests and replies of 84 bytes.
		`jurismon_traffic_bytes_total{country="US",direction="ingress"}`: 3 * 84,
		`jurismon_traffic_bytes_total{country="US",direction="egress"}`:  3 * 84,
		`jurismon_flows_total{country="US",direction="ingress"}`:         1,
		// Flagged: RU only.
		`jurismon_flagged_bytes_total{` + fmt.Sprintf(flagged, "ingress") + `}`:                          5*128 + 2*44 + 3*104,
		`jurismon_flagged_bytes_total{` + fmt.Sprintf(flagged, "egress") + `}`:                           2*40 + 3*104,
		`jurismon_flagged_packets_total{` + fmt.Sprintf(flagged, "ingress") + `}`:                        10,
		`jurismon_flagged_flows_total{` + fmt.Sprintf(flagged, "ingress") + `}`:                          4,
		`jurismon_traffic_asn_bytes_total{as_org="Example Telecom JSC",asn="64501",direction="ingress"}`: 5*128 + 2*44 + 3*104,
		`jurismon_config_last_reload_successful{}`:                                                       1,
		`jurismon_capture_drops_total{interface="jma0",stage="kernel"}`:                                  0,
	}
	// Counts reach the aggregates within a second (PublishEvery): scrape
	// until they match, then they must stay exact.
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
	for k := range got {
		if strings.HasPrefix(k, "jurismon_flagged_bytes_total") && !strings.Contains(k, `country="RU"`) {
			t.Errorf("unexpected flagged series %s", k)
		}
		if strings.HasPrefix(k, "jurismon_traffic_bytes_total") && strings.Contains(k, `direction="transit"`) {
			t.Errorf("the agent's own addresses must be local, but %s", k)
		}
	}
	if got[`jurismon_capture_packets_total{interface="jma0"}`] < 27 {
		t.Errorf("capture saw %v frames, want at least the 27 sent and answered", got[`jurismon_capture_packets_total{interface="jma0"}`])
	}

	t.Run("prometheus", func(t *testing.T) { promQuery(t, dir) })

	// The link is quiet now: the flows end by the idle timeout, without
	// another packet, and the API serves the flagged ones.
	t.Run("flagged-flows API", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := http.Get(base + "/api/v1/flagged-flows")
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Events []struct {
					Remote string `json:"remote"`
					Ended  bool   `json:"ended"`
				} `json:"events"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Events) == 4 {
				for _, e := range r.Events {
					if !e.Ended || (e.Remote != peerRUv4 && e.Remote != peerRUv6) {
						t.Errorf("event %+v: want an ended flow with a RU peer", e)
					}
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d flagged flows served, want 4", len(r.Events))
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	if got := scrape(t)["jurismon_flow_table_expirations_total{}"]; got < 7 {
		t.Errorf("%v flows expired, want at least the 7 test flows", got)
	}

	t.Run("reload", func(t *testing.T) { checkReload(t, l, base, pol, countryDB, agent.Process) })

	// An orderly stop flushes what is left: every flagged flow is one event.
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent exit: %v", err)
	}
	checkEvents(t, eventsFile)
}

// agentDir returns a directory for the files of an agent started as root:
// owned by the user it becomes once capture runs (nobody), so that event
// rotation can create files there, and open to read, so that database and
// policy reloads can read what the test writes.
func agentDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	to, err := resolveRunAs("nobody")
	if err != nil {
		t.Fatal(err)
	}
	// The test's temporary root is private (0700): let nobody through.
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, to.uid, to.gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// giveToAgentUser hands the files in dir to the user the agent becomes.
func giveToAgentUser(t *testing.T, dir string) {
	t.Helper()
	to, err := resolveRunAs("nobody")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Chown(filepath.Join(dir, e.Name()), to.uid, to.gid); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	// Write a new file and rename it over the old, as geoipupdate does.
	if err := os.WriteFile(to+".tmp", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}

// waitMetric polls the agent until the series has the value.
func waitMetric(t *testing.T, series string, want float64) {
	t.Helper()
	netnstest.Eventually(t, 10*time.Second, func() error {
		if got, ok := scrape(t)[series]; !ok || got != want {
			return fmt.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
		return nil
	})
}

// checkReload: a bad policy or database keeps the last good state running
// and is reported; a good one is taken on SIGHUP or POST /-/reload, and a
// replaced database file is picked up without being asked.
func checkReload(t *testing.T, l *lab, base, pol, countryDB string, agent *os.Process) {
	const ok = "jurismon_config_last_reload_successful{}"
	post := func() (int, string) {
		resp, err := http.Post(base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// A policy with an unknown key is refused, with its line.
	if err := os.WriteFile(pol, []byte("jurisdictions:\n  - name: sanctioned\n    contries: [RU]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := post(); code != http.StatusInternalServerError || !strings.Contains(body, "line 3") {
		t.Errorf("reload of a bad policy: %d %q, want 500 naming line 3", code, body)
	}
	waitMetric(t, ok, 0)
	// A good policy that also flags the US, on SIGHUP.
	if err := os.WriteFile(pol, []byte(labPolicy+"  - name: us\n    countries: [US]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs the agent: the process is the agent itself.
	if err := agent.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, ok, 1)
	// New flows follow the new policy: one ping to the US peer is flagged.
	l.in(l.b, func() error { return ping("ip4:icmp", peerUSv4, agentUSv4, 1) })
	waitMetric(t, `jurismon_flagged_packets_total{as_org="Example Networks Inc",asn="64502",country="US",direction="ingress",jurisdiction="us",matched_by="country"}`, 1)

	// A corrupt database replacing the file is refused; lookups go on.
	if err := os.WriteFile(countryDB+".tmp", []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(countryDB+".tmp", countryDB); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, ok, 0)
	l.in(l.b, func() error { return ping("ip4:icmp", peerUSv4, agentUSv4, 1) })
	waitMetric(t, `jurismon_traffic_packets_total{country="US",direction="egress"}`, 3+2)
	// The good file back: picked up on its own.
	copyFile(t, geotest.CountryFile, countryDB)
	waitMetric(t, ok, 1)
}

type wantEvent struct {
	country, jurisdiction  string
	proto                  string
	remotePort             uint16
	bytesTo, bytesFrom     uint64
	packetsTo, packetsFrom uint64
}

// checkEvents reads the event log: one line per flagged flow, each ended,
// matched by country: the RU flows of the traffic, and the two pings to the
// US peer after the reload flagged the US.
func checkEvents(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []wantEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			Protocol     string `json:"protocol"`
			Remote       string `json:"remote"`
			RemotePort   uint16 `json:"remote_port"`
			BytesTo      uint64 `json:"bytes_to"`
			BytesFrom    uint64 `json:"bytes_from"`
			PacketsTo    uint64 `json:"packets_to"`
			PacketsFrom  uint64 `json:"packets_from"`
			Country      string `json:"country"`
			Jurisdiction string `json:"jurisdiction"`
			MatchedBy    string `json:"matched_by"`
			Ended        bool   `json:"ended"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		if e.MatchedBy != "country" || !e.Ended {
			t.Errorf("event %+v: want an ended flow matched by country", e)
		}
		port := e.RemotePort
		if e.Protocol == "tcp" {
			port = 0 // ephemeral
		}
		got = append(got, wantEvent{e.Country, e.Jurisdiction, e.Protocol, port, e.BytesTo, e.BytesFrom, e.PacketsTo, e.PacketsFrom})
	}
	want := map[wantEvent]int{
		{"RU", "sanctioned", "udp", 5000, 0, 5 * 128, 0, 5}: 1,
		{"RU", "sanctioned", "tcp", 0, 40, 44, 1, 1}:        2,
		{"RU", "sanctioned", "icmpv6", 0, 312, 312, 3, 3}:   1,
		{"US", "us", "icmp", 0, 2 * 84, 2 * 84, 2, 2}:       1,
	}
	for _, e := range got {
		want[e]--
	}
	for e, n := range want {
		if n != 0 {
			t.Errorf("event %+v: %d too few (negative: too many); all events: %+v", e, n, got)
		}
	}
}

// startPrometheus runs a real Prometheus that scrapes the agent every
// second, stopped when the test ends, and returns its address.
func startPrometheus(t *testing.T, dir string) string {
	t.Helper()
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus is not installed (.ci/run installs the Debian package)")
		}
		t.Skip("skipping: prometheus is not installed (apt-get install prometheus)")
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: jurismon\n    static_configs:\n      - targets: ['%s']\n", net.JoinHostPort(mgmtAgent, agentPort))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var log strings.Builder
	cmd := exec.CommandContext(ctx, prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	waitHTTP(t, "http://"+addr+"/-/ready", 30*time.Second)
	return addr
}

// promResult is one sample of an instant query.
type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant PromQL query; an error answer fails the test.
func query(t *testing.T, addr, q string) []promResult {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promResult `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, body)
	}
	return r.Data.Result
}

// promQuery asks a real Prometheus that scrapes the agent for the flagged bytes.
func promQuery(t *testing.T, dir string) {
	addr := startPrometheus(t, dir)
	q := `sum(jurismon_flagged_bytes_total{jurisdiction="sanctioned"})`
	want := strconv.Itoa(5*128 + 2*44 + 3*104 + 2*40 + 3*104)
	netnstest.Eventually(t, 30*time.Second, func() error {
		if last := query(t, addr, q); len(last) != 1 || last[0].Value[1] != want {
			return fmt.Errorf("Prometheus never answered %s = %s; last answer: %+v", q, want, last)
		}
		return nil
	})
}

// matches reports whether every series in want has its value in got.
func matches(got, want map[string]float64) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
