package flow

import (
	"encoding/binary"
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// Key identifies a bidirectional flow by its 5-tuple, with the two endpoints
// in a canonical order (lower address first, then lower port) so that both
// directions of a conversation find the same entry. It is a fixed-size value
// with no pointers, which keeps hashing cheap and the map free of GC scans.
type Key struct {
	A, B         [16]byte
	PortA, PortB uint16
	Proto        uint8
	V4           bool
}

// makeKey builds the canonical key of p and reports whether p's source is
// endpoint A of that key.
func makeKey(p *capture.Packet, k *Key) (srcIsA bool) {
	s, d := p.Src.As16(), p.Dst.As16()
	sp, dp := p.SrcPort, p.DstPort
	srcIsA = lessEndpoint(&s, sp, &d, dp)
	if srcIsA {
		k.A, k.B, k.PortA, k.PortB = s, d, sp, dp
	} else {
		k.A, k.B, k.PortA, k.PortB = d, s, dp, sp
	}
	k.Proto = p.Proto
	k.V4 = p.Src.Is4()
	return srcIsA
}

func lessEndpoint(a *[16]byte, pa uint16, b *[16]byte, pb uint16) bool {
	ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if ah != bh {
		return ah < bh
	}
	al, bl := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	if al != bl {
		return al < bl
	}
	return pa <= pb
}

// Addr returns endpoint i (0 = A, 1 = B) of the key as an address.
func (k *Key) Addr(i int) netip.Addr {
	b := k.A
	if i == 1 {
		b = k.B
	}
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
type Entry struct {
	Key         Key
	First, Last int64     // Unix nanoseconds of the first and last packet
	Bytes       [2]uint64 // IP bytes sent by A, by B
	Packets     [2]uint64 // packets sent by A, by B
	side        [2]*Group // aggregate of each remote endpoint; nil for a local one
	remote      [2]bool   // which endpoints are remote
	flagged     int8      // index of the flagged endpoint, or -1
	flaggedLoc  *geo.Location
	verdict     policy.Verdict // of the flagged endpoint
	emitted     int64          // Last at the previous periodic event, to skip idle flows
	moved       int64          // when the flow last moved to the head of the LRU list
	published   [2]uint64      // Bytes already added to the aggregates
	publishedPk [2]uint64      // Packets already added to the aggregates
	synAt       int64          // time of a SYN from synFrom awaiting its SYN-ACK; 0 when none
	synFrom     uint8
	prev, next  int32 // LRU list, most recently used at the head
}

// table is a bounded flow table with least-recently-used eviction. Entries
// live in one slice and are linked by index, so the table allocates only
// while it grows to its cap and never per packet.
type table struct {
	index      map[Key]int32
	entries    []Entry
	free       []int32
	head, tail int32
	max        int
}

const none = -1

func newTable(max int) *table {
	initial := min(max, 1<<12)
	return &table{
		index:   make(map[Key]int32, initial),
		entries: make([]Entry, 0, initial),
		head:    none,
		tail:    none,
		max:     max,
	}
}

func (t *table) len() int { return len(t.index) }

func (t *table) get(k *Key) (int32, bool) {
	i, ok := t.index[*k]
	return i, ok
}

// insert adds a zeroed entry for k at the head and returns its index. The
// caller must have made room (len < max).
func (t *table) insert(k *Key) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
		t.entries[i] = Entry{}
	} else {
		t.entries = append(t.entries, Entry{})
		i = int32(len(t.entries) - 1)
	}
	e := &t.entries[i]
	e.Key = *k
	e.flagged = -1
	e.prev, e.next = none, none
	t.index[*k] = i
	t.pushFront(i)
	return i
}

// remove unlinks entry i and frees its slot.
func (t *table) remove(i int32) {
	t.unlink(i)
	delete(t.index, t.entries[i].Key)
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
	e := &t.entries[i]
	e.prev, e.next = none, t.head
	if t.head != none {
		t.entries[t.head].prev = i
	}
	t.head = i
	if t.tail == none {
		t.tail = i
	}
}

func (t *table) unlink(i int32) {
	e := &t.entries[i]
	if e.prev != none {
		t.entries[e.prev].next = e.next
	} else {
		t.head = e.next
	}
	if e.next != none {
		t.entries[e.next].prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = none, none
}
