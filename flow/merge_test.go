package flow

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestMerge: accountants that split the packets by Shard and are merged
// count what one accountant counts: every aggregate, its distinct remote
// hosts (a host in flows of two shards is one host), the totals and the
// stats, under each grouping.
func TestMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	var pkts []pktArgs
	for i := range 20000 {
		remote := fmt.Sprintf("%s.%d", []string{"192.0.2", "198.51.100", "203.0.113"}[r.IntN(3)], 1+r.IntN(60))
		local := fmt.Sprintf("10.0.0.%d", 1+r.IntN(5))
		// The second half starts again from the first's start: time
		// going back by more than the idle timeout.
		p := pktArgs{i % 10000 / 50, local, remote, 6, uint16(40000 + r.IntN(20)), 443, uint32(40 + r.IntN(1400))}
		if r.IntN(2) == 0 {
			p.src, p.dst, p.sport, p.dport = p.dst, p.src, p.dport, p.sport
		}
		pkts = append(pkts, p)
	}
	for _, by := range []Grouping{ByLocation, ByCountry, ByASN, ByRemote, ByLocalRemote} {
		t.Run(by.String(), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Grouping, cfg.IdleTimeout = by, 30e9 // flows end and start again
			one := NewAccountant(testEnv(t), cfg)
			cfg.Mergeable = true
			const n = 3
			var shards [n]*Accountant
			for i := range shards {
				shards[i] = NewAccountant(testEnv(t), cfg)
			}
			for _, a := range pkts {
				p := pkt(a.ts, a.src, a.dst, a.proto, a.sport, a.dport, a.size)
				one.AddAhead(&p)
				mine := Shard(&p, n)
				for i, s := range shards {
					if i == mine {
						s.AddAhead(&p)
					} else {
						s.See(p.Timestamp) // as analyze's workers do
					}
				}
			}
			one.Flush()
			used := 0
			for _, s := range shards {
				s.Flush()
				if s.Totals.Packets != [NumDirections]uint64{} {
					used++
				}
			}
			if used < n {
				t.Fatalf("only %d of %d shards got packets", used, n)
			}
			for _, s := range shards[1:] {
				shards[0].Merge(s)
			}
			m := shards[0]
			sorted := func(gs []groupWant) []groupWant {
				return slices.SortedFunc(slices.Values(gs), func(a, b groupWant) int {
					return cmp.Compare(fmt.Sprint(a.key), fmt.Sprint(b.key))
				})
			}
			if got, want := sorted(groupsOf(m)), sorted(groupsOf(one)); !reflect.DeepEqual(got, want) {
				t.Errorf("merged groups differ:\n got %+v\nwant %+v", got, want)
			}
			if m.Totals != one.Totals {
				t.Errorf("totals %+v, want %+v", m.Totals, one.Totals)
			}
			if got, want := m.Stats.FlowsExpired.Load(), one.Stats.FlowsExpired.Load(); got != want || want == 0 {
				t.Errorf("%d flows expired, want %d (and some)", got, want)
			}
			var hosts uint64
			for _, g := range m.Aggregates() {
				hosts += g.Hosts.Load()
			}
			if hosts == 0 {
				t.Error("no remote hosts counted")
			}
		})
	}
}

type pktArgs struct {
	ts           int
	src, dst     string
	proto        uint8
	sport, dport uint16
	size         uint32
}
