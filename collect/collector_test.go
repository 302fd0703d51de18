package collect

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/policy"
)

// A Collector over real sockets, IPv4 and IPv6: the template learnt from
// one exporter before a restart reads its data after it, from the state
// file.
func TestCollectorRestart(t *testing.T) {
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	pol, err := policy.Parse([]byte("jurisdictions:\n  - name: sanctioned\n    countries: [RU]\n"))
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "templates.json")
	rec := testRecord{src: local, dst: remoteRU, sport: 40000, dport: 443, proto: 6, bytes: 1500, packets: 3, in: 2, out: 1, firstMs: 10_000, lastMs: 12_000}
	run := func(send func(v4, v6 *net.UDPConn)) (*Collector, *flow.Worker) {
		cfg := flow.DefaultConfig()
		w := flow.NewWorker(flow.NewAccountant(flow.NewEnv(geotest.Resolver(t), pol, true), cfg), false)
		c, err := New(Options{Listen: []string{"127.0.0.1:0", "[::1]:0"}, StateFile: state, QueueSize: 16}, []*flow.Worker{w})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		addrs := c.Addrs()
		v4, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addrs[0]))
		if err != nil {
			t.Fatal(err)
		}
		defer v4.Close()
		v6, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addrs[1]))
		if err != nil {
			t.Fatal(err)
		}
		defer v6.Close()
		send(v4, v6)
		deadline := time.Now().Add(5 * time.Second)
		for c.stats[0].received.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // decoded after received
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		w.Flush()
		return c, w
	}
	// Before: the template over IPv6, a v5 datagram over IPv4.
	c, w := run(func(v4, v6 *net.UDPConn) {
		if _, err := v6.Write(v9(100_000, secs, 1, templateSet(0, 256, v4Template(false, false)))); err != nil {
			t.Fatal(err)
		}
		if _, err := v4.Write(v5(100_000, secs, 0, rec)); err != nil {
			t.Fatal(err)
		}
	})
	if got := w.Acct.Totals.Bytes[flow.Egress]; got != 1500 {
		t.Errorf("egress bytes = %d, want 1500 (the v5 record)", got)
	}
	if _, n := c.tmpl.count(); n != 1 {
		t.Errorf("%d templates, want 1", n)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state file after the stop: %v", err)
	}
	// After: only data, over IPv6 from the same exporter (::1).
	_, w = run(func(v4, v6 *net.UDPConn) {
		if _, err := v6.Write(v9(100_000, secs, 1, dataSet(256, false, false, rec, rec))); err != nil {
			t.Fatal(err)
		}
		if _, err := v4.Write([]byte{0, 99, 0, 0}); err != nil {
			t.Fatal(err)
		}
	})
	if got := w.Acct.Totals.Bytes[flow.Egress]; got != 3000 {
		t.Errorf("egress bytes after the restart = %d, want 3000: the template from the state file", got)
	}
}
