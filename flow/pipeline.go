package flow

import (
	"unsafe"

	"github.com/jurismon/jurismon/capture"
)

// depth is the number of packets AddAhead keeps in flight. A packet's index
// slot is prefetched when it arrives, its entry depth/2 packets later, and
// it is accounted depth packets later: by then both are in the cache, and
// the misses of consecutive packets overlap instead of adding up.
const depth = 8

// The payload of a packet held in flight is copied, since the frame it
// aliases is gone by the time the packet is accounted: up to keepPayload
// bytes (what a classifier of a flow's first bytes reads, and what a snap
// length of 128 leaves after the headers anyway), and up to keepDNS for
// port 53, whose messages the passive DNS reader wants whole. Copying a
// few cache lines costs far less than the prefetching saves.
const (
	keepPayload = 96
	keepDNS     = 1024
)

type inFlight struct {
	p       capture.Packet
	k       Key
	h       uint32
	epoch   uint32 // the table's epoch when h was made
	srcIsA  bool
	payload [keepDNS]byte
}

// pipeline is a ring of packets in flight.
type pipeline struct {
	ring       [depth]inFlight
	head, n    int
	prefetched uint64 // entries prefetched (for tests)
}

// AddAhead accounts p like Add, but depth packets later, prefetching the
// flow state it will need meanwhile. Results are the same as with Add, in
// the same order. Add, Tick, Sync and Flush first account what is in
// flight; a caller that stops reading packets for a while (a quiet link)
// calls Drain or Tick.
func (a *Accountant) AddAhead(p *capture.Packet) {
	q := &a.pipe
	if q.n == depth {
		a.addOldest()
	}
	r := &q.ring[(q.head+q.n)%depth]
	r.p = *p
	if n := len(p.Payload); n > 0 {
		keep := keepPayload
		if p.SrcPort == 53 || p.DstPort == 53 {
			keep = keepDNS
		}
		n = min(n, keep)
		r.p.Payload = r.payload[:copy(r.payload[:n], p.Payload)]
	}
	r.srcIsA = makeKey(p, &r.k)
	t := a.table
	r.h, r.epoch = t.hash(&r.k), t.epoch
	q.n++
	prefetch(uintptr(unsafe.Pointer(&t.slots[uint64(r.h)&t.mask])))
	if q.n > depth/2 {
		// The slot of this one was prefetched depth/2 packets ago.
		m := &q.ring[(q.head+q.n-1-depth/2)%depth]
		if s := t.slots[uint64(m.h)&t.mask]; s != 0 && uint32(s>>32) == m.h {
			if i := int32(uint32(s)) - 1; int(i) < len(t.chunks)*chunkSize {
				e := uintptr(unsafe.Pointer(t.at(i)))
				prefetch(e)
				prefetch(e + 64)
				q.prefetched++
			}
		}
	}
}

func (a *Accountant) addOldest() {
	q := &a.pipe
	r := &q.ring[q.head]
	q.head = (q.head + 1) % depth
	q.n--
	if r.epoch != a.table.epoch {
		// The table drew a new seed since (see table.rebuild).
		r.h = a.table.hash(&r.k)
	}
	a.add(&r.p, &r.k, r.srcIsA, r.h, r.p.Timestamp, uint64(r.p.IPLen), 1, false)
}

// Drain accounts every packet AddAhead holds, so that the flows' own
// counters are complete; it publishes nothing (see Sync) and ends nothing
// (see Tick and Flush).
func (a *Accountant) Drain() {
	for a.pipe.n > 0 {
		a.addOldest()
	}
}
