package flow

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/keyhash"
)

// Key identifies a bidirectional flow by its 5-tuple, with the two endpoints
// in a canonical order (lower address first, then lower port) so that both
// directions of a conversation find the same entry. It is a fixed-size value
// with no pointers, which keeps hashing cheap and the table free of GC scans.
//
// Addresses are held as two 64-bit words (geo.AddrWords: the 16-byte form,
// IPv4 mapped, high word first) rather than [16]byte, which the CPU cannot
// copy without a stall (see geo.AddrWords).
type Key struct {
	AHi, ALo     uint64
	BHi, BLo     uint64
	PortA, PortB uint16
	Proto        uint8
	V4           bool
}

// makeKey builds the canonical key of p and reports whether p's source is
// endpoint A of that key.
func makeKey(p *capture.Packet, k *Key) (srcIsA bool) {
	sh, sl := geo.AddrWords(p.Src)
	dh, dl := geo.AddrWords(p.Dst)
	sp, dp := p.SrcPort, p.DstPort
	srcIsA = sh < dh || sh == dh && (sl < dl || sl == dl && sp <= dp)
	if srcIsA {
		k.AHi, k.ALo, k.BHi, k.BLo, k.PortA, k.PortB = sh, sl, dh, dl, sp, dp
	} else {
		k.AHi, k.ALo, k.BHi, k.BLo, k.PortA, k.PortB = dh, dl, sh, sl, dp, sp
	}
	k.Proto = p.Proto
	k.V4 = p.Src.Is4()
	return srcIsA
}

// equal is k == *o, written out so that the fields compare inline rather
// than through the runtime's memequal.
func (k *Key) equal(o *Key) bool {
	return k.AHi == o.AHi && k.ALo == o.ALo && k.BHi == o.BHi && k.BLo == o.BLo && k.PortA == o.PortA && k.PortB == o.PortB &&
		k.Proto == o.Proto && k.V4 == o.V4
}

