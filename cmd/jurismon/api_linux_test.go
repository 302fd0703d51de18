package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jurismon/jurismon/geo/geotest"
)

// startLabAgent runs the agent in the lab's namespace a, capturing jma0,
// serving on the management address, with the lab policy (RU flagged).
func startLabAgent(t *testing.T, l *lab, extra ...string) (base string) {
	t.Helper()
	base = startLabAgentNoWait(t, l, extra...)
	waitHTTP(t, base+"/-/ready", 15*time.Second)
	return base
}

// startLabAgentNoWait starts the agent and returns at once.
func startLabAgentNoWait(t *testing.T, l *lab, extra ...string) (base string) {
	t.Helper()
	// The vendors rule flags the lab's interface (a Huawei MAC), so that
	// the runbook's device commands find it.
	return startLabAgentPolicy(t, l, labVendorsPol, extra...)
}

// startLabAgentPolicy starts the agent with the given policy and returns at
// once. Live flagged flows are reported only when they end unless extra
// sets --events.interval.
func startLabAgentPolicy(t *testing.T, l *lab, policy string, extra ...string) (base string) {
	t.Helper()
	dir := agentDir(t) // the policy is re-read by the agent once it is nobody
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(extra, "--events.interval") {
		extra = append(extra, "--events.interval", "0s")
	}
	args := append([]string{"netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(mgmtAgent, agentPort),
		"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation",
		"--config", pol, "--flow.idle-timeout", "1s",
		"--vendors.registry-dir", writeLabRegistry(t, dir)}, extra...)
	agent := exec.Command("ip", args...)
	var stderr bytes.Buffer
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", stderr.String())
		}
	})
	return "http://" + net.JoinHostPort(mgmtAgent, agentPort)
}

