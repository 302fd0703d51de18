package geo

import (
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/jurismon/jurismon/keyhash"
)

// The cache maps addresses to the Location of the database network that
// holds them, without a database lookup.
//
// Probing once per prefix length seen, longest first, would cost up to 24
// (IPv4) or 128 (IPv6) lookups on a hit. Instead the cache keys on a
// fixed-size bucket around the address (a /24 for IPv4, a /48 for IPv6): the
// databases are binary tries whose leaves partition the address space, so a
// bucket lies either inside one leaf network or it is split into several
// narrower leaves. A leaf of the bucket's size has the bucket's entry (one
// probe on a hit). A leaf wider than the bucket has one entry of its
// own, found after the bucket probe misses by probing the few lengths cached
// in its /16 or /32 (see cache.wide4): it is not copied into each bucket it
// covers, since most buckets of a capture with many remote networks are
// seen once or twice, and copying cost more than it saved. A split bucket's
// entry lists the prefix lengths it holds, and those networks have entries
// of their own.
//
// It is sharded by bucket, each shard an open-addressing table of slots
// under a mutex (see shard), bounded, and evicts with CLOCK (second chance): a hit sets the entry's reference
// bit; the hand clears bits until it finds an unreferenced entry.
//
// Senders choose the addresses, so the hash is keyed by a secret seed
// drawn per cache (see package keyhash), and no entry is stored more than
// maxProbe slots past its home: one that would be is not cached, which
// costs a database lookup, so that a probe reads at most maxProbe+1 slots
// whatever the traffic.

const (
	bucketBits4 = 96 + 24 // bucket length for IPv4, in the 128-bit space
	bucketBits6 = 48
)

// cacheKey is a prefix in the 128-bit space (IPv4 as IPv4-mapped IPv6, its
// length plus 96): three words without padding, compared and hashed as
// plain memory.
type cacheKey struct {
	hi, lo, bits uint64
}

func keyOf(hi, lo uint64, bits int) cacheKey {
	switch {
	case bits <= 0:
		return cacheKey{}
	case bits < 64:
		return cacheKey{hi: hi &^ (^uint64(0) >> bits), bits: uint64(bits)}
	case bits < 128:
		return cacheKey{hi: hi, lo: lo &^ (^uint64(0) >> (bits - 64)), bits: uint64(bits)}
	default:
		return cacheKey{hi: hi, lo: lo, bits: 128}
	}
}

// addrWords returns a as two 64-bit words and the length of its bucket. a
// must be unmapped and without a zone.
func addrWords(a netip.Addr) (hi, lo uint64, bucket int) {
	hi, lo = AddrWords(a)
	if a.Is4() {
		return hi, lo, bucketBits4
	}
	return hi, lo, bucketBits6
}

// prefixBits returns p's length in the 128-bit space.
func prefixBits(p netip.Prefix) int {
	if p.Addr().Is4() {
		return p.Bits() + 96
	}
	return p.Bits()
}

// slot is one entry of a shard's table: 64 bytes, one cache line, so that
// a probe that finds its key has the Location pointer in the same line.
type slot struct {
	key cacheKey
	loc *Location
	// For a split bucket: the prefix lengths (in the 128-bit space) of the
	// entries inside it. loc is nil then.
	split [2]uint64
	ref   bool
	used  bool
	_     [14]byte
}

// shardStats are counted with atomics, outside the cache, so that they
// survive the cache being dropped on reload (metrics counters never go
// backwards). The padding keeps shards off each other's cache lines.
type shardStats struct {
	hits, misses, evictions atomic.Uint64
	_                       [40]byte
}

// shard is an open-addressing table (linear probing, at most half full)
// under a mutex. A Go map beside a slice of entries cost a cold lookup
// three or four cache misses (the map's control word, its key, the entry,
// the Location); here it is one or two.
type shard struct {
	mu    sync.Mutex
	seed  *keyhash.Seed // the cache's
	slots []slot
	mask  uint64
	n     int // used slots
	max   int
	hand  int // CLOCK hand, an index into slots
	stats *shardStats
}

