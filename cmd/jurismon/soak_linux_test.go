package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jurismon/jurismon/geo/geotest"
)

// TestSoak runs the real agent in the test namespaces through the hostile
// conditions of issue 10 and prints one table row per case ("SOAK|case|
// figure|limit|ok"), which scripts/soak.sh collects. It runs only when
// JURISMON_SOAK is set (make soak); SOAK_SHORT=1 scales the cases down to
// fit CI (.ci/run).
func TestSoak(t *testing.T) {
	if os.Getenv("JURISMON_SOAK") == "" {
		t.Skip("the soak suite runs with JURISMON_SOAK=1 (make soak)")
	}
	short := os.Getenv("SOAK_SHORT") != ""
	scale := func(long, brief int) int {
		if short {
			return brief
		}
		return long
	}
	// Its own management link and addresses: other agent tests may run
	// meanwhile (they use jmm0 and 203.0.113.0/30).
	l := newLabWith(t, "jmsoak0", "203.0.113.5", "203.0.113.6")
	s := startSoakAgent(t, l)

	// 20,000 as in the issue, within this process's open-file limit
	// (which it cannot raise in some containers).
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	t.Run("idle HTTP connections", func(t *testing.T) { soakIdle(t, s, min(scale(20000, 5000), int(lim.Cur)-500)) })
	t.Run("SIGHUP while scraping", func(t *testing.T) { soakHUP(t, s, scale(200, 200)) })
	t.Run("bad files on reload", func(t *testing.T) { soakBadReload(t, s) })
	t.Run("interface deleted and re-created", func(t *testing.T) { soakFlap(t, l, s, 5) })
	loadgen := buildLoadgen(t)
	t.Run("privileges after the switch", func(t *testing.T) { soakPrivileges(t, l) })
	t.Run("events file on a full tmpfs", func(t *testing.T) { soakFullDisk(t, l) })
	t.Run("collision flood", func(t *testing.T) {
		soakFlood(t, l, s, loadgen, time.Duration(scale(30, 5))*time.Second, scale(16, 14))
	})
	t.Run("scan of distinct addresses", func(t *testing.T) {
		soakScan(t, l, s, loadgen, time.Duration(scale(60, 15))*time.Second)
	})
	// Last: it stops the agent.
	t.Run("SIGTERM with flagged flows open", func(t *testing.T) { soakTerm(t, l, s, loadgen, 5000) })
}

func buildLoadgen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jurismon-loadgen")
	build := exec.Command("go", "build", "-o", bin, "../jurismon-loadgen")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building jurismon-loadgen: %v\n%s", err, out)
	}
	return bin
}

