package flow

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/jurismon/jurismon/capture"
)

// TestAddAheadSameAsAdd: the pipeline changes when packets are accounted,
// never what: over random traffic with evictions and expiry, AddAhead and
// Add give the same aggregates, totals and counts.
func TestAddAheadSameAsAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var packets []capture.Packet
	for i := range 20000 {
		remote := netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(256))})
		p := pkt(0, "10.0.0.1", remote.String(), 17, uint16(r.IntN(50)), 53, uint32(40+r.IntN(1400)))
		if r.IntN(2) == 0 {
			p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		}
		p.Timestamp = int64(i) * 10_000_000 // 10 ms apart: some flows expire
		packets = append(packets, p)
	}
	run := func(ahead bool) (*Accountant, []groupWant) {
		cfg := DefaultConfig()
		cfg.MaxFlows = 500 // evictions too
		cfg.IdleTimeout = 20_000_000_000
		a := NewAccountant(testEnv(t), cfg)
		for i := range packets {
			if ahead {
				a.AddAhead(&packets[i])
			} else {
				a.Add(&packets[i])
			}
		}
		a.Flush()
		return a, groupsOf(a)
	}
	plain, want := run(false)
	piped, got := run(true)
	if !slices.Equal(got, want) {
		t.Errorf("groups differ:\n got %+v\nwant %+v", got, want)
	}
	if piped.Totals != plain.Totals {
		t.Errorf("totals %+v, want %+v", piped.Totals, plain.Totals)
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"evicted", piped.Stats.FlowsEvicted.Load(), plain.Stats.FlowsEvicted.Load()},
		{"expired", piped.Stats.FlowsExpired.Load(), plain.Stats.FlowsExpired.Load()},
	} {
		if c.got != c.want || c.want == 0 {
			t.Errorf("%s: %d, want %d (and not 0)", c.name, c.got, c.want)
		}
	}
	if piped.pipe.prefetched == 0 {
		t.Error("nothing was prefetched")
	}
}
