package geo

import (
	"net/netip"
	"testing"

	"github.com/jurismon/jurismon/keyhash"
)

// oldHash is the cache's hash before it was keyed: anyone could compute
// which buckets share a shard and a home slot.
func oldHash(k cacheKey) uint64 {
	h := (k.hi*0x9e3779b97f4a7c15 ^ k.lo*0xc2b2ae3d27d4eb4f ^ k.bits*0x165667b19e3779f9) * 0xbf58476d1ce4e5b9
	return h ^ h>>31
}

// TestCacheCollisions replays 2,000 IPv4 /24s (remote senders a scan or a
// spoofed flood can pick) that share one shard and one home slot under the
// old hash, and checks that the keyed cache keeps their probe runs short
// and still answers from the cache. The first check proves the set is
// hostile: under the old hash it is one probe run of 2,000 slots.
func TestCacheCollisions(t *testing.T) {
	const n, size = 2000, 1 << 16
	c := newCache(size, make([]shardStats, shardCount(size)))
	shardMask, slotMask := c.mask, c.shards[0].mask
	var flood []netip.Addr
	oldHomes := map[uint64]int{}
	for b := uint32(0); len(flood) < n && b < 1<<24; b++ {
		a := netip.AddrFrom4([4]byte{byte(b >> 16), byte(b >> 8), byte(b), 1})
		hi, lo, bucket := addrWords(a)
		h := oldHash(keyOf(hi, lo, bucket))
		if h&shardMask == 0 && (h>>32)&slotMask < 16 {
			flood = append(flood, a)
			oldHomes[(h>>32)&slotMask]++
		}
	}
	if len(flood) != n || len(oldHomes) > 16 {
		t.Fatalf("found %d colliding buckets over %d homes", len(flood), len(oldHomes))
	}
	for _, a := range flood {
		c.put(a, &Location{Network: netip.PrefixFrom(a, 24).Masked(), Country: "ZZ"})
	}
	longest := 0
	for i := range c.shards {
		s := &c.shards[i]
		for j := range s.slots {
			if s.slots[j].used {
				longest = max(longest, int((uint64(j)-s.home(s.slots[j].key))&s.mask))
			}
		}
	}
	t.Logf("keyed cache: longest probe %d", longest)
	if longest > maxProbe/2 {
		t.Errorf("longest probe %d, want at most %d", longest, maxProbe/2)
	}
	for _, a := range flood {
		if loc := c.get(a); loc == nil || loc.Country != "ZZ" {
			t.Fatalf("get(%v) = %v after put", a, loc)
		}
	}
}

// TestCacheProbeBound stores, under the public zero seed, buckets that
// share a home slot, as a sender who knew the hash would pick them: the
// shard must stop storing past maxProbe slots from the home, so that a
// lookup never reads more than maxProbe+1 slots, and keep answering.
func TestCacheProbeBound(t *testing.T) {
	c := newCache(1<<12, make([]shardStats, 1))
	c.seed = keyhash.Seed{}
	s := &c.shards[0]
	var flood []netip.Addr
	for b := uint32(0); len(flood) < 2*maxProbe && b < 1<<24; b++ {
		a := netip.AddrFrom4([4]byte{byte(b >> 16), byte(b >> 8), byte(b), 1})
		hi, lo, bucket := addrWords(a)
		if s.home(keyOf(hi, lo, bucket)) == 0 {
			flood = append(flood, a)
		}
	}
	for _, a := range flood {
		c.put(a, &Location{Network: netip.PrefixFrom(a, 24).Masked(), Country: "ZZ"})
	}
	if s.n != maxProbe+1 {
		t.Errorf("%d entries stored from one home, want %d", s.n, maxProbe+1)
	}
	for i, a := range flood {
		if got := c.get(a) != nil; got != (i <= maxProbe) {
			t.Errorf("bucket %d of the run: cached %v", i, got)
		}
	}
}
