package flow

import (
	"net/netip"

	"github.com/jurismon/jurismon/capture"
)

// Record is a flow increment from a flow exporter (a router's NetFlow,
// IPFIX or sFlow): what one 5-tuple sent in one direction, Src to Dst,
// between First and Last, counted on one packet in SamplingRate.
type Record struct {
	First, Last    int64 // Unix nanoseconds
	Src, Dst       netip.AddrPort
	Proto          uint8
	Bytes, Packets uint64 // IP bytes and packets as the exporter counted them (before sampling is undone)
	SamplingRate   uint32 // 1 in SamplingRate packets was counted; 0 means 1
	// Sides says which endpoints are remote when the exporter knows it (the
	// interface the record entered or left on faces the outside); zero
	// leaves it to the local networks, as for packets. Read when the
	// record starts a flow.
	Sides Sides
}

// Sides tells which endpoints of a record are remote.
type Sides uint8

const (
	// SidesFromNetworks: the local networks decide, as for packets.
	SidesFromNetworks Sides = iota
	// SrcRemote: the record entered on an external interface.
	SrcRemote
	// DstRemote: the record left on an external interface.
	DstRemote
	// BothRemote: it entered and left on external interfaces (transit).
	BothRemote
)

// AddRecord accounts a flow record like a packet: the flow of its 5-tuple
// is found, or started (enriched and judged as a packet's is, from a packet
// made of the record's header fields), and its counts, scaled by the
// sampling rate, are added in the record's direction. The accountant's
// clock moves to First; Last becomes the flow's last time. Inspectors do
// not see records (there is no packet to see), nor do the TTL and
// handshake observers. It does not allocate on a known flow.
func (a *Accountant) AddRecord(r *Record) {
	a.Drain()
	last := max(r.Last, r.First)
	rate := uint64(max(r.SamplingRate, 1))
	// The accountant's own packet: passed down by pointer to the enrichers,
	// a local one would be allocated per record.
	p := &a.record
	*p = capture.Packet{
		Timestamp: r.First,
		Src:       r.Src.Addr().Unmap(), Dst: r.Dst.Addr().Unmap(),
		SrcPort: r.Src.Port(), DstPort: r.Dst.Port(),
		Proto: r.Proto,
	}
	var k Key
	srcIsA := makeKey(p, &k)
	a.sides = r.Sides
	a.add(p, &k, srcIsA, a.table.hash(&k), last, r.Bytes*rate, r.Packets*rate, true)
	a.sides = SidesFromNetworks
}
