package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/internal/dashboard"
	"github.com/jurismon/jurismon/internal/netnstest"
	"github.com/jurismon/jurismon/internal/vpntest"
)

// The dashboard every query of which must return data.
var dashboardFile = filepath.Join("..", "..", "deploy", "grafana", "jurismon.json")

// Extra lab addresses, all in the documentation ranges. The test database
// has no country for 2001:db8:4::/48 ("unknown" in the metrics) and puts
// 192.0.2.10 in DE (AS64500).
const (
	peerUnknownV6 = "2001:db8:4::2"
	peerDEv4      = "192.0.2.10"
	routerNS      = "c" // suffix of the namespace that takes over peerRUv4
	routerMACb    = "02:00:00:00:0b:02"
	routerMACc    = "02:00:00:00:0c:01"
)

// noDataInLab lists the queries ("panel/refId") that cannot have data in
// the lab, with the reason. Every other query must return a sample that is
// not NaN; an entry here that does return data fails the test, so that the
// list does not go stale.
var noDataInLab = map[string]string{
	// The lab runs jurismon run, not jurismon collect: the collector's row
	// is checked by the deploy tests (metric contract), not here.
	"Flow records by exporter/A":      "no collector in the lab",
	"Traffic by exporter interface/A": "no collector in the lab",
	"Collector errors and drops/A":    "no collector in the lab",
	"Collector errors and drops/B":    "no collector in the lab",
	// No resolver answers in this lab: TestAgentNamesFlows checks the
	// watched-domain metrics with a real dnsmasq.
	"Watched domains: countries their answers resolve to/A": "no DNS answers in the lab",
	"Watched domains: countries their answers resolve to/B": "no DNS answers in the lab",
	"Watched-domain violations/A":                           "no DNS answers in the lab",
}

// readDashboard returns every panel query and every query variable of a
// dashboard file (internal/dashboard, which the deploy tests share).
func readDashboard(file string) ([]dashboard.Query, []dashboard.LabelValues, error) {
	d, err := dashboard.Load(file)
	if err != nil {
		return nil, nil, err
	}
	qs, err := d.Queries()
	if err != nil {
		return nil, nil, err
	}
	vs, err := d.LabelValues()
	if err != nil {
		return nil, nil, err
	}
	return qs, vs, nil
}