type cache struct {
	shards []shard
	mask   uint64
	seed   keyhash.Seed
	// A network wider than a bucket is cached once, under its own key,
	// rather than once per bucket inside it: a /16 would otherwise take
	// 256 entries and 256 database lookups. Finding it costs one probe per
	// prefix length that may hold it, so the lengths cached are recorded
	// where they are: per IPv4 /16 in wide4 (bit len-1, for /1 to /23), per
	// IPv6 /32 in wide6 (hashed; bit len-33, for /33 to /47), and for IPv6
	// networks of /32 or wider in wide6All. With one record for all, a
	// first address in a new bucket probed every length any network had
	// (up to 16), which made the cache cost more than the lookups it saved
	// when most remote networks were new.
	//
	// Bits are never cleared: a network evicted since costs a probe that
	// misses, never a wrong answer.
	wide4    []atomic.Uint32
	wide6    []atomic.Uint64
	wide6All atomic.Uint64
}

// wide6 has 1<<wide6Bits records, picked by a hash of the /32.
const wide6Bits = 12

// newCache returns a cache of at most size entries (buckets plus narrow
// networks), spread over len(stats) shards (a power of two).
func newCache(size int, stats []shardStats) *cache {
	n := len(stats)
	per := max(size/n, 2) // a split bucket and one network inside it
	c := &cache{
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		wide4:  make([]atomic.Uint32, 1<<16),
		wide6:  make([]atomic.Uint64, 1<<wide6Bits),
		seed:   keyhash.New(),
	}
	for i := range c.shards {
		size := 1 << bits.Len(uint(2*per-1)) // a power of two, at least twice per
		c.shards[i] = shard{
			slots: make([]slot, size),
			mask:  uint64(size - 1),
			max:   per,
			stats: &stats[i],
			seed:  &c.seed,
		}
	}
	return c
}

// shardCount picks the number of shards for a cache size: enough to keep
// concurrent readers apart, few enough that a tiny cache is exact.
func shardCount(size int) int {
	switch {
	case size >= 16*1024:
		return 16
	case size >= 1024:
		return 4
	}
	return 1
}

// maxProbe bounds how far past its home slot an entry is stored. At a
// load factor of one half, linear probing with a random hash stores one
// entry in a million more than about 30 slots out.
const maxProbe = 64

// hash is the keyed hash of k; the shard comes from its low bits, the home
// slot in the shard from its high bits.
func hash(seed *keyhash.Seed, k cacheKey) uint64 {
	return seed.Sum3(k.hi, k.lo, k.bits)
}

func (c *cache) shardFor(k cacheKey) *shard {
	return &c.shards[hash(&c.seed, k)&c.mask]
}

// home is the slot where the probe for k starts.
func (s *shard) home(k cacheKey) uint64 {
	return (hash(s.seed, k) >> 32) & s.mask
}

// find returns the slot holding k, or nil.
func (s *shard) find(k cacheKey) *slot {
	i := s.home(k)
	for range maxProbe + 1 {
		sl := &s.slots[i]
		if !sl.used {
			return nil
		}
		if sl.key == k {
			return sl
		}
		i = (i + 1) & s.mask
	}
	return nil
}

// get returns the cached Location for a, or nil.
func (c *cache) get(a netip.Addr) *Location {
	hi, lo, bucket := addrWords(a)
	bk := keyOf(hi, lo, bucket)
	s := c.shardFor(bk)
	s.mu.Lock()
	sl := s.find(bk)
	if sl == nil {
		s.mu.Unlock()
		if loc := c.getWide(hi, lo, bucket); loc != nil {
			s.stats.hits.Add(1)
			return loc
		}
		s.stats.misses.Add(1)
		return nil
	}
	sl.ref = true
	if loc := sl.loc; loc != nil {
		s.mu.Unlock()
		s.stats.hits.Add(1)
		return loc
	}
	// A split bucket: probe the lengths it holds, longest first.
	split := sl.split
	for w := 1; w >= 0; w-- {
		for m := split[w]; m != 0; {
			top := 63 - bits.LeadingZeros64(m)
			m &^= 1 << top
			n := w*64 + top + 1
			if nl := s.find(keyOf(hi, lo, n)); nl != nil {
				nl.ref = true
				loc := nl.loc
				s.mu.Unlock()
				s.stats.hits.Add(1)
				return loc
			}
		}
	}
	s.mu.Unlock()
	s.stats.misses.Add(1)
	return nil
}

// getWide probes the cached networks wider than a's bucket that may hold
// it, longest first.
func (c *cache) getWide(hi, lo uint64, bucket int) *Location {
	if bucket == bucketBits4 {
		return c.probeWide(hi, lo, 96, uint64(c.wide4[uint32(lo)>>16].Load()))
	}
	if loc := c.probeWide(hi, lo, 32, c.wide6[c.wide6Slot(hi)].Load()); loc != nil {
		return loc
	}
	return c.probeWide(hi, lo, 0, c.wide6All.Load())
}

