package flow

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// An Observer is told what an accountant learns. It implements one or more
// of StartObserver, FlaggedObserver, HandshakeObserver, TTLObserver and
// EndObserver (and TunnelObserver, in tunnel.go);
// NewAccountant sorts the observers it is given by those interfaces, once.
// Observers run on the packet path's goroutine, of every accountant at
// once: they must be quick, safe for concurrent use, and must not keep the
// pointers they are passed.
type Observer any

// FlaggedObserver receives flagged flows when they end (Ended set) and, with
// Config.EventInterval, periodically while they last.
type FlaggedObserver interface {
	ObserveFlagged(*Event)
}

// HandshakeObserver receives the SYN → SYN-ACK time of TCP connections that
// a local host opened to a remote one (f's remote), with the verdict of the
// policy in force.
type HandshakeObserver interface {
	ObserveHandshake(f *enrich.Facts, v policy.Verdict, rtt time.Duration)
}

// TTLObserver receives the TTL (or hop limit) of the first packet that each
// flow receives from a remote endpoint.
type TTLObserver interface {
	ObserveTTL(remote netip.Addr, loc *geo.Location, ttl uint8)
}

// EndObserver receives every flow that ends and has a remote endpoint (for
// picking destinations to trace, and for the device inventory), described
// from the side of its flagged endpoint, else of the one its facts are of.
type EndObserver interface {
	ObserveEnded(*Event)
}

// StartObserver receives every new flow that has a remote endpoint, once it
// is enriched and judged, with the time of its first packet (Unix
// nanoseconds): the facts of the side the flow keeps (see FlowEvent).
type StartObserver interface {
	ObserveStarted(f *enrich.Facts, v policy.Verdict, at int64)
}

// observers are an accountant's observers by interface.
type observers struct {
	started   []StartObserver
	flagged   []FlaggedObserver
	handshake []HandshakeObserver
	ttl       []TTLObserver
	ended     []EndObserver
	tunnel    []TunnelObserver
}

// sortObservers files each observer under every interface it implements.
// One that implements none is a wiring mistake, caught by the first test
// that builds the accountant.
func sortObservers(obs []Observer) observers {
	var s observers
	for _, o := range obs {
		n := 0
		if st, ok := o.(StartObserver); ok {
			s.started = append(s.started, st)
			n++
		}
		if f, ok := o.(FlaggedObserver); ok {
			s.flagged = append(s.flagged, f)
			n++
		}
		if h, ok := o.(HandshakeObserver); ok {
			s.handshake = append(s.handshake, h)
			n++
		}
		if t, ok := o.(TTLObserver); ok {
			s.ttl = append(s.ttl, t)
			n++
		}
		if e, ok := o.(EndObserver); ok {
			s.ended = append(s.ended, e)
			n++
		}
		if t, ok := o.(TunnelObserver); ok {
			s.tunnel = append(s.tunnel, t)
			n++
		}
		if n == 0 {
			panic(fmt.Sprintf("flow: observer %T implements no observer interface", o))
		}
	}
	return s
}

// FlaggedFunc adapts a function to a FlaggedObserver.
type FlaggedFunc func(*Event)

// ObserveFlagged calls f.
func (f FlaggedFunc) ObserveFlagged(ev *Event) { f(ev) }

// HandshakeFunc adapts a function to a HandshakeObserver.
type HandshakeFunc func(f *enrich.Facts, v policy.Verdict, rtt time.Duration)

// ObserveHandshake calls h.
func (h HandshakeFunc) ObserveHandshake(f *enrich.Facts, v policy.Verdict, rtt time.Duration) {
	h(f, v, rtt)
}

// TTLFunc adapts a function to a TTLObserver.
type TTLFunc func(remote netip.Addr, loc *geo.Location, ttl uint8)

// ObserveTTL calls t.
func (t TTLFunc) ObserveTTL(remote netip.Addr, loc *geo.Location, ttl uint8) { t(remote, loc, ttl) }

// EndedFunc adapts a function to an EndObserver.
type EndedFunc func(*Event)

// ObserveEnded calls e.
func (e EndedFunc) ObserveEnded(ev *Event) { e(ev) }
