package main

import (
	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/flow"
)

// router is analyze's reader side with --debug.split=route: one goroutine
// reads and decodes every frame and hands each decoded packet, with the
// part of its payload the accountant reads, to the worker that owns its
// flow (flow.Shard), in batches over bounded channels. Each worker then
// only accounts. One reader keeps each flow's packets in file order.
type router struct {
	dec    *capture.Decoder
	counts [capture.NumResults]uint64
	cur    []*packetBatch      // per worker, being filled
	out    []chan *packetBatch // per worker
	free   chan *packetBatch   // batches the workers are done with
	made   int
	p      capture.Packet
	clock  int64          // latest time of a decoded packet: every worker's clock (flow.Accountant.See)
	dns    flow.PacketTap // passive DNS, fed before the packets are routed
}

// packetBatch is a batch of decoded packets; their payloads point into arena.
type packetBatch struct {
	pkts   []capture.Packet
	clocks []int64 // the reader's clock at each packet
	arena  []byte
}

const (
	batchLen      = 512 // packets a batch
	queuedBatches = 4   // batches a worker may have waiting
)

func newRouter(n int, decapsulate bool) *router {
	r := &router{dec: capture.NewDecoder(), free: make(chan *packetBatch, n*(queuedBatches+2))}
	r.dec.Decapsulate = decapsulate
	for range n {
		r.cur = append(r.cur, r.batch())
		r.out = append(r.out, make(chan *packetBatch, queuedBatches))
	}
	return r
}

// batch returns an empty batch: a returned one, or a new one while there
// are fewer than the channels and the workers can hold, else it waits.
func (r *router) batch() *packetBatch {
	select {
	case b := <-r.free:
		return b
	default:
	}
	if r.made < cap(r.free) {
		r.made++
		return &packetBatch{pkts: make([]capture.Packet, 0, batchLen), clocks: make([]int64, 0, batchLen), arena: make([]byte, 0, batchLen*128)}
	}
	return <-r.free
}

// handle decodes f and queues it for its worker.
func (r *router) handle(f *capture.Frame) capture.Result {
	p := &r.p
	res := r.dec.DecodeFrame(f, p)
	r.counts[res]++
	if res != capture.Decoded {
		return res
	}
	r.clock = max(r.clock, p.Timestamp)
	if r.dns != nil {
		flow.TapDNS(r.dns, p)
	}
	i := flow.Shard(p, len(r.out))
	b := r.cur[i]
	if n := flow.PayloadKept(p); n > 0 {
		// The arena may move when it grows: earlier packets keep the
		// old array, which stays alive through them.
		at := len(b.arena)
		b.arena = append(b.arena, p.Payload[:n]...)
		p.Payload = b.arena[at:len(b.arena):len(b.arena)]
	} else {
		p.Payload = nil
	}
	b.pkts = append(b.pkts, *p)
	b.clocks = append(b.clocks, r.clock)
	if len(b.pkts) == batchLen {
		r.out[i] <- b
		r.cur[i] = r.batch()
	}
	return res
}

// close sends what is left and tells the workers the input is done.
func (r *router) close() {
	for i, b := range r.cur {
		if len(b.pkts) > 0 {
			r.out[i] <- b
		}
		close(r.out[i])
	}
}

// account runs a worker: it accounts the batches of in until it is closed.
func (r *router) account(w *flow.Worker, in <-chan *packetBatch) {
	for b := range in {
		for j := range b.pkts {
			// The clock as one worker's would be at this packet,
			// which came after the other workers' packets before it.
			w.Acct.See(b.clocks[j])
			w.Acct.AddAhead(&b.pkts[j])
		}
		b.pkts, b.clocks, b.arena = b.pkts[:0], b.clocks[:0], b.arena[:0]
		r.free <- b
	}
	w.Flush()
}
