//go:build linux

package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jurismon/jurismon/internal/netnstest"
	"github.com/jurismon/jurismon/latency"
	"golang.org/x/sys/unix"
)

// errNoTUN says the kernel has no TUN device to give.
var errNoTUN = errors.New("no TUN device")

// openTUN creates TUN device name in namespace n (no packet info header).
func (l *lab) openTUN(n, name string) *os.File {
	l.t.Helper()
	var f *os.File
	err := l.in(n, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%w: %v", errNoTUN, err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %v", name, err)
		}
		// Non-blocking, so the runtime poller serves reads and Close
		// ends them.
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	})
	if errors.Is(err, errNoTUN) {
		l.t.Skip(err)
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return f
}

// delayLink joins namespaces na and nb by two TUN devices and a
// userspace forwarder that holds every packet for delay in each
// direction: the kernel here has no netem.
func (l *lab) delayLink(na, ia, nb, ib, a4, b4, a6, b6 string, delay time.Duration) {
	l.t.Helper()
	fa, fb := l.openTUN(na, ia), l.openTUN(nb, ib)
	var wg sync.WaitGroup
	forward := func(from, to *os.File) {
		type pkt struct {
			at   time.Time
			data []byte
		}
		q := make(chan pkt, 256)
		wg.Go(func() {
			defer close(q)
			buf := make([]byte, 65536)
			for {
				n, err := from.Read(buf)
				if err != nil {
					return
				}
				select {
				case q <- pkt{time.Now(), append([]byte(nil), buf[:n]...)}:
				default: // full: drop, as a real link would
				}
			}
		})
		wg.Go(func() {
			for p := range q {
				time.Sleep(time.Until(p.at.Add(delay)))
				_, _ = to.Write(p.data)
			}
		})
	}
	forward(fa, fb)
	forward(fb, fa)
	l.t.Cleanup(func() { fa.Close(); fb.Close(); wg.Wait() })
	for _, side := range []struct{ ns, dev, a4, a6 string }{{na, ia, a4, a6}, {nb, ib, b4, b6}} {
		l.ip("-n", l.ns(side.ns), "addr", "add", side.a4, "dev", side.dev)
		l.ip("-n", l.ns(side.ns), "addr", "add", side.a6, "dev", side.dev, "nodad")
		l.ip("-n", l.ns(side.ns), "link", "set", side.dev, "up")
	}
}

// TestNetnsPlausibility adds a far router behind a 20 ms (each way) link
// from r2 and checks the RTTs and the plausibility verdicts of the hops,
// the agent being in Frankfurt.
//
//	agent ─ r1 (DE) ─ r2 (JP!) ═20ms═ far (EG) 198.51.100.2 / 2001:db8:6::2
func TestNetnsPlausibility(t *testing.T) {
	l := newLab(t)
	netnstest.Add(t, l.ns("far"))
	l.exec("far", "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0")
	l.delayLink("r2", "r2far", "far", "farr2", "198.51.100.1/30", "198.51.100.2/30", "2001:db8:6::1/64", "2001:db8:6::2/64", 20*time.Millisecond)
	l.ip("-n", l.ns("r1"), "route", "add", "198.51.100.0/30", "via", "192.0.2.6")
	l.ip("-n", l.ns("r1"), "-6", "route", "add", "2001:db8:6::/64", "via", "2001:db8:2::2")
	l.ip("-n", l.ns("far"), "route", "add", "default", "dev", "farr2")
	l.ip("-n", l.ns("far"), "-6", "route", "add", "default", "dev", "farr2")
	time.Sleep(time.Second) // the new links settle, as in newLab

	places := []place{
		{"192.0.2.0/30", "DE", 64501}, {"2001:db8:1::/64", "DE", 64501},
		{"192.0.2.4/30", "JP", 64502}, {"2001:db8:2::/64", "JP", 64502}, // 0.1 ms from Frankfurt: impossible
		{"198.51.100.0/30", "EG", 64505}, {"2001:db8:6::/64", "EG", 64505}, // 40 ms: possible
	}
	frankfurt := latency.LatLon{Lat: 50.11, Lon: 8.68}
	p := labProber(t, l, Options{
		MaxTTL: 6, ProbeTimeout: time.Second, ProbesPerSec: 1000, Burst: 50,
		Locator: testResolver(t, places), Judge: countryJudge(), Origin: latency.Origin{Point: &frankfurt},
	})
	minJP, _ := latency.MinRTT(frankfurt, "JP")
	minEG, _ := latency.MinRTT(frankfurt, "EG")
	t.Logf("minimum RTT from Frankfurt: JP %v, EG %v", minJP, minEG)
	for _, dst := range []string{"198.51.100.2", "2001:db8:6::2"} {
		tr, err := p.TraceAddr(context.Background(), Target{Name: "far", Host: dst, Method: MethodICMP}, netip.MustParseAddr(dst))
		if err != nil {
			t.Fatal(err)
		}
		hops := tr.Answered()
		if !tr.Reached || len(hops) != 3 {
			t.Fatalf("%s: hops %v reached %v", dst, addrs(tr), tr.Reached)
		}
		r1, r2, far := hops[0], hops[1], hops[2]
		t.Logf("%s: r1 %v, r2 %v, far %v", dst, r1.RTT, r2.RTT, far.RTT)
		if far.RTT < 40*time.Millisecond || far.RTT > 200*time.Millisecond {
			t.Errorf("%s: far hop RTT %v, want 40ms (the delay link) plus little", dst, far.RTT)
		}
		if r2.RTT > 10*time.Millisecond {
			t.Errorf("%s: r2 RTT %v, want under 10ms", dst, r2.RTT)
		}
		if r1.Implausible || !r2.Implausible || far.Implausible {
			t.Errorf("%s: implausible r1 %v (DE), r2 %v (JP), far %v (EG); want false, true, false", dst, r1.Implausible, r2.Implausible, far.Implausible)
		}
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewCollector(nil, p)); err != nil {
		t.Fatal(err)
	}
	want := `# HELP jurismon_path_implausible_hops_total Hops whose RTT is below the physical minimum for the country the database claims.
# TYPE jurismon_path_implausible_hops_total counter
jurismon_path_implausible_hops_total{country="JP"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jurismon_path_implausible_hops_total"); err != nil {
		t.Fatal(err)
	}
}