// soakFlood sends 50,000 UDP flows whose ports collide in the flow table's
// old unkeyed hash (16 bits shared; 14 in the short form, to keep the
// loadgen's search short) at 100k packets/s: with a keyed hash the kernel
// drops nothing, as with random ports.
func soakFlood(t *testing.T, l *lab, s *soakAgent, loadgen string, d time.Duration, bits int) {
	const rate, flows = 100000, 50000
	kernel := `jurismon_capture_drops_total{interface="jma0",stage="kernel"}`
	freezes := `jurismon_capture_ring_freezes_total{interface="jma0"}`
	before := mustGet(t, s, "/metrics")
	out, err := exec.Command("ip", "netns", "exec", l.b, loadgen, "-i", "jmb0", "-collide", strconv.Itoa(flows), "-collide-bits", strconv.Itoa(bits),
		"-rate", strconv.Itoa(rate), "-duration", d.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	time.Sleep(1500 * time.Millisecond)
	after := mustGet(t, s, "/metrics")
	drops := value(after, kernel) - value(before, kernel)
	frz := value(after, freezes) - value(before, freezes)
	sent := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(sent, '\n'); i >= 0 {
		sent = sent[i+1:]
	}
	row(t, fmt.Sprintf("collision flood: %d flows sharing %d bits of the old flow hash at %d packets/s for %s", flows, bits, rate, d),
		fmt.Sprintf("%.0f kernel drops, %.0f ring freezes (%s)", drops, frz, sent), "0 drops", drops == 0)
}

// soakPrivileges runs an agent that rotates its event file every few
// events and checks, once it has become nobody, its credentials in
// /proc/PID/status and that rotation still works. Process attribution is
// off: with it, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH are kept as well, to
// read other users' /proc/PID/fd (README, "Required capabilities").
func soakPrivileges(t *testing.T, l *lab) {
	dir := agentDir(t)
	s := startSoakAgentOn(t, l, "9748", filepath.Join(dir, "events.jsonl"),
		"--events.interval", "1s", "--flow.idle-timeout", "2s", "--events.max-size", "1024", "--events.max-files", "2",
		"--no-attribution.processes")
	to, _ := resolveRunAs("nobody")
	var st map[string]string
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		st = procStatus(t, string(b))
		if strings.HasPrefix(st["Uid"], strconv.Itoa(to.uid)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	nr := fmt.Sprintf("%016x", uint64(1)<<unix.CAP_NET_RAW)
	credsOK := st["Uid"] == strings.TrimSpace(strings.Repeat(strconv.Itoa(to.uid)+" ", 4)) && st["CapEff"] == nr && st["CapPrm"] == nr &&
		st["CapBnd"] == nr && st["CapInh"] == "0000000000000000" && st["CapAmb"] == "0000000000000000" && st["NoNewPrivs"] == "1"
	rotated := filepath.Join(dir, "events.jsonl.1")
	for i := 0; i < 10; i++ {
		if _, err := os.Stat(rotated); err == nil {
			break
		}
		l.sendTraffic()
		time.Sleep(1200 * time.Millisecond)
	}
	var owner string
	if fi, err := os.Stat(filepath.Join(dir, "events.jsonl")); err == nil {
		owner = strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
	}
	_, rerr := os.Stat(rotated)
	row(t, "privileges once capture runs",
		fmt.Sprintf("Uid %s, CapEff %s, CapBnd %s, NoNewPrivs %s; event file rotated: %v, new file owned by uid %s", st["Uid"], st["CapEff"], st["CapBnd"], st["NoNewPrivs"], rerr == nil, owner),
		"nobody, CAP_NET_RAW only, rotation works", credsOK && rerr == nil && owner == strconv.Itoa(to.uid))
}

// soakFullDisk runs a second agent whose event file is on a small tmpfs,
// fills it, sends flagged traffic, frees it and sends more: no line may be
// broken, the drops are counted and writing resumes.
func soakFullDisk(t *testing.T, l *lab) {
	mnt := filepath.Join(agentDir(t), "tmpfs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	to, _ := resolveRunAs("nobody")
	run1(t, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=256k,mode=0755,uid=%d,gid=%d", to.uid, to.gid), "tmpfs", mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	s := startSoakAgentOn(t, l, "9747", filepath.Join(mnt, "events.jsonl"), "--events.interval", "1s", "--flow.idle-timeout", "2s")
	l.sendTraffic()
	time.Sleep(2500 * time.Millisecond)
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break // ENOSPC: full
		}
	}
	// Fill the last partial block too.
	for {
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	f.Close()
	written := func() float64 { return value(mustGet(t, s, "/metrics"), "jurismon_events_written_total") }
	dropped := func() float64 {
		return value(mustGet(t, s, "/metrics"), `jurismon_events_dropped_total{reason="write_error"}`)
	}
	for range 3 {
		l.sendTraffic()
		time.Sleep(1200 * time.Millisecond)
	}
	lost := dropped()
	os.Remove(filler)
	before := written()
	l.sendTraffic()
	deadline := time.Now().Add(10 * time.Second)
	for written() <= before && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	recovered := written() > before
	data, err := os.ReadFile(s.events)
	if err != nil {
		t.Fatal(err)
	}
	broken := 0
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for _, line := range lines {
		if !json.Valid([]byte(line)) {
			broken++
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		broken++
	}
	row(t, "events file on a full tmpfs", fmt.Sprintf("%d lines, %d broken, %.0f events dropped and counted, writing resumed: %v", len(lines), broken, lost, recovered),
		"0 broken, drops counted, recovery", broken == 0 && lost > 0 && recovered)
}

// rssCapMB is the documented peak RSS of the agent under the scan (README,
// reliability): the flow table, the aggregates, the geo cache, the passive
// DNS map and the device and tunnel inventories are capped, so the figure
// does not grow with the number of addresses. The scan measured 198 MB
// before the enrichers' state (facts and verdicts per flow, the DNS map)
// landed, and 250–256 MB after.
const rssCapMB = 320

func soakScan(t *testing.T, l *lab, s *soakAgent, loadgen string, d time.Duration) {
	const rate = 50000
	kernel := `jurismon_capture_drops_total{interface="jma0",stage="kernel"}`
	dropsBefore := value(mustGet(t, s, "/metrics"), kernel)
	out, err := exec.Command("ip", "netns", "exec", l.b, loadgen, "-i", "jmb0", "-scan", "-rate", strconv.Itoa(rate),
		"-duration", d.String(), "-flows", "4096").CombinedOutput()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	time.Sleep(1500 * time.Millisecond) // a publish interval
	body := mustGet(t, s, "/metrics")
	series := 0
	for _, line := range strings.Split(body, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			series++
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	hwm := procStatus(t, string(status))["VmHWM"] // "123456 kB"
	kb, _ := strconv.Atoi(strings.Fields(hwm + " 0")[0])
	drops := value(body, kernel) - dropsBefore
	// One frame in five is IPv6, each to a new address.
	row(t, fmt.Sprintf("scan of about %d distinct addresses in %s", rate*int(d.Seconds())/5, d),
		fmt.Sprintf("peak RSS %d MB, %d series, %.0f kernel drops (%s)", kb/1024, series, drops, strings.TrimSpace(string(out))),
		fmt.Sprintf("RSS < %d MB, series < 5000", rssCapMB), kb/1024 < rssCapMB && series < 5000)
}

// soakTerm opens many flagged flows (loadgen flows from 192.0.2.128/25,
// Russia in the test database), then stops the agent: every flagged flow
// still open must be written to the event log.
func soakTerm(t *testing.T, l *lab, s *soakAgent, loadgen string, flows int) {
	out, err := exec.Command("ip", "netns", "exec", l.b, loadgen, "-i", "jmb0", "-rate", "20000",
		"-duration", "3s", "-flows", strconv.Itoa(2*flows)).CombinedOutput()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	time.Sleep(1500 * time.Millisecond)
	body := mustGet(t, s, "/metrics")
	var flagged float64
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "jurismon_flagged_flows_total{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			flagged += v
		}
	}
	eventsFile := s.events
	before := countLines(t, eventsFile)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	// Flows evicted or ended before the signal were written then.
	open := int(flagged) - before
	written := countLines(t, eventsFile) - before
	row(t, fmt.Sprintf("SIGTERM with %d flagged flows open", open), fmt.Sprintf("%d final events written", written),
		"all written", written >= open && open >= flows/2)
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

type soakAgent struct {
	cmd       *exec.Cmd
	base      string
	dir       string
	countryDB string
	policy    string
	events    string
	log       *syncLog
}

func startSoakAgent(t *testing.T, l *lab) *soakAgent {
	t.Helper()
	return startSoakAgentOn(t, l, agentPort, "")
}

// startSoakAgentOn starts an agent listening on port; eventsFile empty
// means events.jsonl in its directory, with events only when flows end.
func startSoakAgentOn(t *testing.T, l *lab, port, eventsFile string, extra ...string) *soakAgent {
	t.Helper()
	// The client side holds tens of thousands of sockets.
	lim := unix.Rlimit{Cur: 65536, Max: 65536}
	_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim) // best effort: see the idle case
	dir := agentDir(t)
	s := &soakAgent{dir: dir, countryDB: filepath.Join(dir, "country.mmdb"), policy: filepath.Join(dir, "policy.yml"), log: &syncLog{}}
	copyFile(t, geotest.CountryFile, s.countryDB)
	asnDB := filepath.Join(dir, "asn.mmdb")
	copyFile(t, geotest.ASNFile, asnDB)
	for _, f := range []string{s.countryDB, asnDB} {
		os.Chmod(f, 0o644)
	}
	if err := os.WriteFile(s.policy, []byte(labPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	s.base = "http://" + net.JoinHostPort(l.agentIP, port)
	if eventsFile == "" {
		eventsFile = filepath.Join(dir, "events.jsonl")
		extra = append(extra, "--events.interval", "0s", "--flow.idle-timeout", "10m")
	}
	s.events = eventsFile
	s.cmd = exec.Command("ip", append([]string{"netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(l.agentIP, port),
		"--geoip.country", s.countryDB, "--geoip.asn", asnDB, "--geoip.lookup-documentation",
		"--config", s.policy, "--events.file", eventsFile, "--log.level", "info"}, extra...)...)
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", s.log.String())
		}
	})
	waitHTTP(t, s.base+"/-/ready", 15*time.Second)
	return s
}

// row prints one line of the soak table.
func row(t *testing.T, name, figure, limit string, ok bool) {
	t.Helper()
	res := "pass"
	if !ok {
		res = "FAIL"
		t.Errorf("%s: %s (limit %s)", name, figure, limit)
	}
	fmt.Printf("SOAK|%s|%s|%s|%s\n", name, figure, limit, res)
}

func (s *soakAgent) fds(t *testing.T) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// get scrapes path with a fresh connection and its own deadline.
func (s *soakAgent) get(path string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(s.base + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// value returns the value of one series in a scrape ("name" or
// `name{labels}` as exposed), or -1.
func value(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func soakIdle(t *testing.T, s *soakAgent, n int) {
	fdsBefore := s.fds(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := net.Dialer{Timeout: 5 * time.Second}
	for i := range n {
		c, err := d.Dial("tcp", s.base[len("http://"):])
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if i%2 == 1 {
			fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n", s.base[len("http://"):]) // headers never finished
		}
		conns = append(conns, c)
	}
	failed := 0
	var body string
	for range 20 {
		b, err := s.get("/metrics")
		if err != nil {
			failed++
			continue
		}
		body = b
	}
	peak := s.fds(t)
	row(t, fmt.Sprintf("%d idle HTTP connections", n), fmt.Sprintf("%d/20 scrapes failed, agent fds %d→%d, %.0f evicted", failed, fdsBefore, peak, value(body, "jurismon_web_connections_evicted_total")),
		"0 failed, fds < 600", failed == 0 && peak < 600)
	resp, err := http.Post(s.base+"/-/reload", "", nil)
	ok := err == nil && resp.StatusCode == 200
	if resp != nil {
		resp.Body.Close()
	}
	row(t, "POST /-/reload at the connection cap", fmt.Sprintf("reloaded: %v", ok), "answered", ok)
}

func soakHUP(t *testing.T, s *soakAgent, n int) {
	// Let the idle case's connections drain first.
	time.Sleep(500 * time.Millisecond)
	before, err := s.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	fdsBefore := s.fds(t)
	var scrapes, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.get("/metrics"); err != nil {
					failed.Add(1)
					t.Log(err)
				}
				scrapes.Add(1)
			}
		})
	}
	for range n {
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	time.Sleep(200 * time.Millisecond)
	after, err := s.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	fdsAfter := s.fds(t)
	g0, g1 := value(before, "go_goroutines"), value(after, "go_goroutines")
	ok := failed.Load() == 0 && fdsAfter <= fdsBefore+2 && g1 <= g0+5
	row(t, fmt.Sprintf("%d SIGHUPs while scraping", n), fmt.Sprintf("%d/%d scrapes failed, fds %d→%d, goroutines %.0f→%.0f", failed.Load(), scrapes.Load(), fdsBefore, fdsAfter, g0, g1),
		"0 failed, no growth", ok)
}

func soakBadReload(t *testing.T, s *soakAgent) {
	good, err := os.ReadFile(s.countryDB)
	if err != nil {
		t.Fatal(err)
	}
	goodPolicy, _ := os.ReadFile(s.policy)
	cases := []struct {
		name string
		file string
		data []byte
	}{
		{"empty .mmdb", s.countryDB, nil},
		{"truncated .mmdb", s.countryDB, good[:len(good)/2]},
		{"garbage .mmdb", s.countryDB, []byte(strings.Repeat("not a database ", 100))},
		{"metadata only", s.countryDB, good[len(good)-200:]},
		{"policy syntax", s.policy, []byte("jurisdictions: [\n")},
		{"policy unknown field", s.policy, []byte("jurisdictions:\n  - name: x\n    countries: [RU]\n    colour: red\n")},
		{"policy unknown country", s.policy, []byte("jurisdictions:\n  - name: x\n    countries: [XX]\n")},
	}
	failedBefore := value(mustGet(t, s, "/metrics"), "jurismon_config_reload_failures_total")
	kept := 0
	for _, c := range cases {
		if err := os.WriteFile(c.file, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(s.base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		body := mustGet(t, s, "/metrics")
		if resp.StatusCode != 200 && value(body, "jurismon_config_last_reload_successful") == 0 && value(body, "jurismon_geo_database_info{database=\"country\",source=\""+s.countryDB+"\",type=\"GeoLite2-Country\"}") != 0 {
			kept++
		} else {
			t.Logf("%s: reload answered %d", c.name, resp.StatusCode)
		}
		// Put the good file back before the next case.
		orig := good
		if c.file == s.policy {
			orig = goodPolicy
		}
		if err := os.WriteFile(c.file, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	body := mustGet(t, s, "/metrics")
	counted := value(body, "jurismon_config_reload_failures_total") - failedBefore
	resp, err := http.Post(s.base+"/-/reload", "", nil)
	recovered := err == nil && resp.StatusCode == 200
	if resp != nil {
		resp.Body.Close()
	}
	row(t, fmt.Sprintf("%d bad .mmdb files and policies on reload", len(cases)), fmt.Sprintf("%d refused with the last good state serving, %.0f counted, good reload after: %v", kept, counted, recovered),
		"all refused and counted", kept == len(cases) && int(counted) >= len(cases) && recovered)
}

func mustGet(t *testing.T, s *soakAgent, path string) string {
	t.Helper()
	b, err := s.get(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func soakFlap(t *testing.T, l *lab, s *soakAgent, n int) {
	var worst time.Duration
	ok := true
	for i := range n {
		run1(t, "ip", "netns", "exec", l.a, "ip", "link", "del", "jma0")
		soakWait(t, s, `jurismon_capture_up{interface="jma0"}`, 0, 5*time.Second)
		time.Sleep(time.Second) // down for a second, as a flapping link or a re-created tunnel
		l.recreateVeth()
		back := time.Now()
		soakWait(t, s, `jurismon_capture_up{interface="jma0"}`, 1, 10*time.Second)
		d := time.Since(back)
		worst = max(worst, d)
		if d > 2*time.Second {
			ok = false
		}
		before := value(mustGet(t, s, "/metrics"), `jurismon_capture_packets_total{interface="jma0"}`)
		l.sendTraffic()
		soakWaitAbove(t, s, `jurismon_capture_packets_total{interface="jma0"}`, before, 5*time.Second)
		_ = i
	}
	restarts := value(mustGet(t, s, "/metrics"), `jurismon_capture_restarts_total{interface="jma0"}`)
	row(t, fmt.Sprintf("interface deleted and re-created %d times", n), fmt.Sprintf("back within %s at worst, %.0f restarts counted, traffic captured after each", worst.Round(10*time.Millisecond), restarts),
		"2s each", ok && int(restarts) == n)
}

func soakWait(t *testing.T, s *soakAgent, series string, want float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := s.get("/metrics"); err == nil && value(b, series) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never %v", series, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func soakWaitAbove(t *testing.T, s *soakAgent, series string, than float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := s.get("/metrics"); err == nil && value(b, series) > than {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never above %v", series, than)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
