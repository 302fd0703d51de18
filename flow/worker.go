package flow

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/jurismon/jurismon/capture"
)

// Worker is the pipeline of one capture worker: decode a frame, count the
// decode result, account the packet. run makes one per capture socket and
// analyze one for all its files; each is owned by one goroutine, so the
// packet path never contends.
type Worker struct {
	Decoder *capture.Decoder
	// Decodes are the decode results as of the last publication: at most
	// a second of frame time old, or up to the last idle poll or Flush.
	Decodes DecodeCounts
	Acct    *Accountant
	// Exclude, when set, is asked about each decoded packet (its protocol,
	// addresses, ports and frame); a packet it claims is decoded and
	// counted but not accounted. The live agent leaves out its own path
	// probes this way. Values, not a *capture.Packet, so that the packet
	// does not escape to the heap through the indirect call.
	Exclude func(proto uint8, src, dst netip.Addr, sport, dport uint16, frame []byte) bool

	// The results themselves are plain counters: an atomic store per
	// frame (an implicitly locked exchange on amd64) cost analyze 3%.
	counts      [capture.NumResults]uint64
	publishedAt int64          // frame time of the last publication
	p           capture.Packet // reused: zeroing a Packet per frame was 2% of analyze's instructions
}

// publishEvery is how often, in frame time, the decode counts are published.
const publishEvery = int64(time.Second)

// NewWorker returns a worker accounting into acct.
func NewWorker(acct *Accountant, decapsulate bool) *Worker {
	w := &Worker{Decoder: capture.NewDecoder(), Acct: acct}
	w.Decoder.Decapsulate = decapsulate
	return w
}

// Handle decodes and accounts one frame. The packet is accounted a few
// packets later (AddAhead), so that the cache misses of consecutive flows
// overlap. A nil frame means the source was idle for a poll interval: the
// accountant's clock still moves, so flows on a quiet link end and flagged
// ones are reported. It returns the decode result (capture.Decoded for a nil
// frame), for callers that say more about some results than the counts do
// (analyze names the link types it cannot decode).
func (w *Worker) Handle(f *capture.Frame) capture.Result {
	if f == nil {
		w.publish()
		w.Acct.Tick(time.Now().UnixNano())
		return capture.Decoded
	}
	p := &w.p
	r := w.Decoder.DecodeFrame(f, p)
	w.counts[r]++
	// A second on, or a clock that went back (negative: huge unsigned).
	if uint64(f.Timestamp-w.publishedAt) >= uint64(publishEvery) {
		w.publishedAt = f.Timestamp
		w.publish()
	}
	if r == capture.Decoded && (w.Exclude == nil || !w.Exclude(p.Proto, p.Src, p.Dst, p.SrcPort, p.DstPort, f.Data)) {
		w.Acct.AddAhead(p)
	}
	return r
}

// Flush ends every flow (Accountant.Flush) and publishes the decode counts:
// at the end of the input, or on shutdown.
func (w *Worker) Flush() {
	w.publish()
	w.Acct.Flush()
}

func (w *Worker) publish() {
	for r := range capture.NumResults {
		w.Decodes[r].Store(w.counts[r])
	}
}

// HandleRecord accounts one flow record (see Accountant.AddRecord).
func (w *Worker) HandleRecord(r *Record) { w.Acct.AddRecord(r) }

// DecodeCounts counts decode results for one worker. The worker is the only
// writer; anyone may read.
type DecodeCounts [capture.NumResults]atomic.Uint64

// Add counts one result.
func (d *DecodeCounts) Add(r capture.Result) { d[r].Store(d[r].Load() + 1) }

// Load returns the count of r.
func (d *DecodeCounts) Load(r capture.Result) uint64 { return d[r].Load() }

// Frames returns the frames counted, whatever their result.
func (d *DecodeCounts) Frames() uint64 {
	var n uint64
	for r := range capture.NumResults {
		n += d[r].Load()
	}
	return n
}