// Addr returns endpoint i (0 = A, 1 = B) of the key as an address.
func (k *Key) Addr(i int) netip.Addr {
	hi, lo := k.AHi, k.ALo
	if i == 1 {
		hi, lo = k.BHi, k.BLo
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	a := netip.AddrFrom16(b)
	if k.V4 {
		return a.Unmap()
	}
	return a
}

// Port returns the port of endpoint i (0 = A, 1 = B).
func (k *Key) Port(i int) uint16 {
	if i == 1 {
		return k.PortB
	}
	return k.PortA
}

// Entry is one tracked flow. Index 0 of the arrays is endpoint A, 1 is B.
//
// The fields are laid out by use: the first cache line holds what every
// packet reads (the key to compare, the times, which side is remote), the
// second what every packet writes (the counts); the rest is read when a
// flow starts, moves, ends or is reported. An entry is four cache lines,
// and the entries live in chunks large enough to be page-aligned, so a packet
// of a flow that is not in the cache costs two misses, not four.
type Entry struct {
	// First line: read by every packet.
	Key     Key
	Last    int64   // Unix nanoseconds of the last packet
	moved   int64   // when the flow last moved to the head of the LRU list
	remote  [2]bool // which endpoints are remote
	flagged int8    // index of the flagged endpoint, or -1
	synFrom uint8
	prev    int32 // LRU list, most recently used at the head

	// Second line: written by every packet.
	Bytes   [2]uint64 // IP bytes sent by A, by B
	Packets [2]uint64 // packets sent by A, by B
	next    int32
	// inspect has a bit for each inspector not done with the flow yet: a
	// flow they are all done with (or never had) costs this byte's test.
	inspect   uint8
	inspected uint8         // packets the inspectors have seen, up to enrich.MaxInspected
	factsSide uint8         // the endpoint (0 = A, 1 = B) whose side the flow's Facts describe
	tunnel    bool          // the facts name a tunnel, and TunnelObservers hear of the flow
	synAt     int64         // time of a SYN from synFrom awaiting its SYN-ACK; 0 when none
	side      [2]*Aggregate // aggregate of each remote endpoint; nil for a local one

	// The rest: flow start, moves, end, events.
	// The flow's verdict is not here but beside its facts (verdictAt): it
	// grows with every rule the policy learns.
	First       int64     // Unix nanoseconds of the first packet
	emitted     int64     // Last at the previous periodic event, to skip idle flows
	published   [2]uint64 // Bytes already added to the aggregates
	publishedPk [2]uint64 // Packets already added to the aggregates
	tunnelBytes [2]uint64 // Bytes already reported to the TunnelObservers
	tunnelPk    [2]uint64 // Packets already reported to them
	firstSrc    uint8     // the endpoint that sent the first packet
	_           [47]byte  // to four cache lines exactly
}

// table is a bounded flow table with least-recently-used eviction. Entries
// live in one slice and are linked by index, so the table allocates only
// while it grows to its cap and never per packet.
//
// The index is an open-addressing hash table of 8-byte slots (32 bits of
// the key's hash and the entry's index), not a Go map keyed by the 40-byte
// Key: with 100k flows a Go map spans megabytes of keys and costs two or
// three cache misses a lookup, where this index is one small array and the
// key is compared in the entry, which the packet needs anyway.
//
// Senders choose the keys, so the hash is keyed by a secret seed (see
// package keyhash), and no entry is placed more than maxProbe slots past
// its home: should a placement need more (with a random seed and a table
// at most half full, about never), the table draws a new seed and rebuilds
// its index, so that lookups stay short whatever the traffic.
type table struct {
	slots      []uint64 // hash<<32 | index+1; 0 is empty
	mask       uint64
	seed       keyhash.Seed
	epoch      uint32 // seeds drawn after the first; a hash made under another epoch is stale
	n          int
	chunks     []*[chunkSize]Entry // entries, in chunks that never move
	used       int                 // entries ever allocated; freed ones are in free
	free       []int32
	head, tail int32
	max        int
}

const none = -1

// Entries live in fixed chunks rather than one growing slice: growing a
// slice of 256-byte entries with pointers in them copied the whole table,
// with write barriers, at every step.
const (
	chunkBits = 12
	chunkSize = 1 << chunkBits // 4096 entries, 1 MiB
	chunkMask = chunkSize - 1
)

// at returns entry i.
func (t *table) at(i int32) *Entry {
	return &t.chunks[i>>chunkBits][i&chunkMask]
}

func newTable(max int) *table {
	initial := min(max, 1<<12)
	// Slots are a power of two (the mask picks the home slot), at least
	// twice the entries: the load factor stays at most one half.
	nslots := 1 << bits.Len(uint(2*initial-1))
	return &table{
		slots: make([]uint64, nslots),
		mask:  uint64(nslots - 1),
		seed:  keyhash.New(),
		head:  none,
		tail:  none,
		max:   max,
	}
}

func (t *table) len() int { return t.n }

// maxProbe bounds how far past its home slot an entry is placed. At a
// load factor of one half, linear probing with a random hash places one
// entry in a million more than about 30 slots out.
const maxProbe = 64

// hash is the keyed hash of k; its low 32 bits pick the home slot and are
// kept in it to skip most key comparisons.
func (t *table) hash(k *Key) uint32 {
	var v4 uint64
	if k.V4 {
		v4 = 1
	}
	return uint32(t.seed.Sum5(k.AHi, k.ALo, k.BHi, k.BLo,
		uint64(k.PortA)<<32|uint64(k.PortB)<<16|uint64(k.Proto)<<8|v4))
}

// get returns the entry of k, probing from its home slot.
func (t *table) get(k *Key) (int32, bool) {
	return t.getHashed(k, t.hash(k))
}

// getHashed is get with k's hash already made.
func (t *table) getHashed(k *Key, h uint32) (int32, bool) {
	for pos := uint64(h) & t.mask; ; pos = (pos + 1) & t.mask {
		s := t.slots[pos]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == h {
			if i := int32(uint32(s)) - 1; t.at(i).Key.equal(k) {
				return i, true
			}
		}
	}
}

// place puts entry i in the first free slot from its home and reports
// whether that is within maxProbe of it.
func (t *table) place(h uint32, i int32) bool {
	pos := uint64(h) & t.mask
	d := 0
	for t.slots[pos] != 0 {
		pos = (pos + 1) & t.mask
		d++
	}
	t.slots[pos] = uint64(h)<<32 | uint64(uint32(i+1))
	return d <= maxProbe
}

// grow doubles the slots, keeping the load factor at most one half.
func (t *table) grow() {
	t.rebuild(2 * len(t.slots))
}

// rebuild makes an index of n slots; a placement past maxProbe draws a new
// seed and starts again, rehashing every key.
func (t *table) rebuild(n int) {
	old := t.slots
	t.slots = make([]uint64, n)
	t.mask = uint64(n - 1)
	for {
		ok := true
		for _, s := range old {
			if s != 0 {
				ok = t.place(uint32(s>>32), int32(uint32(s))-1) && ok
			}
		}
		if ok {
			return
		}
		t.reseed(old)
	}
}

// reseed draws a new seed and rewrites the hashes held in slots (the old
// index) under it, clearing the new index to place them again.
func (t *table) reseed(slots []uint64) {
	t.seed = keyhash.New()
	t.epoch++
	for j, s := range slots {
		if s != 0 {
			i := int32(uint32(s)) - 1
			slots[j] = uint64(t.hash(&t.at(i).Key))<<32 | uint64(uint32(s))
		}
	}
	clear(t.slots)
}

// unindex removes entry i's slot, shifting later slots of the same probe
// run back so that no tombstone is needed.
func (t *table) unindex(i int32) {
	h := t.hash(&t.at(i).Key)
	want := uint64(h)<<32 | uint64(uint32(i+1))
	pos := uint64(h) & t.mask
	for t.slots[pos] != want {
		pos = (pos + 1) & t.mask
	}
	for j := pos; ; {
		j = (j + 1) & t.mask
		s := t.slots[j]
		if s == 0 {
			break
		}
		home := uint64(uint32(s>>32)) & t.mask
		// Leave s where it is if its home lies cyclically in (pos, j].
		if pos <= j {
			if pos < home && home <= j {
				continue
			}
		} else if pos < home || home <= j {
			continue
		}
		t.slots[pos] = s
		pos = j
	}
	t.slots[pos] = 0
	t.n--
}

// insert adds a zeroed entry for k at the head and returns its index. The
// caller must have made room (len < max).
func (t *table) insert(k *Key) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
		*t.at(i) = Entry{}
	} else {
		i = int32(t.used)
		if t.used>>chunkBits == len(t.chunks) {
			t.chunks = append(t.chunks, new([chunkSize]Entry))
		}
		t.used++
	}
	e := t.at(i)
	e.Key = *k
	e.flagged = -1
	e.prev, e.next = none, none
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	if !t.place(t.hash(k), i) {
		// Rebuilding at the same size places every entry under a new seed,
		// this one included.
		t.rebuild(len(t.slots))
	}
	t.n++
	t.pushFront(i)
	return i
}

// remove unlinks entry i and frees its slot.
func (t *table) remove(i int32) {
	t.unlink(i)
	t.unindex(i)
	t.free = append(t.free, i)
}

func (t *table) touch(i int32) {
	if t.head == i {
		return
	}
	t.unlink(i)
	t.pushFront(i)
}

func (t *table) pushFront(i int32) {
	e := t.at(i)
	e.prev, e.next = none, t.head
	if t.head != none {
		t.at(t.head).prev = i
	}
	t.head = i
	if t.tail == none {
		t.tail = i
	}
}

func (t *table) unlink(i int32) {
	e := t.at(i)
	if e.prev != none {
		t.at(e.prev).next = e.next
	} else {
		t.head = e.next
	}
	if e.next != none {
		t.at(e.next).prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = none, none
}