func getBody(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

type pathsBody struct {
	Paths []struct {
		Target  struct{ Name string }
		Reached bool
		Started time.Time
		Hops    []map[string]any
	}
}

// Tracing a flagged destination over UDP, TCP and ICMP, in IPv4 and IPv6,
// raises no traffic, flagged-flow metric or event: the probes and their
// replies are counted as probes only. The same agent checks the HTTP API:
// the landing page links only what answers, /api/v1/paths speaks the one
// JSON style, and the runbook's curl | jq commands work on its output.
func TestAgentProbesAreNotTraffic(t *testing.T) {
	l := newLab(t)
	base := startLabAgent(t, l, "--probe.interval", "2s", "--location", "DE",
		"--probe.target", "ru-udp="+peerRUv4, "--probe.target", "ru-icmp="+peerRUv4+"/icmp",
		"--probe.target", "ru-tcp="+peerRUv4+":9001/tcp", "--probe.target", "ru6-udp="+peerRUv6,
		"--probe.target", "ru6-icmp="+peerRUv6+"/icmp", "--probe.target", "ru6-tcp=["+peerRUv6+"]:9001/tcp")

	// Every trace reaches its destination in one hop; wait for traces that
	// started once capture ran (the first ones may run before).
	ready := time.Now()
	var paths pathsBody
	var raw []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, raw = getBody(t, base+"/api/v1/paths")
		paths = pathsBody{}
		if err := json.Unmarshal(raw, &paths); err != nil {
			t.Fatalf("/api/v1/paths: %v: %s", err, raw)
		}
		done := len(paths.Paths) == 6
		for _, p := range paths.Paths {
			done = done && p.Reached && p.Started.After(ready)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traces not all reached after 30s: %s", raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Past the idle timeout, any flow the probes had made would have ended.
	time.Sleep(2500 * time.Millisecond)
	m := scrape(t)
	for k, v := range m {
		// (The lab's own IPv6 neighbour discovery is traffic of class "special".)
		if v != 0 && !strings.HasPrefix(k, "jurismon_path_") && (strings.HasPrefix(k, "jurismon_flagged_") || strings.Contains(k, `country="RU"`) || strings.Contains(k, `asn="64501"`)) {
			t.Errorf("the agent's own probes were accounted as traffic: %s = %v", k, v)
		}
	}
	if n := m["jurismon_path_probe_captured_packets_total{}"]; n < 12 { // at least a probe and a reply per trace
		t.Errorf("jurismon_path_probe_captured_packets_total = %v, want the probes and their replies", n)
	}
	if code, body := getBody(t, base+"/api/v1/flagged-flows"); code != 200 || strings.TrimSpace(string(body)) != `{"events":[]}` {
		t.Errorf("/api/v1/flagged-flows after tracing: %d %s", code, body)
	}

	checkPathsJSON(t, raw)
	checkLandingLinks(t, base)

	// Real flagged traffic, for the runbook's commands to find.
	l.sendTraffic()
	waitEvents(t, base)
	checkRunbookCommands(t, base)
}

// checkPathsJSON: hops carry the snake_case location object of the event
// log and analyze, and every duration is an integer of nanoseconds.
func checkPathsJSON(t *testing.T, raw []byte) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k != strings.ToLower(k) {
					t.Errorf("%s.%s: not snake_case", path, k)
				}
				if strings.HasSuffix(k, "_ns") {
					if f, ok := x.(float64); !ok || f != float64(int64(f)) {
						t.Errorf("%s.%s = %v: want an integer of nanoseconds", path, k, x)
					}
				}
				if k == "min_rtt" || k == "rtt" {
					t.Errorf("%s.%s: a duration without its unit", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("", doc)
	var paths pathsBody
	json.Unmarshal(raw, &paths)
	want := []string{"address_class", "as_org", "asn", "continent", "country", "network", "registered_country"}
	for _, p := range paths.Paths {
		for _, h := range p.Hops {
			loc, ok := h["location"].(map[string]any)
			if !ok {
				t.Errorf("%s: hop without a location: %v", p.Target.Name, h)
				continue
			}
			keys := make([]string, 0, len(loc))
			for k := range loc {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, want) {
				t.Errorf("%s: hop location fields %v, want %v", p.Target.Name, keys, want)
			}
			if loc["address_class"] != "public" || loc["country"] != "RU" || loc["asn"] != float64(64501) {
				t.Errorf("%s: hop location %v", p.Target.Name, loc)
			}
			if _, ok := h["min_rtt_ns"]; !ok {
				t.Errorf("%s: no min_rtt_ns with --location set: %v", p.Target.Name, h)
			}
		}
	}
}

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

// checkLandingLinks: every link of the landing page answers 200.
func checkLandingLinks(t *testing.T, base string) {
	t.Helper()
	code, page := getBody(t, base+"/")
	if code != 200 {
		t.Fatalf("landing page: %d", code)
	}
	b, _ := url.Parse(base + "/")
	var links []string
	for _, m := range hrefRE.FindAllStringSubmatch(string(page), -1) {
		u, err := b.Parse(m[1])
		if err != nil {
			t.Errorf("link %q: %v", m[1], err)
			continue
		}
		if u.Host != b.Host {
			continue // documentation elsewhere
		}
		links = append(links, u.Path)
		if code, _ := getBody(t, u.String()); code != 200 {
			t.Errorf("landing page links %s, which answers %d", u, code)
		}
	}
	for _, want := range []string{"/metrics", "/api/v1/flagged-flows", "/api/v1/paths", "/-/healthy", "/-/ready"} {
		if !slices.Contains(links, want) {
			t.Errorf("landing page does not link %s (links: %v)", want, links)
		}
	}
}

func waitEvents(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body := getBody(t, base+"/api/v1/flagged-flows")
		if !bytes.Contains(body, []byte(`{"events":[]}`)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flagged flow after 15s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A documented command: curl of an agent endpoint, optionally into jq.
var curlRE = regexp.MustCompile("`curl (-s |-X POST )?http://HOST:9746(/[^ `]*)( \\| jq( '[^']*'| \\.)?)?`")

// checkRunbookCommands runs every `curl http://HOST:9746/... [| jq EXPR]`
// of the deploy documentation against the real agent: each endpoint answers
// 200, and each jq expression runs on the real output (with jq, which
// .ci/run installs) and, where it selects, finds the flagged flows.
func checkRunbookCommands(t *testing.T, base string) {
	t.Helper()
	jq := lookPathOrSkipJQ(t)
	docs, _ := filepath.Glob("../../deploy/*/*.md")
	docs = append(docs, "../../deploy/README.md", "../../README.md")
	n := 0
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := regexp.MustCompile(`\n\s*`).ReplaceAllString(string(data), " ") // commands wrap across lines
		for _, m := range curlRE.FindAllStringSubmatch(text, -1) {
			n++
			method, path, expr := http.MethodGet, m[2], strings.TrimSpace(m[4])
			if strings.Contains(m[1], "POST") {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, base+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: %s: %s %s answers %d", doc, m[0], method, path, resp.StatusCode)
				continue
			}
			if m[3] == "" {
				continue
			}
			expr = strings.Trim(expr, "'")
			if expr == "" {
				expr = "."
			}
			expr = strings.ReplaceAll(expr, "JURISDICTION", "sanctioned")            // the lab policy's
			expr = strings.ReplaceAll(expr, "VENDOR", "HUAWEI TECHNOLOGIES CO.,LTD") // the lab interface's maker
			cmd := exec.Command(jq, "-c", expr)
			cmd.Stdin = bytes.NewReader(body)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s: %s fails on the real output: %v\n%s\noutput was %s", doc, m[0], err, out, body)
				continue
			}
			if strings.Contains(expr, "select(") && !selectsLabCannotMake(expr) && !strings.Contains(string(out), `"jurisdiction":"sanctioned"`) {
				t.Errorf("%s: %s selects nothing from %s", doc, m[0], body)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d curl commands in the deploy documentation: the pattern no longer matches them", n)
	}
}

// selectsLabCannotMake reports whether a documented jq expression selects
// on what this lab has no source for: it must still run on the real output,
// but may select nothing here.
func selectsLabCannotMake(expr string) bool {
	// No resolver answers in this lab: TestAgentNamesFlows checks the
	// watched-domain events with a real dnsmasq.
	return strings.Contains(expr, ".watched_domain")
}

func lookPathOrSkipJQ(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("jq not installed (apt-get install jq; .ci/run installs it)")
	}
	return p
}
