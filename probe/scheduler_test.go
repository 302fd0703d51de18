package probe

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// countingTracer records the destinations it is asked to trace.
type countingTracer struct {
	mu   sync.Mutex
	dsts []netip.Addr
}

func (c *countingTracer) TraceAddr(_ context.Context, t Target, dst netip.Addr) (*Trace, error) {
	c.mu.Lock()
	c.dsts = append(c.dsts, dst)
	c.mu.Unlock()
	return &Trace{Target: t, Dst: dst, Started: time.Now()}, nil
}

func TestObserveDedupAndBounds(t *testing.T) {
	s, err := NewScheduler(&countingTracer{}, SchedulerOptions{Auto: true, Queue: 8, MaxPrefixes: 16, LookupDocumentation: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{
		"203.0.113.1", "203.0.113.200", // one /24
		"198.51.100.1",
		"2001:db8:1:2::1", "2001:db8:1:ffff::1", // one /48
		"2001:db8:2::1",
		"10.0.0.1", "127.0.0.1", "fe80::1", "224.0.0.1", // never traced
	} {
		s.Observe(netip.MustParseAddr(a), 100)
	}
	if got := len(s.queue); got != 4 {
		t.Fatalf("%d jobs queued, want 4 (2 IPv4 /24s, 2 IPv6 /48s)", got)
	}
	// A flood of new prefixes: the queue and the memory stay bounded, and
	// the rest is dropped and counted.
	for i := range 200 {
		s.Observe(netip.AddrFrom4([4]byte{198, 51, 100, 0}).Next(), 1) // same /24 as before
		s.Observe(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i), 1}), 1)
	}
	if len(s.queue) != 8 || s.dropped.Load() == 0 || len(s.prefixes) > 16 {
		t.Fatalf("queue %d (cap 8), dropped %d, prefixes %d (max 16)", len(s.queue), s.dropped.Load(), len(s.prefixes))
	}
}

func TestAutoRateLimit(t *testing.T) {
	tr := &countingTracer{}
	// 3600 an hour = 1 a second with a burst of 60: count, not time.
	s, err := NewScheduler(tr, SchedulerOptions{Auto: true, AutoPerHour: 3600, Queue: 200, MaxPrefixes: 1000, LookupDocumentation: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.auto.now = func() time.Time { return now }
	for i := range 100 {
		s.Observe(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i), 1}), 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s.work(ctx) // the fake clock never advances: only the burst goes through
	tr.mu.Lock()
	n := len(tr.dsts)
	tr.mu.Unlock()
	if n != 60 {
		t.Fatalf("%d auto traces with a burst of 60 and no time passing", n)
	}
}

func TestSchedulerRejects(t *testing.T) {
	for name, o := range map[string]SchedulerOptions{
		"unnamed":      {Targets: []Target{{Host: "192.0.2.1", Method: MethodICMP}}},
		"auto name":    {Targets: []Target{{Name: "auto", Host: "192.0.2.1", Method: MethodICMP}}},
		"duplicate":    {Targets: []Target{{Name: "a", Host: "192.0.2.1", Method: MethodICMP}, {Name: "a", Host: "192.0.2.2", Method: MethodICMP}}},
		"tcp no port":  {Targets: []Target{{Name: "a", Host: "192.0.2.1", Method: MethodTCP}}},
		"no method":    {Targets: []Target{{Name: "a", Host: "192.0.2.1"}}},
		"short period": {Interval: time.Millisecond},
	} {
		if _, err := NewScheduler(&countingTracer{}, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestASPathChange(t *testing.T) {
	s, err := NewScheduler(&countingTracer{}, SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(asns ...uint32) *Trace {
		tr := &Trace{Target: Target{Name: "x"}}
		for i, a := range asns {
			tr.Hops = append(tr.Hops, Hop{TTL: i + 1, Answered: true, Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), Location: locWithASN(a)})
		}
		return tr
	}
	for _, c := range []struct {
		tr   *Trace
		want uint64
	}{
		{mk(1, 1, 2, 3), 0},
		{mk(1, 2, 2, 3), 0}, // other routers, same AS sequence
		{mk(1, 0, 2, 3), 0}, // an unknown AS is not a change
		{mk(1, 4, 3), 1},
		{&Trace{Target: Target{Name: "x"}}, 1}, // nothing answered: not a change
		{mk(1, 4, 3), 1},
	} {
		s.record("k", c.tr)
		if got := s.changeCounts()["x"]; got != c.want {
			t.Fatalf("after %v: %d changes, want %d", asPath(c.tr), got, c.want)
		}
	}
}
