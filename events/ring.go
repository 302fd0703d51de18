package events

import "sync"

// ring keeps the latest events for the API. The writer adds, HTTP reads.
type ring struct {
	mu   sync.Mutex
	buf  []Event
	next int // where the next event goes
	full bool
}

func newRing(n int) ring { return ring{buf: make([]Event, n)} }

func (r *ring) add(e Event) {
	r.mu.Lock()
	r.buf[r.next] = e
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// latest copies up to n events, newest first (all of them when n <= 0).
func (r *ring) latest(n int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	have := r.next
	if r.full {
		have = len(r.buf)
	}
	if n <= 0 || n > have {
		n = have
	}
	out := make([]Event, n)
	for i := range n {
		out[i] = r.buf[(r.next-1-i+len(r.buf))%len(r.buf)]
	}
	return out
}
