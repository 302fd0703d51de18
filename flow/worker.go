package flow

import (
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
	Decodes DecodeCounts
	Acct    *Accountant
}

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
// ones are reported.
func (w *Worker) Handle(f *capture.Frame) {
	if f == nil {
		w.Acct.Tick(time.Now().UnixNano())
		return
	}
	var p capture.Packet
	r := w.Decoder.DecodeFrame(f, &p)
	w.Decodes.Add(r)
	if r == capture.Decoded {
		w.Acct.AddAhead(&p)
	}
}

// HandleRecord accounts one flow record (see Accountant.AddRecord).
func (w *Worker) HandleRecord(r *Record) { w.Acct.AddRecord(r) }

// DecodeCounts counts decode results for one worker. The worker is the only
// writer (a load and a store, no locked instruction); anyone may read.
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
