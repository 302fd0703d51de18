package flow

import (
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/keyhash"
)

// oldHashKey is the flow table's hash before it was keyed: fixed constants,
// so anyone could compute which 5-tuples share a home slot. Kept here to
// build a collision set against it.
func oldHashKey(k *Key) uint32 {
	h := k.AHi*0x9e3779b97f4a7c15 ^
		k.ALo*0xc2b2ae3d27d4eb4f ^
		k.BHi*0x165667b19e3779f9 ^
		k.BLo*0x27d4eb2f165667c5 ^
		(uint64(k.PortA)<<24|uint64(k.PortB)<<8|uint64(k.Proto))*0xff51afd7ed558ccd
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}

// collidingFlows brute-forces the UDP flows from one sender to one
// receiver, over source and destination ports, whose home slot under hash
// falls in the first window slots of an index of slots slots: what a
// sender needs to make one probe run as long as the set.
func collidingFlows(n int, slots, window uint64, hash func(*Key) uint32) []capture.Packet {
	src, dst := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("192.0.2.10")
	var out []capture.Packet
	for sp := uint32(1); sp < 1<<16 && len(out) < n; sp++ {
		for dp := uint32(1); dp < 1<<16 && len(out) < n; dp++ {
			p := capture.Packet{Timestamp: 1, IPLen: 100, WireLen: 114, Src: src, Dst: dst, Proto: 17,
				SrcPort: uint16(sp), DstPort: uint16(dp), TTL: 60}
			var k Key
			makeKey(&p, &k)
			if uint64(hash(&k))&(slots-1) < window {
				out = append(out, p)
			}
		}
	}
	return out
}

// linearProbeLongest places hashes in an index of slots slots by linear
// probing and returns the longest distance from a home slot.
func linearProbeLongest(hashes []uint32, slots uint64) int {
	used := make([]bool, slots)
	longest := 0
	for _, h := range hashes {
		d := 0
		for pos := uint64(h) & (slots - 1); used[pos]; pos = (pos + 1) & (slots - 1) {
			d++
		}
		used[(uint64(h)+uint64(d))&(slots-1)] = true
		longest = max(longest, d)
	}
	return longest
}

// probeLengths returns the longest distance of an entry of t from its home
// slot, and the mean.
func probeLengths(t *table) (longest int, mean float64) {
	sum := 0
	for pos, s := range t.slots {
		if s != 0 {
			d := int((uint64(pos) - uint64(uint32(s>>32))) & t.mask)
			longest = max(longest, d)
			sum += d
		}
	}
	if t.n > 0 {
		mean = float64(sum) / float64(t.n)
	}
	return longest, mean
}

// TestCollisionFlood replays 10,000 UDP flows chosen to share home slots
// under the old, unkeyed hash (issue 10: 50,000 of them took analyze 6.85 s
// against 0.14 s) through an accountant, and checks that the keyed table's
// probe runs stay short. The first check proves the set is hostile: under
// the old hash its probe run is as long as the set.
func TestCollisionFlood(t *testing.T) {
	const n, slots = 10000, 1 << 15 // the index holding 10,000 flows
	flood := collidingFlows(n, slots, 64, oldHashKey)
	if len(flood) != n {
		t.Fatalf("found %d colliding flows, want %d", len(flood), n)
	}
	old := make([]uint32, n)
	for i := range flood {
		var k Key
		makeKey(&flood[i], &k)
		old[i] = oldHashKey(&k)
	}
	if got := linearProbeLongest(old, slots); got < n-64 {
		t.Fatalf("the set is not hostile to the old hash: longest probe %d", got)
	}

	cfg := DefaultConfig()
	cfg.MaxFlows = 1 << 17
	a := NewAccountant(testEnv(t), cfg)
	for i := range flood {
		a.AddAhead(&flood[i])
	}
	a.Drain()
	if got := a.table.len(); got != n {
		t.Fatalf("%d flows in the table, want %d", got, n)
	}
	if len(a.table.slots) != slots {
		t.Fatalf("%d slots, want %d", len(a.table.slots), slots)
	}
	longest, mean := probeLengths(a.table)
	t.Logf("keyed table: longest probe %d, mean %.2f", longest, mean)
	if longest > maxProbe || mean > 2 {
		t.Errorf("keyed table: longest probe %d (bound %d), mean %.2f (want < 2)", longest, maxProbe, mean)
	}
}

// TestTableReseed makes the table's own hash public (the zero seed) and
// floods it with flows colliding under that: the table must notice the
// long probe run, draw a new seed and rebuild, keep every flow findable,
// and not count a flow twice when packets hashed before the rebuild are
// still in AddAhead's pipeline.
func TestTableReseed(t *testing.T) {
	const n = 3000
	cfg := DefaultConfig()
	cfg.MaxFlows = 1 << 12
	a := NewAccountant(testEnv(t), cfg)
	a.table.seed = keyhash.Seed{}
	public := &table{seed: keyhash.Seed{}}
	slots := uint64(len(a.table.slots))
	flood := collidingFlows(n, slots, 16, public.hash)
	if len(flood) != n {
		t.Fatalf("found %d colliding flows, want %d", len(flood), n)
	}
	for round := range 2 { // the second round finds every flow
		for i := range flood {
			p := flood[i]
			p.Timestamp = int64(round + 1)
			a.AddAhead(&p)
		}
	}
	a.Drain()
	if a.table.epoch == 0 {
		t.Fatal("the table never drew a new seed")
	}
	if got := a.table.len(); got != n {
		t.Fatalf("%d flows in the table, want %d (a flow counted twice or lost)", got, n)
	}
	for i := range flood {
		var k Key
		makeKey(&flood[i], &k)
		j, ok := a.table.get(&k)
		if !ok {
			t.Fatalf("flow %d lost", i)
		}
		if e := a.table.at(j); e.Packets[0]+e.Packets[1] != 2 {
			t.Fatalf("flow %d has %d packets, want 2", i, e.Packets[0]+e.Packets[1])
		}
	}
	longest, mean := probeLengths(a.table)
	t.Logf("after %d new seeds: longest probe %d, mean %.2f", a.table.epoch, longest, mean)
	if longest > maxProbe {
		t.Errorf("longest probe %d, bound %d", longest, maxProbe)
	}
}
