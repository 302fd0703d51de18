package flow

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/jurismon/jurismon/internal/netnstest"
)

// TestWatchHostAddrs: the first report carries the loopback address.
func TestWatchHostAddrs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan []netip.Addr, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchHostAddrs(ctx, time.Hour, func(a []netip.Addr) {
			select {
			case reports <- a:
			default:
			}
		})
	}()
	defer func() { cancel(); <-done }()
	select {
	case first := <-reports:
		if !slices.Contains(first, netip.MustParseAddr("127.0.0.1")) {
			t.Errorf("first report %v lacks 127.0.0.1", first)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no first report")
	}
}

// TestWatchHostAddrsNotified: in a namespace of its own, an address added
// is reported at once, by the netlink notification (the poll is an hour).
func TestWatchHostAddrsNotified(t *testing.T) {
	netnstest.Require(t)
	ns := fmt.Sprintf("jmflow-%d", os.Getpid())
	netnstest.Add(t, ns)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("link", "set", "lo", "up")
	ip("addr", "add", "192.0.2.1/24", "dev", "lo")

	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan []netip.Addr, 16)
	done := make(chan error, 1)
	go func() {
		// On the namespace's thread: the netlink socket and the address
		// listing both see the namespace.
		done <- netnstest.Run(ns, func() error {
			WatchHostAddrs(ctx, time.Hour, func(a []netip.Addr) { reports <- a })
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	next := func() []netip.Addr {
		t.Helper()
		select {
		case a := <-reports:
			return a
		case <-time.After(3 * time.Second):
			t.Fatal("no report within 3s")
			return nil
		}
	}
	first, added := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1")
	if got := next(); !slices.Contains(got, first) || slices.Contains(got, added) {
		t.Fatalf("first report %v: want %v and not %v", got, first, added)
	}
	ip("addr", "add", added.String()+"/24", "dev", "lo")
	if got := next(); !slices.Contains(got, first) || !slices.Contains(got, added) {
		t.Errorf("report after adding %v: %v", added, got)
	}
	// The env takes them as they come.
	env := testEnv(t)
	host := netip.MustParseAddr("203.0.113.7")
	if env.IsLocal(host) {
		t.Fatalf("%v is local before it is a host address", host)
	}
	env.SetHostAddrs([]netip.Addr{host})
	if !env.IsLocal(host) || env.IsLocal(netip.MustParseAddr("203.0.113.8")) {
		t.Error("IsLocal does not follow SetHostAddrs")
	}
}
