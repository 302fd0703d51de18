package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/exporter-toolkit/web"
)

// startWeb runs the agent's web server (limits, cross-site checks, the
// exporter-toolkit listener) on a free loopback port with a /metrics and a
// POST /-/reload that counts its calls.
func startWeb(t *testing.T, f webFlags) (addr string, reg *prometheus.Registry, reloads *int) {
	t.Helper()
	reg = prometheus.NewRegistry()
	reloads = new(int)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) { *reloads++; fmt.Fprintln(w, "Reloaded") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	var defaults webFlags
	app := kingpin.New("test", "")
	defaults.register(app.Command("run", "").Default())
	if _, err := app.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if f.maxConnections != 0 {
		defaults.maxConnections = f.maxConnections
	}
	defaults.allowedHosts = f.allowedHosts
	if err := defaults.check(); err != nil {
		t.Fatal(err)
	}
	ws := newWebServer(&defaults, mux, reg)
	addrs := []string{addr}
	systemd := false
	cfg := ""
	done := make(chan error, 1)
	go func() {
		done <- ws.serve(&web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &cfg}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { ws.srv.Close(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr, reg, reloads
}

func TestWebCrossSite(t *testing.T) {
	addr, reg, reloads := startWeb(t, webFlags{allowedHosts: []string{"jurismon.example"}})
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		name     string
		method   string
		path     string
		host     string
		header   map[string]string
		body     string
		want     int
		reloaded bool
	}{
		{"reload without a body", "POST", "/-/reload", "", nil, "", 200, true},
		{"reload from the agent's own page", "POST", "/-/reload", "", map[string]string{"Origin": "http://" + addr, "Sec-Fetch-Site": "same-origin"}, "", 200, true},
		{"reload from a foreign origin", "POST", "/-/reload", "", map[string]string{"Origin": "http://evil.example"}, "", 403, false},
		{"reload from a cross-site fetch", "POST", "/-/reload", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 403, false},
		{"reload as a form post", "POST", "/-/reload", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=b", 415, false},
		{"reload as a multipart form", "POST", "/-/reload", "", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "--x--", 415, false},
		{"reload as text/plain", "POST", "/-/reload", "", map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, "x", 415, false},
		{"reload with a JSON body", "POST", "/-/reload", "", map[string]string{"Content-Type": "application/json"}, "{}", 200, true},
		{"metrics by IP", "GET", "/metrics", "", nil, "", 200, false},
		{"metrics by localhost", "GET", "/metrics", "localhost:" + port, nil, "", 200, false},
		{"metrics by an allowed name", "GET", "/metrics", "Jurismon.Example.:" + port, nil, "", 200, false},
		{"metrics by a rebinding name", "GET", "/metrics", "rebind.evil.example:" + port, nil, "", 421, false},
		{"reload by a rebinding name", "POST", "/-/reload", "rebind.evil.example", nil, "", 421, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *reloads
			req, err := http.NewRequest(tt.method, "http://"+addr+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.body == "" {
				req.Body, req.ContentLength = nil, 0
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if got := *reloads > before; got != tt.reloaded {
				t.Errorf("reloaded: %v, want %v", got, tt.reloaded)
			}
		})
	}
	want := `# HELP jurismon_web_requests_refused_total HTTP requests refused by the cross-site checks, by reason (host, origin, content_type).
# TYPE jurismon_web_requests_refused_total counter
jurismon_web_requests_refused_total{reason="content_type"} 3
jurismon_web_requests_refused_total{reason="host"} 2
jurismon_web_requests_refused_total{reason="origin"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jurismon_web_requests_refused_total"); err != nil {
		t.Error(err)
	}
}

// TestWebIdleConnections holds ten times the cap in idle connections, as a
// neighbour exhausting the agent's file descriptors would: scrapes and
// reloads are still answered and the agent holds no more than the cap.
func TestWebIdleConnections(t *testing.T) {
	const max, idle = 50, 500
	addr, reg, reloads := startWeb(t, webFlags{maxConnections: max})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range idle {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 { // half have sent one keep-alive request
			fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		}
		conns = append(conns, c)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 20 {
		resp, err := client.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatalf("scrape %d behind %d idle connections: %v", i, idle, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "jurismon_web_connections ") {
			t.Fatalf("scrape %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, err := client.Post("http://"+addr+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != 200 || *reloads != 1 {
		t.Fatalf("reload at the cap: %v %v, %d reloads", resp, err, *reloads)
	}
	resp.Body.Close()
	open := gathered(t, reg, "jurismon_web_connections")
	evicted := gathered(t, reg, "jurismon_web_connections_evicted_total")
	if open > max || evicted < idle-max {
		t.Errorf("open %v (cap %d), evicted %v (want at least %d)", open, max, evicted, idle-max)
	}
}

// gathered returns the value of the unlabelled gauge or counter name.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

// TestRunMissingInterfaceIsDown runs the real agent on an interface that does not
// exist: it keeps running and retrying, exports jurismon_capture_up 0 for
// it, and /-/ready says which interface is down.
func TestRunMissingInterfaceIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stderr syncLog
	cmd := exec.Command(binary, "run", "-i", "nosuch0", "--web.listen-address", addr)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", stderr.String())
		}
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	var body string
	for {
		if resp, err := client.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if strings.Contains(body, `jurismon_capture_up{interface="nosuch0"} 0`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no jurismon_capture_up 0 for nosuch0; last scrape:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := client.Get("http://" + addr + "/-/ready")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "nosuch0") {
		t.Errorf("/-/ready: %d %q, want 503 naming nosuch0", resp.StatusCode, b)
	}
	time.Sleep(1500 * time.Millisecond) // a retry or two
	if cmd.ProcessState != nil {
		t.Fatalf("the agent exited: %v", cmd.ProcessState)
	}
	if !strings.Contains(stderr.String(), "capture stopped, retrying with backoff") {
		t.Errorf("no outage warning in the log")
	}
}

// syncLog collects a child process's output while the test reads it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
