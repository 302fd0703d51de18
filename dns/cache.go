// Package dns is passive DNS: it decodes the DNS responses seen on the wire
// and remembers, for each answered address, the names that resolved to it,
// so that a new flow to that address can be told by name.
//
// The map is bounded (a set-associative table of fixed size, allocated
// once), TTL-aware (a name stops being offered once its TTL, capped at
// MaxTTL, and a grace period have passed, measured in packet time so that a
// capture file replays as it was recorded) and keyed by a hash seeded per
// process (hash/maphash), so that hostile answers cannot aim at one set.
// Storing a name that is already known allocates nothing.
package dns

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by New.
const (
	DefaultCapacity = 32768
	DefaultMaxTTL   = 24 * time.Hour
	DefaultGrace    = 5 * time.Minute
	// NamesPerAddress is how many names one address keeps, the most
	// recently answered first; an address shared by more names (a CDN
	// edge) forgets the least recently answered one.
	NamesPerAddress = 4
	// MaxChain bounds the CNAME chain kept for a name and the CNAME
	// records a message may carry before the rest are ignored.
	MaxChain = 8

	ways      = 4  // slots per set
	numShards = 64 // locks; each shard owns sets/numShards sets
)

// Options configure a Cache.
type Options struct {
	// Capacity is the number of addresses kept. 0 means DefaultCapacity.
	// It is rounded up to a multiple of the shard and set sizes.
	Capacity int
	// MaxTTL caps the TTL of an answer: a longer TTL is not trusted to
	// keep an address from being reused. 0 means DefaultMaxTTL.
	MaxTTL time.Duration
	// Grace keeps a name past its TTL, because clients and their
	// connection pools keep using an address after its record expired.
	// 0 means DefaultGrace; a negative value means none.
	Grace time.Duration
	// Answers, when set, hears of every address answer stored, on the
	// packet path (see AnswerObserver).
	Answers AnswerObserver
}

// AnswerObserver is told of each A or AAAA answer the cache stores: the
// chain as stored (the queried name first; the cache never modifies a
// stored chain, so it may be kept, and must not be modified), the address, the client that asked, when the name
// stops being offered and the packet time (Unix nanoseconds). It runs on
// the capture workers' goroutines at once: quick, safe for concurrent use.
type AnswerObserver interface {
	ObserveAnswer(chain []string, addr, client netip.Addr, expires, ts int64)
}

// Name is one name an address was answered for.
type Name struct {
	// Chain is the queried name followed by the CNAME targets that led to
	// the address record, lowercase, without the trailing dot.
	Chain []string
	// Client is the address the answer was sent to: who asked.
	Client netip.Addr
	// Seen and Expires are Unix nanoseconds of packet time: when the
	// answer was last seen, and when it stops being offered (TTL, capped,
	// plus the grace period).
	Seen, Expires int64
}

type slot struct {
	addr  netip.Addr // invalid when the slot is free
	n     uint8      // names in use
	names [NamesPerAddress]Name
}

// newest is the most recent Seen of a slot's names (they are kept most
// recent first).
func (s *slot) newest() int64 { return s.names[0].Seen }

// live reports whether any of the slot's names is still offered at now.
func (s *slot) live(now int64) bool {
	for i := range s.n {
		if s.names[i].Expires > now {
			return true
		}
	}
	return false
}

type shard struct {
	mu    sync.Mutex
	slots []slot // sets*ways
	_     [40]byte
}

// Cache maps answered addresses to names. It is safe for concurrent use:
// the packet path stores, the flow path looks up.
type Cache struct {
	seed    maphash.Seed
	shards  [numShards]shard
	sets    uint64 // sets per shard
	maxTTL  int64
	grace   int64
	now     atomic.Int64 // latest packet time seen, for scrape-time counts
	metrics counters
	answers AnswerObserver
}