// probeWide probes the lengths base+i+1 for each bit i set in m, longest
// first.
func (c *cache) probeWide(hi, lo uint64, base int, m uint64) *Location {
	for m != 0 {
		top := 63 - bits.LeadingZeros64(m)
		m &^= 1 << top
		k := keyOf(hi, lo, base+top+1)
		s := c.shardFor(k)
		s.mu.Lock()
		if sl := s.find(k); sl != nil {
			sl.ref = true
			loc := sl.loc
			s.mu.Unlock()
			return loc
		}
		s.mu.Unlock()
	}
	return nil
}

// wide6Slot picks the wide6 record of an IPv6 address's /32, keyed like
// the slots: records shared by many /32s cost extra probes.
func (c *cache) wide6Slot(hi uint64) uint64 {
	return c.seed.Sum3(hi>>32, 0, 0) >> (64 - wide6Bits)
}

// noteWide records that a network of length n (in the 128-bit space, wider
// than a's bucket) holding the address hi, lo is cached.
func (c *cache) noteWide(hi, lo uint64, bucket, n int) {
	switch {
	case bucket == bucketBits4:
		l := n - 96 // 1..23
		first := uint32(lo) >> 16
		count := uint32(1)
		if l < 16 {
			count = 1 << (16 - l)
			first &^= count - 1
		}
		for i := range count {
			c.wide4[first+i].Or(1 << (l - 1))
		}
	case n > 32:
		c.wide6[c.wide6Slot(hi)].Or(1 << (n - 33))
	default:
		c.wide6All.Or(1 << (n - 1))
	}
}

// put caches loc, which holds a, under its network.
func (c *cache) put(a netip.Addr, loc *Location) {
	hi, lo, bucket := addrWords(a)
	bk := keyOf(hi, lo, bucket)
	s := c.shardFor(bk)
	n := prefixBits(loc.Network)
	if n > 0 && n < bucket && (bucket == bucketBits6 || n > 96) {
		wk := keyOf(hi, lo, n)
		ws := c.shardFor(wk)
		ws.mu.Lock()
		ws.store(wk, loc, [2]uint64{})
		ws.mu.Unlock()
		c.noteWide(hi, lo, bucket, n)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= bucket {
		s.store(bk, loc, [2]uint64{})
		return
	}
	// A network narrower than the bucket: record its length in the bucket's
	// entry, then store it under its own key.
	var split [2]uint64
	if sl := s.find(bk); sl != nil && sl.loc == nil {
		split = sl.split
	}
	split[(n-1)/64] |= 1 << ((n - 1) % 64)
	s.store(bk, nil, split)
	s.store(keyOf(hi, lo, n), loc, [2]uint64{})
}

func (s *shard) store(k cacheKey, loc *Location, split [2]uint64) {
	if sl := s.find(k); sl != nil {
		sl.loc, sl.split, sl.ref = loc, split, true
		return
	}
	if s.n >= s.max {
		s.evict()
	}
	i := s.home(k)
	for d := 0; s.slots[i].used; d++ {
		if d == maxProbe {
			return // not cached: see the cache's comment
		}
		i = (i + 1) & s.mask
	}
	// A split bucket starts referenced so that storing its first narrow
	// network right after it cannot evict it.
	s.slots[i] = slot{key: k, loc: loc, split: split, ref: loc == nil, used: true}
	s.n++
}

// evict removes one entry chosen by CLOCK: the first unreferenced one from
// the hand; a referenced one loses its bit and gets a second chance.
func (s *shard) evict() {
	for {
		sl := &s.slots[s.hand]
		if sl.used {
			if !sl.ref {
				break
			}
			sl.ref = false
		}
		s.hand = int(uint64(s.hand+1) & s.mask)
	}
	s.remove(uint64(s.hand))
	s.stats.evictions.Add(1)
}

// remove empties slot i and shifts later entries of its probe run back,
// so that every entry stays reachable from its home without tombstones.
func (s *shard) remove(i uint64) {
	s.n--
	for {
		s.slots[i] = slot{}
		j := i
		for {
			j = (j + 1) & s.mask
			if !s.slots[j].used {
				return
			}
			// The entry at j may move to i unless its home lies
			// cyclically in (i, j].
			h := s.home(s.slots[j].key)
			if (j-h)&s.mask >= (j-i)&s.mask {
				s.slots[i] = s.slots[j]
				i = j
				break
			}
		}
	}
}

func (c *cache) entries() uint64 {
	var n uint64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += uint64(s.n)
		s.mu.Unlock()
	}
	return n
}
