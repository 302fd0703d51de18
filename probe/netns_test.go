//go:build linux

package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jurismon/jurismon/internal/netnstest"
)

// labProber opens a prober in the lab's agent namespace and a TCP
// listener on the target.
func labProber(t *testing.T, l *lab, opts Options) *Prober {
	t.Helper()
	var p *Prober
	if err := l.in("agent", func() (err error) { p, err = NewProber(opts); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for _, addr := range []string{net.JoinHostPort(labTarget4, "8443"), net.JoinHostPort(labTarget6, "8443")} {
		var ln net.Listener
		if err := l.in("target", func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return p
}

func addrs(tr *Trace) []string {
	var out []string
	for _, h := range tr.Hops {
		if h.Answered {
			out = append(out, h.Addr.String())
		} else {
			out = append(out, "*")
		}
	}
	return out
}

func TestNetnsTrace(t *testing.T) {
	l := newLab(t)
	p := labProber(t, l, Options{MaxTTL: 8, ProbeTimeout: 500 * time.Millisecond, ProbesPerSec: 1000, Burst: 50})
	via2 := map[bool][]string{
		true:  {"192.0.2.2", "192.0.2.6", labTarget4},
		false: {"2001:db8:1::2", "2001:db8:2::2", labTarget6},
	}
	via3 := map[bool][]string{
		true:  {"192.0.2.2", "192.0.2.14", labTarget4},
		false: {"2001:db8:1::2", "2001:db8:4::2", labTarget6},
	}
	type tc struct {
		method Method
		port   uint16
		dst    string
	}
	var cases []tc
	for _, dst := range []string{labTarget4, labTarget6} {
		cases = append(cases, tc{MethodUDP, 0, dst}, tc{MethodTCP, 8443, dst}, tc{MethodTCP, 9, dst}, tc{MethodICMP, 0, dst})
	}
	for _, route := range []string{"r2", "r3"} {
		if route == "r3" {
			l.switchToR3()
		}
		for _, c := range cases {
			t.Run(route+"/"+c.method.String()+"/"+c.dst, func(t *testing.T) {
				tr, err := p.TraceAddr(context.Background(), Target{Name: "lab", Host: c.dst, Port: c.port, Method: c.method}, netip.MustParseAddr(c.dst))
				if err != nil {
					t.Fatal(err)
				}
				want := via2[netip.MustParseAddr(c.dst).Is4()]
				if route == "r3" {
					want = via3[netip.MustParseAddr(c.dst).Is4()]
				}
				if got := addrs(tr); !slices.Equal(got, want) || !tr.Reached {
					t.Fatalf("hops %v reached %v, want %v reached", got, tr.Reached, want)
				}
				for _, h := range tr.Hops {
					if h.RTT <= 0 || h.RTT > 200*time.Millisecond {
						t.Errorf("hop %d RTT %v out of range", h.TTL, h.RTT)
					}
				}
			})
		}
	}
}

// labPlaces puts each router's answering addresses in a country and an AS;
// r2 is in RU, the flagged country.
var labPlaces = []place{
	{"192.0.2.0/30", "DE", 64501}, {"2001:db8:1::/64", "DE", 64501},
	{"192.0.2.4/30", "RU", 64502}, {"2001:db8:2::/64", "RU", 64502},
	{"192.0.2.12/30", "FR", 64503}, {"2001:db8:4::/64", "FR", 64503},
	{"203.0.113.0/24", "NL", 64504}, {"2001:db8:ff::/48", "NL", 64504},
}

func countries(tr *Trace) []string {
	var out []string
	for _, h := range tr.Answered() {
		out = append(out, h.Location.Country)
	}
	return out
}

// waitPaths waits until every target has a trace started after since.
func waitPaths(t *testing.T, s *Scheduler, n int, since time.Time) map[string]*Trace {
	t.Helper()
	var got map[string]*Trace
	netnstest.Eventually(t, 20*time.Second, func() error {
		got = map[string]*Trace{}
		for _, tr := range s.Paths() {
			if tr.Started.After(since) {
				got[tr.Target.Name] = tr
			}
		}
		if len(got) != n {
			return fmt.Errorf("fewer than %d traces after %v: %d", n, since, len(s.Paths()))
		}
		return nil
	})
	return got
}

// TestNetnsScheduledPaths runs the scheduler over the lab: countries of the
// hops, the flagged-transit metric, and a path change after r1 switches to
// r3.
func TestNetnsScheduledPaths(t *testing.T) {
	l := newLab(t)
	p := labProber(t, l, Options{
		MaxTTL: 8, ProbeTimeout: 500 * time.Millisecond, ProbesPerSec: 1000, Burst: 50,
		Locator: testResolver(t, labPlaces), Judge: countryJudge("RU"),
	})
	var targets []Target
	for _, fam := range []struct{ suffix, host string }{{"4", labTarget4}, {"6", labTarget6}} {
		targets = append(targets,
			Target{Name: "udp" + fam.suffix, Host: fam.host, Method: MethodUDP},
			Target{Name: "tcp" + fam.suffix, Host: fam.host, Port: 8443, Method: MethodTCP},
			Target{Name: "icmp" + fam.suffix, Host: fam.host, Method: MethodICMP})
	}
	var logBuf syncBuffer
	s, err := NewScheduler(p, SchedulerOptions{
		Targets: targets, Interval: time.Hour, Workers: 3,
		ChangeLog: slog.New(slog.NewJSONHandler(&logBuf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewCollector(s, p)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	start := time.Now().Add(-time.Millisecond)
	for name, tr := range waitPaths(t, s, len(targets), start) {
		if got, want := countries(tr), []string{"DE", "RU", "NL"}; !slices.Equal(got, want) || !tr.Reached {
			t.Errorf("%s: countries %v reached %v, want %v", name, got, tr.Reached, want)
		}
		if h := tr.Answered()[1]; !h.Flagged || h.Jurisdiction != "RU" {
			t.Errorf("%s: hop 2 %+v not flagged RU", name, h)
		}
	}
	var want strings.Builder
	want.WriteString("# HELP jurismon_path_flagged_transit Current paths that cross a flagged jurisdiction: 1 for a configured target; for target=\"auto\", the number of traffic-picked paths.\n# TYPE jurismon_path_flagged_transit gauge\n")
	for _, n := range []string{"icmp4", "icmp6", "tcp4", "tcp6", "udp4", "udp6"} {
		fmt.Fprintf(&want, "jurismon_path_flagged_transit{jurisdiction=\"RU\",target=%q} 1\n", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "jurismon_path_flagged_transit"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(metricOf(t, reg, "jurismon_path_hops", "udp4")); got != 3 {
		t.Errorf("jurismon_path_hops{target=udp4} = %v, want 3", got)
	}

	// Switch r1 to r3 (FR): every path changes AS sequence.
	l.switchToR3()
	switched := time.Now()
	s.Tick()
	for name, tr := range waitPaths(t, s, len(targets), switched) {
		if got, want := countries(tr), []string{"DE", "FR", "NL"}; !slices.Equal(got, want) {
			t.Errorf("%s after switch: countries %v, want %v", name, got, want)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(""), "jurismon_path_flagged_transit"); err != nil {
		t.Errorf("flagged transit after the switch: %v", err)
	}
	want.Reset()
	want.WriteString("# HELP jurismon_path_changes_total Changes of the sequence of responding ASNs on the path to a target.\n# TYPE jurismon_path_changes_total counter\n")
	for _, n := range []string{"icmp4", "icmp6", "tcp4", "tcp6", "udp4", "udp6"} {
		fmt.Fprintf(&want, "jurismon_path_changes_total{target=%q} 1\n", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "jurismon_path_changes_total"); err != nil {
		t.Fatal(err)
	}
	// One JSON line per change, naming the old and new AS paths.
	lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
	if len(lines) != len(targets) {
		t.Fatalf("%d change log lines, want %d:\n%s", len(lines), len(targets), logBuf.String())
	}
	for _, line := range lines {
		var rec struct {
			Msg      string   `json:"msg"`
			Target   string   `json:"target"`
			Previous []uint32 `json:"previous_asns"`
			ASNs     []uint32 `json:"asns"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if rec.Msg != "path changed" || !slices.Equal(rec.Previous, []uint32{64501, 64502, 64504}) || !slices.Equal(rec.ASNs, []uint32{64501, 64503, 64504}) {
			t.Errorf("change record %+v", rec)
		}
	}
	// The HTTP view.
	rec := httptest.NewRecorder()
	PathsHandler(s).ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/paths", nil))
	var body struct{ Paths []Trace }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Paths) != len(targets) {
		t.Fatalf("/api/v1/paths: %v, %d paths: %s", err, len(body.Paths), rec.Body.String())
	}
	if h := body.Paths[0].Hops[1]; h.Location == nil || h.Location.Country != "FR" || h.Location.ASN != 64503 {
		t.Errorf("/api/v1/paths hop 2: %+v", h)
	}
}

// metricOf returns the collected metric with the given name and target.
func metricOf(t *testing.T, reg *prometheus.Registry, name, target string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "target" && lp.GetValue() == target {
					return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return m.GetGauge().GetValue() })
				}
			}
		}
	}
	t.Fatalf("no %s{target=%q}", name, target)
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
