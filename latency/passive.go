package latency

import (
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Detour rule: a handshake RTT above DetourFactor × the physical minimum
// for the remote's country plus DetourSlack is counted as a detour. The
// factor covers ordinary fibre routes, which are rarely straight (typical
// path stretch is 1.5–2); the slack covers queueing, last-mile and server
// delays that have nothing to do with distance.
const (
	DetourFactor = 2
	DetourSlack  = 50 * time.Millisecond
)

// PassiveOptions configure a PassiveRTT.
type PassiveOptions struct {
	Origin Origin // the agent's location; without it no detour or plausibility check is made
	// MaxPrefixes bounds the hop-count memory (default 16384 prefixes).
	MaxPrefixes int
	// OnHopChange is called (outside any lock) when the hop count from a
	// prefix changes; wire it to Scheduler.Hint. May be nil.
	OnHopChange func(remote netip.Addr)
}

// PassiveRTT turns signals of live traffic (TCP handshake RTTs, the TTL
// of arriving packets) into metrics. It is safe for concurrent use.
type PassiveRTT struct {
	opts PassiveOptions

	metrics
	byCountry, byJurisdict sync.Map // string → prometheus.Observer, cached children

	mu       sync.Mutex
	cur, old map[netip.Prefix]*hopState // two generations: bounded, cheap LRU-ish eviction
}

type hopState struct {
	hops, candidate uint8
	seen            uint8 // consecutive sightings of candidate
}

// NewPassiveRTT returns a PassiveRTT; register its Collector to export
// what it measures.
func NewPassiveRTT(opts PassiveOptions) *PassiveRTT {
	if opts.MaxPrefixes <= 0 {
		opts.MaxPrefixes = 16384
	}
	return &PassiveRTT{
		opts:    opts,
		metrics: newPassiveMetrics(),
		cur:     map[netip.Prefix]*hopState{},
		old:     map[netip.Prefix]*hopState{},
	}
}

// ObserveHandshake records one SYN to SYN-ACK time. jurisdiction is empty
// unless the remote is in a flagged jurisdiction. Country labels are
// limited to codes in the country table plus "unknown".
func (p *PassiveRTT) ObserveHandshake(remote netip.Addr, country, jurisdiction string, rtt time.Duration) {
	if rtt <= 0 {
		return
	}
	if !HasCountry(country) {
		country = "unknown"
	}
	sec := rtt.Seconds()
	child(&p.byCountry, p.rtt, country).Observe(sec)
	if jurisdiction != "" {
		child(&p.byJurisdict, p.flaggedRTT, jurisdiction).Observe(sec)
	}
	if country == "unknown" {
		return
	}
	min, ok := p.opts.Origin.MinRTT(country)
	if !ok {
		return
	}
	// Both counters exist from the country's first handshake on, so that
	// increase() sees the first implausible RTT or detour.
	implausible, detours := p.implausible.WithLabelValues(country), p.detours.WithLabelValues(country)
	switch {
	case rtt < min:
		implausible.Inc()
	case rtt > DetourFactor*min+DetourSlack:
		detours.Inc()
	}
}

func child(cache *sync.Map, vec *prometheus.HistogramVec, label string) prometheus.Observer {
	if o, ok := cache.Load(label); ok {
		return o.(prometheus.Observer)
	}
	o := vec.WithLabelValues(label)
	cache.Store(label, o)
	return o
}

// InitialTTL guesses the TTL a packet started with: the smallest of the
// usual initial values (64 for Linux and macOS, 128 for Windows, 255 for
// many routers and Solaris) that is not below the observed one.
func InitialTTL(ttl uint8) uint8 {
	switch {
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}

// ObserveTTL records the TTL of a packet from remote. The hop count
// (initial TTL − TTL) is remembered per /24 or /48; a different count seen
// twice in a row is counted as a change and reported to OnHopChange.
func (p *PassiveRTT) ObserveTTL(remote netip.Addr, country string, ttl uint8) {
	remote = remote.Unmap()
	if !remote.IsValid() || ttl == 0 {
		return
	}
	if !HasCountry(country) {
		country = "unknown" // before the first label below: labels stay bounded
	}
	hops := InitialTTL(ttl) - ttl
	pfx := RoutePrefix(remote)
	changed := false
	p.mu.Lock()
	st := p.cur[pfx]
	if st == nil {
		if st = p.old[pfx]; st != nil {
			delete(p.old, pfx)
		} else {
			st = &hopState{hops: hops}
			// The country's change counter exists from its first prefix
			// on, so that increase() sees the first change.
			p.hopChanges.WithLabelValues(country)
		}
		if len(p.cur) >= p.opts.MaxPrefixes/2 {
			// Rotate generations: what was not seen for a whole
			// generation is forgotten.
			p.old, p.cur = p.cur, make(map[netip.Prefix]*hopState, p.opts.MaxPrefixes/2)
		}
		p.cur[pfx] = st
	}
	switch {
	case hops == st.hops:
		st.seen = 0
	case hops == st.candidate && st.seen > 0:
		// Two sightings in a row: one odd packet (another host in the
		// prefix behind a different path, say) is not a route change.
		st.hops, st.seen = hops, 0
		changed = true
	default:
		st.candidate, st.seen = hops, 1
	}
	p.mu.Unlock()
	if changed {
		p.hopChanges.WithLabelValues(country).Inc()
		if p.opts.OnHopChange != nil {
			p.opts.OnHopChange(remote)
		}
	}
}

// RoutePrefix is the prefix that a remote address is assumed to share its
// route with: its /24 (IPv4) or /48 (IPv6), the longest prefixes that are
// routed between networks. Hop counts are kept, and paths traced, per prefix.
func RoutePrefix(a netip.Addr) netip.Prefix {
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}