// New returns an empty Cache.
func New(o Options) *Cache {
	if o.Capacity <= 0 {
		o.Capacity = DefaultCapacity
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	switch {
	case o.Grace == 0:
		o.Grace = DefaultGrace
	case o.Grace < 0:
		o.Grace = 0
	}
	sets := (o.Capacity + numShards*ways - 1) / (numShards * ways)
	c := &Cache{seed: maphash.MakeSeed(), sets: uint64(sets), maxTTL: int64(o.MaxTTL), grace: int64(o.Grace), answers: o.Answers}
	for i := range c.shards {
		c.shards[i].slots = make([]slot, sets*ways)
	}
	return c
}

// Capacity is the number of addresses the cache holds at most.
func (c *Cache) Capacity() int { return numShards * int(c.sets) * ways }

// set returns the shard and the slots of the set addr falls in.
func (c *Cache) set(addr netip.Addr) (*shard, []slot) {
	b := addr.As16()
	h := maphash.Bytes(c.seed, b[:])
	sh := &c.shards[h%numShards]
	i := (h / numShards % c.sets) * ways
	return sh, sh.slots[i : i+ways]
}

// store records that chain[0] resolved (through the rest of chain) to addr
// for client at ts with the given TTL in seconds. chain holds normalised
// names as byte slices; they are copied only when the name is new for addr.
//
// It returns the chain as stored (the cache's, never modified) and when
// the name stops being offered.
func (c *Cache) store(addr, client netip.Addr, chain [][]byte, ttl uint32, ts int64) (stored []string, expires int64) {
	addr = addr.Unmap()
	life := min(int64(ttl)*int64(time.Second), c.maxTTL) + c.grace
	sh, set := c.set(addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := c.find(set, addr, ts)
	// Known name: refresh it and move it to the front.
	for i := range s.n {
		n := &s.names[i]
		if string(chain[0]) != n.Chain[0] {
			continue
		}
		if !sameChain(n.Chain, chain) {
			n.Chain = copyChain(chain)
		}
		n.Client, n.Seen = client, ts
		n.Expires = max(n.Expires, ts+life)
		stored, expires = n.Chain, n.Expires
		if i > 0 {
			moved := *n
			copy(s.names[1:i+1], s.names[:i])
			s.names[0] = moved
		}
		return stored, expires
	}
	if int(s.n) == NamesPerAddress {
		c.metrics.nameEvictions.Add(1)
	} else {
		s.n++
	}
	copy(s.names[1:s.n], s.names[:s.n-1])
	s.names[0] = Name{Chain: copyChain(chain), Client: client, Seen: ts, Expires: ts + life}
	return s.names[0].Chain, ts + life
}

// find returns the slot of addr in set, claiming one when addr has none:
// a free slot, else one whose names have all expired, else the least
// recently answered one (an eviction, counted).
func (c *Cache) find(set []slot, addr netip.Addr, now int64) *slot {
	var victim *slot
	for i := range set {
		s := &set[i]
		if s.addr == addr {
			return s
		}
		if victim == nil || s.before(victim, now) {
			victim = s
		}
	}
	if victim.addr.IsValid() && victim.live(now) {
		c.metrics.evictions.Add(1)
	}
	*victim = slot{addr: addr}
	return victim
}

// before reports whether s is to be reused before t: free slots first,
// then expired ones, then the least recently answered.
func (s *slot) before(t *slot, now int64) bool {
	rank := func(s *slot) int {
		switch {
		case !s.addr.IsValid():
			return 0
		case !s.live(now):
			return 1
		}
		return 2
	}
	if rs, rt := rank(s), rank(t); rs != rt {
		return rs < rt
	}
	return s.newest() < t.newest()
}

func sameChain(have []string, chain [][]byte) bool {
	if len(have) != len(chain) {
		return false
	}
	for i := range have {
		if have[i] != string(chain[i]) {
			return false
		}
	}
	return true
}

func copyChain(chain [][]byte) []string {
	out := make([]string, len(chain))
	for i, b := range chain {
		out[i] = string(b)
	}
	return out
}

// Lookup returns the name addr is best known by at now: among its names
// still offered, the most recent one asked by client, else the most recent
// one. The chain aliases the cache's and must not be modified. ok is false
// when addr has no name offered at now.
func (c *Cache) Lookup(addr, client netip.Addr, now int64) (chain []string, ok bool) {
	addr, client = addr.Unmap(), client.Unmap()
	sh, set := c.set(addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i := range set {
		s := &set[i]
		if s.addr != addr {
			continue
		}
		for j := range s.n {
			n := &s.names[j]
			if n.Expires <= now {
				continue
			}
			if n.Client == client {
				return n.Chain, true
			}
			if chain == nil {
				chain = n.Chain
			}
		}
		return chain, chain != nil
	}
	return nil, false
}

// Names returns a copy of every name addr holds, expired or not, the most
// recently answered first.
func (c *Cache) Names(addr netip.Addr) []Name {
	addr = addr.Unmap()
	sh, set := c.set(addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i := range set {
		if set[i].addr == addr {
			return append([]Name(nil), set[i].names[:set[i].n]...)
		}
	}
	return nil
}

// Len counts the addresses with a name still offered at now.
func (c *Cache) Len(now int64) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for j := range sh.slots {
			if sh.slots[j].addr.IsValid() && sh.slots[j].live(now) {
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}