// promInstant is query without failing the test: the caller reports the
// panel the query belongs to.
func promInstant(addr, q string) ([]promResult, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promResult `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %s", err, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s", r.Error)
	}
	return r.Data.Result, nil
}

// hasData: at least one sample that is a number. A ratio of two idle rates
// is NaN, which Grafana draws as nothing.
func hasData(rs []promResult) bool {
	for _, r := range rs {
		s, _ := r.Value[1].(string)
		if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) {
			return true
		}
	}
	return false
}

func describe(rs []promResult) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 3 {
			fmt.Fprintf(&b, " … (%d series)", len(rs))
			break
		}
		fmt.Fprintf(&b, " %v=%v", r.Metric, r.Value[1])
	}
	return b.String()
}

// waitQuery polls Prometheus until q returns data.
func waitQuery(t *testing.T, addr, q string, timeout time.Duration) {
	t.Helper()
	netnstest.Eventually(t, timeout, func() error {
		if rs, err := promInstant(addr, q); err != nil || !hasData(rs) {
			return fmt.Errorf("Prometheus has no data for %s (last answer %+v, %v)", q, rs, err)
		}
		return nil
	})
}

var metricNameRE = regexp.MustCompile(`\bjurismon_\w+`)

// exposed returns the agent's /metrics lines for the metrics expr reads.
func exposed(expr string) string {
	resp, err := http.Get("http://" + net.JoinHostPort(mgmtAgent, agentPort) + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	var out []string
	for _, name := range slices.Compact(slices.Sorted(slices.Values(metricNameRE.FindAllString(expr, -1)))) {
		n := 0
		for line := range strings.SplitSeq(string(text), "\n") {
			if strings.HasPrefix(line, name) {
				if n++; n <= 10 {
					out = append(out, "    "+line)
				}
			}
		}
		if n == 0 {
			out = append(out, "    (no "+name+" series)")
		} else if n > 10 {
			out = append(out, fmt.Sprintf("    … %d %s lines in all", n, name))
		}
	}
	return strings.Join(out, "\n")
}

// selection is one setting of the dashboard's variables.
type selection struct {
	name string
	vars map[string]string
}

// checkDashboard runs every variable and panel query under each selection
// and returns the failures.
func checkDashboard(addr string, qs []dashboard.Query, vs []dashboard.LabelValues, sels []selection) []string {
	var fails []string
	for _, sel := range sels {
		for _, v := range vs {
			sq, err := dashboard.ExpandVariables(v.Selector, sel.vars)
			if err != nil {
				fails = append(fails, fmt.Sprintf("[%s] variable %s: %v", sel.name, v.Name, err))
				continue
			}
			rs, err := promInstant(addr, sq)
			if err == nil && !slices.ContainsFunc(rs, func(r promResult) bool { return r.Metric[v.Label] != "" }) {
				err = fmt.Errorf("no series with a %s label", v.Label)
			}
			if err != nil {
				fails = append(fails, fmt.Sprintf("[%s] variable %s: label_values(%s, %s): %v\n  agent exposes:\n%s", sel.name, v.Name, sq, v.Label, err, exposed(sq)))
			}
		}
		for _, q := range qs {
			key := q.Panel + "/" + q.RefID
			e, err := dashboard.ExpandVariables(q.Expr, sel.vars)
			if err != nil {
				fails = append(fails, fmt.Sprintf("[%s] panel %q query %s: %v", sel.name, q.Panel, q.RefID, err))
				continue
			}
			rs, err := promInstant(addr, e)
			_, allowed := noDataInLab[key]
			switch {
			case err != nil:
				fails = append(fails, fmt.Sprintf("[%s] panel %q query %s: %s\n  error: %v", sel.name, q.Panel, q.RefID, e, err))
			case allowed && hasData(rs):
				fails = append(fails, fmt.Sprintf("[%s] panel %q query %s is in noDataInLab but has data:%s", sel.name, q.Panel, q.RefID, describe(rs)))
			case !allowed && !hasData(rs):
				fails = append(fails, fmt.Sprintf("[%s] panel %q query %s: no data\n  query: %s\n  answer: %+v\n  agent exposes:\n%s", sel.name, q.Panel, q.RefID, e, rs, exposed(e)))
			}
		}
	}
	return fails
}

// labCommands runs ip commands, failing the test on the first error.
func labCommands(t *testing.T, cmds [][]string) {
	t.Helper()
	for _, c := range cmds {
		run1(t, c...)
	}
}

// handshake opens and closes one TCP connection from the agent's namespace
// to a listener in b: the host opens it, so the agent measures its
// SYN → SYN-ACK time (jurismon_rtt_seconds{country="US"}).
func (l *lab) handshake(ln net.Listener) {
	l.in(l.a, func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(agentUSv4)}, Timeout: 2 * time.Second}
		conn, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// udpTo sends one datagram from namespace ns, src → dst, with the given
// IPv4 TTL (0: the default), and checks that rx received it.
func (l *lab) udpTo(ns, network, src, dst string, ttl int, rx *net.UDPConn) {
	l.in(ns, func() error {
		c, err := net.DialUDP(network, &net.UDPAddr{IP: net.ParseIP(src)}, rx.LocalAddr().(*net.UDPAddr))
		if err != nil {
			return err
		}
		defer c.Close()
		if ttl > 0 {
			if err := ipv4.NewConn(c).SetTTL(ttl); err != nil {
				return err
			}
		}
		_, err = c.Write(make([]byte, udpPayload))
		return err
	})
	rx.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := rx.ReadFrom(make([]byte, 2048)); err != nil {
		l.t.Fatalf("datagram %s → %s not received: %v", src, dst, err)
	}
}

// TestDashboardQueries runs every query of the Grafana dashboard against a
// real Prometheus that scrapes the real agent, which sees traffic that
// gives every panel data: flagged and unflagged countries in both
// directions, an unknown country, a TCP handshake the host opens, a route
// hop-count change and a traced path that changes its AS path.
func TestDashboardQueries(t *testing.T) {
	start := time.Now()
	qs, vs, err := readDashboard(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) == 0 || len(vs) == 0 {
		t.Fatalf("%d panel queries and %d query variables found in %s", len(qs), len(vs), dashboardFile)
	}
	l := newLab(t)
	routerNet := strings.TrimSuffix(l.b, "b") + routerNS
	// An address without a country, reached from a's DE address.
	labCommands(t, [][]string{
		{"ip", "-n", l.b, "addr", "add", peerUnknownV6 + "/64", "dev", "jmb0", "nodad"},
		{"ip", "-n", l.a, "-6", "route", "add", peerUnknownV6 + "/128", "dev", "jma0"},
		{"ip", "-n", l.a, "neigh", "add", peerUnknownV6, "lladdr", peerMAC, "dev", "jma0", "nud", "permanent"},
	})

	dir := agentDir(t) // readable by the agent once it is nobody
	pol := filepath.Join(dir, "policy.yml")
	// The vendors rule flags the agent's own interface (a Huawei MAC), for
	// the devices row.
	if err := os.WriteFile(pol, []byte(labVendorsPol), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := writeLabRegistry(t, dir)
	var stderr strings.Builder
	// --location RU: the lab's hops answer in microseconds, below the
	// physical minimum from anywhere outside RU to RU, and implausible hops
	// are left out of jurismon_path_transit; from RU, the RU hop is
	// plausible and the DE router hop added below is not.
	agent := exec.Command("ip", "netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(mgmtAgent, agentPort),
		"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation",
		"--config", pol, "--metrics.asn", "top", "--vendors.registry-dir", reg,
		"--probe.target", "lab="+peerRUv4+"/icmp", "--probe.interval", "2s", "--location", "RU",
		// Destinations picked from the traffic are traced too, once their
		// flows end: aggregated as target="auto".
		"--probe.auto", "--flow.idle-timeout", "2s")
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		agent.Process.Kill()
		agent.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", stderr.String())
		}
	}()
	waitHTTP(t, "http://"+net.JoinHostPort(mgmtAgent, agentPort)+"/-/ready", 15*time.Second)

	// Sockets that receive the test's own traffic: a TCP listener for the
	// handshakes, UDP sinks for the unknown country and the TTL change.
	var tcpLn net.Listener
	var unknownRx, ttlRx *net.UDPConn
	l.in(l.b, func() (err error) {
		if tcpLn, err = net.Listen("tcp4", net.JoinHostPort(peerUSv4, "8080")); err != nil {
			return err
		}
		unknownRx, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP(peerUnknownV6), Port: 9002})
		return err
	})
	defer tcpLn.Close()
	defer unknownRx.Close()
	l.in(l.a, func() (err error) {
		ttlRx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(agentUSv4), Port: 9003})
		return err
	})
	defer ttlRx.Close()
	// A WireGuard tunnel from a's US address to b's, for the Tunnels row
	// and the world map's tunnel layer.
	vl := &vpntest.Lab{Dir: t.TempDir(), ClientNS: l.a, ServerNS: l.b, ClientDev: "jma0", ServerDev: "jmb0",
		Client: netip.MustParseAddr(agentUSv4), Server: netip.MustParseAddr(peerUSv4), InnerClient: innerAgent, InnerServer: innerPeer,
		Poke: func() {
			l.in(l.a, func() error {
				if conn, err := net.Dial("udp", net.JoinHostPort(innerPeer, "9")); err == nil {
					_, _ = conn.Write([]byte("jurismon tunnel test"))
					_ = conn.Close()
				}
				return nil
			})
		}}
	vl.WireGuard(t)
	traffic := func() {
		for range 3 {
			vl.PokeTunnel()
		}
		l.sendTraffic()
		l.handshake(tcpLn)
		l.udpTo(l.a, "udp6", agentDEv6, peerUnknownV6, 0, unknownRx)
	}

	// Counter series are born at their first value, and rate() sees only
	// what they gain after Prometheus first scraped them: traffic before
	// Prometheus creates the series, traffic after it makes the rates.
	traffic()
	addr := startPrometheus(t, dir)
	for _, q := range []string{
		`jurismon_rtt_seconds_count{country="US"}`,
		`jurismon_traffic_bytes_total{country="unknown"}`,
		`jurismon_flagged_bytes_total{direction="egress"}`,
		`jurismon_path_hops{target="lab"} == 1`,    // the first trace, before the path changes
		`jurismon_path_transit{target="auto"} > 0`, // a destination picked from the traffic, traced
	} {
		waitQuery(t, addr, q, 30*time.Second)
	}
	traffic()
	// A route change as the passive signal sees it: two new flows from
	// the US prefix arrive 3 hops further than before (TTL 61, not 64).
	for range 2 {
		l.udpTo(l.b, "udp4", peerUSv4, agentUSv4, 61, ttlRx)
	}
	// A path change: peerRUv4 moves behind b, into namespace c, and b
	// becomes a router that answers TTL-expired probes from a DE address.
	// The trace to "lab" goes from [AS64501] to [AS64500 AS64501].
	netnstest.Add(t, routerNet)
	labCommands(t, [][]string{
		{"ip", "link", "add", "jmdc0", "netns", l.b, "address", routerMACb, "type", "veth", "peer", "name", "jmdc1", "netns", routerNet, "address", routerMACc},
		{"ip", "netns", "exec", l.b, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"ip", "-n", routerNet, "link", "set", "lo", "up"},
		{"ip", "-n", routerNet, "link", "set", "jmdc1", "up"},
		{"ip", "-n", l.b, "link", "set", "jmdc0", "up"},
		{"ip", "-n", l.b, "addr", "del", peerRUv4 + "/25", "dev", "jmb0"},
		{"ip", "-n", l.b, "addr", "add", peerDEv4 + "/32", "dev", "jmb0"},
		{"ip", "-n", l.b, "route", "replace", agentV4 + "/32", "dev", "jmb0", "src", peerDEv4},
		{"ip", "-n", l.b, "route", "add", peerRUv4 + "/32", "dev", "jmdc0"},
		{"ip", "-n", l.b, "neigh", "add", peerRUv4, "lladdr", routerMACc, "dev", "jmdc0", "nud", "permanent"},
		{"ip", "-n", routerNet, "addr", "add", peerRUv4 + "/32", "dev", "jmdc1"},
		{"ip", "-n", routerNet, "route", "add", agentV4 + "/32", "dev", "jmdc1"},
		{"ip", "-n", routerNet, "neigh", "add", agentV4, "lladdr", routerMACb, "dev", "jmdc1", "nud", "permanent"},
	})

	// Grafana's two usual settings: All (the variables' allValue) and one
	// host and one jurisdiction picked from the variables' own queries.
	all := selection{"all", map[string]string{
		"instance": ".+", "jurisdiction": ".*",
		"__rate_interval": "1m", "__range": "1h", "__interval": "15s",
	}}
	one := selection{"selected", map[string]string{
		"instance":     dashboard.RegexEscape(net.JoinHostPort(mgmtAgent, agentPort)),
		"jurisdiction": dashboard.RegexEscape("sanctioned"),
		// Grafana's own variables, as for a one-hour range at 15 s steps.
		"__rate_interval": "1m", "__range": "1h", "__interval": "15s",
	}}
	sels := []selection{all, one}

	// Poll until every query has data: the rates need a second scrape
	// after the traffic, the path change the next trace, and an
	// implausible hop a trace whose RTT a loaded machine did not stretch
	// past the physical minimum (one every 2s: give it time).
	deadline := time.Now().Add(90 * time.Second)
	var fails []string
	for {
		fails = checkDashboard(addr, qs, vs, sels)
		if len(fails) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, f := range fails {
		t.Error(f)
	}
	if !t.Failed() {
		// The answers, for the record: what each panel would draw.
		for _, q := range qs {
			e, _ := dashboard.ExpandVariables(q.Expr, all.vars)
			rs, _ := promInstant(addr, e)
			t.Logf("%s/%s:%s", q.Panel, q.RefID, describe(rs))
		}
	}
	for k, why := range noDataInLab {
		t.Logf("allowed without data: %s (%s)", k, why)
	}
	t.Logf("%d panel queries and %d variables checked under %d selections in %v", len(qs), len(vs), len(sels), time.Since(start).Round(100*time.Millisecond))
}
