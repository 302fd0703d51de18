package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/latency"
)

// Method is the kind of probe packet.
type Method uint8

// The probe methods.
const (
	MethodUDP  Method = iota + 1 // UDP datagrams; the destination answers port unreachable
	MethodTCP                    // TCP SYN to the real service port; the destination answers SYN-ACK or RST
	MethodICMP                   // ICMP (or ICMPv6) echo requests
)

func (m Method) String() string {
	switch m {
	case MethodUDP:
		return "udp"
	case MethodTCP:
		return "tcp"
	case MethodICMP:
		return "icmp"
	}
	return fmt.Sprintf("method(%d)", m)
}

// MarshalText writes the method's name.
func (m Method) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a method's name.
func (m *Method) UnmarshalText(b []byte) error {
	v, err := ParseMethod(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// ParseMethod reads "udp", "tcp" or "icmp".
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "udp":
		return MethodUDP, nil
	case "tcp":
		return MethodTCP, nil
	case "icmp":
		return MethodICMP, nil
	}
	return 0, fmt.Errorf("probe: unknown method %q (want udp, tcp or icmp)", s)
}

// DefaultUDPPort is the first traceroute port, used when a UDP target has
// no port.
const DefaultUDPPort = 33434

// Target is one destination to trace.
type Target struct {
	Name   string `json:"name"`   // label in metrics; AutoTarget for traffic-picked destinations
	Host   string `json:"host"`   // host name or address
	Port   uint16 `json:"port"`   // destination port for UDP and TCP
	Method Method `json:"method"` // probe kind
}

// AutoTarget is the target label of destinations picked from traffic.
const AutoTarget = "auto"

// Hop is one TTL of a trace.
type Hop struct {
	TTL          int           `json:"ttl"`
	Addr         netip.Addr    `json:"addr,omitzero"`
	RTT          time.Duration `json:"rtt_ns,omitempty"`
	Answered     bool          `json:"answered"`
	Location     *geo.Location `json:"location,omitempty"`
	Jurisdiction string        `json:"jurisdiction,omitempty"`
	Flagged      bool          `json:"flagged,omitempty"`
	// Implausible is set when RTT is below the physical minimum between the
	// agent and the hop's claimed country: the location cannot be right.
	Implausible bool          `json:"implausible,omitempty"`
	MinRTT      time.Duration `json:"min_rtt_ns,omitempty"` // that minimum, where known
	Reply       string        `json:"reply,omitempty"`      // time-exceeded, unreachable, echo-reply, tcp
}

// Trace is the result of tracing one target.
type Trace struct {
	Target   Target        `json:"target"`
	Dst      netip.Addr    `json:"dst"`
	Src      netip.Addr    `json:"src"`
	Hops     []Hop         `json:"hops"`
	Reached  bool          `json:"reached"`
	TimedOut bool          `json:"timed_out,omitempty"` // the trace's time ran out before it ended
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
}

// Answered returns the hops that answered, in order.
func (t *Trace) Answered() []Hop {
	var out []Hop
	for _, h := range t.Hops {
		if h.Answered {
			out = append(out, h)
		}
	}
	return out
}

// Locator resolves an address to a location; *geo.Resolver is one.
type Locator interface {
	Lookup(netip.Addr) *geo.Location
}

// Judge tells the jurisdiction of a located address and whether it is
// flagged. The agent wires it to its policy (policy.Verdict's Jurisdiction
// and Flagged()); a nil location may be passed.
type Judge func(addr netip.Addr, loc *geo.Location) (jurisdiction string, flagged bool)

// Options configure a Prober. Zero values take the defaults.
type Options struct {
	MaxTTL        int            // highest TTL probed (default 30)
	MaxSilent     int            // consecutive unanswered hops after which a trace stops (default 5)
	Attempts      int            // probes per hop before it counts as silent (default 2, at most 8)
	ProbeTimeout  time.Duration  // wait for one reply (default 1s)
	TraceTimeout  time.Duration  // whole-trace limit (default 60s)
	Concurrency   int            // traces at once (default 4)
	ProbesPerSec  float64        // global probe rate (default 50)
	Burst         int            // token bucket size (default 10)
	Locator       Locator        // optional: hop locations
	Judge         Judge          // optional: hop jurisdictions
	Origin        latency.Origin // optional: agent location for the plausibility check
	SourcePortMin uint16         // first local port of UDP and TCP traces (default 40000)
}

func (o *Options) applyDefaults() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxTTL, 30)
	def(&o.MaxSilent, 5)
	def(&o.Attempts, 2)
	def(&o.Concurrency, 4)
	def(&o.Burst, 10)
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = time.Second
	}
	if o.TraceTimeout == 0 {
		o.TraceTimeout = 60 * time.Second
	}
	if o.ProbesPerSec == 0 {
		o.ProbesPerSec = 50
	}
	if o.SourcePortMin == 0 {
		o.SourcePortMin = 40000
	}
	switch {
	case o.MaxTTL < 1 || o.MaxTTL > 255:
		return fmt.Errorf("probe: max TTL %d out of range 1..255", o.MaxTTL)
	case o.MaxSilent < 1:
		return fmt.Errorf("probe: max silent hops %d must be at least 1", o.MaxSilent)
	case o.Attempts < 1 || o.Attempts > 8:
		return fmt.Errorf("probe: attempts %d out of range 1..8", o.Attempts)
	case o.Concurrency < 1:
		return fmt.Errorf("probe: concurrency %d must be at least 1", o.Concurrency)
	case o.ProbesPerSec <= 0:
		return fmt.Errorf("probe: probes per second %v must be positive", o.ProbesPerSec)
	case o.ProbeTimeout < 0 || o.TraceTimeout < 0:
		return errors.New("probe: timeouts must be positive")
	case o.SourcePortMin > 65535-portSpan:
		return fmt.Errorf("probe: source port %d leaves no room for %d ports", o.SourcePortMin, portSpan)
	}
	return nil
}

// portSpan is how many local ports traces rotate through.
const portSpan = 4096

// Prober sends probes and matches replies. It is safe for concurrent use.
type Prober struct {
	opts    Options
	socks   *sockets
	limiter *bucket
	sem     chan struct{}

	mu      sync.Mutex
	waiting map[probeKey]chan received
	// flows are the keys of traces in progress (zero time) and of traces
	// that ended, until the time their late replies may still arrive.
	flows  map[flowKey]time.Time
	own    atomic.Pointer[ownSet] // snapshot of flows for Owns
	nextID uint16

	stats      probeStats
	implMu     sync.Mutex
	implausibl map[string]uint64 // by country

	stop chan struct{}
	wg   sync.WaitGroup
}

type probeKey struct {
	flowKey
	ident uint16
}

type received struct {
	r  reply
	at time.Time
}

type probeStats struct {
	answered, timeout, sendErr atomic.Uint64
	captured                   atomic.Uint64 // packets Owns recognised on the capture path
}

// NewProber opens the raw sockets (needs CAP_NET_RAW) in the network
// namespace of the calling thread and starts the receive loops.
func NewProber(opts Options) (*Prober, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	socks, err := openSockets()
	if err != nil {
		return nil, err
	}
	p := &Prober{
		opts:       opts,
		socks:      socks,
		limiter:    newBucket(opts.ProbesPerSec, opts.Burst),
		sem:        make(chan struct{}, opts.Concurrency),
		waiting:    map[probeKey]chan received{},
		flows:      map[flowKey]time.Time{},
		implausibl: map[string]uint64{},
		stop:       make(chan struct{}),
	}
	for _, recv := range socks.receivers() {
		p.wg.Add(1)
		go p.receive(recv)
	}
	return p, nil
}

// Close stops the receive loops and closes the sockets.
func (p *Prober) Close() error {
	select {
	case <-p.stop:
		return nil
	default:
	}
	close(p.stop)
	p.wg.Wait()
	p.socks.close()
	return nil
}

// IPv6Error says why IPv6 probing is unavailable, or nil.
func (p *Prober) IPv6Error() error { return p.socks.err6 }

func (p *Prober) receive(recv func([]byte, *parser) (reply, bool, error)) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	var ps parser
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		r, ok, err := recv(buf, &ps)
		at := time.Now()
		if err != nil {
			if isTimeout(err) {
				continue
			}
			return
		}
		if !ok {
			continue
		}
		p.mu.Lock()
		ch := p.waiting[probeKey{r.key, r.ident}]
		p.mu.Unlock()
		if ch != nil {
			select {
			case ch <- received{r, at}:
			default: // a duplicate reply: the first one counts
			}
		}
	}
}

// Resolve turns a target host into an address: a literal, or the first
// address a DNS lookup returns (IPv4 first).
func Resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("probe: resolve %q: %w", host, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("probe: resolve %q: no addresses", host)
	}
	return addrs[0], nil
}

// Trace resolves the target's host and traces the path to it.
func (p *Prober) Trace(ctx context.Context, t Target) (*Trace, error) {
	dst, err := Resolve(ctx, t.Host)
	if err != nil {
		return nil, err
	}
	return p.TraceAddr(ctx, t, dst)
}

// TraceAddr traces the path to dst. When the trace's own time limit runs
// out it returns what it found with TimedOut set and no error; an error is
// returned for bad input, a failed send or a cancelled ctx (with the
// partial trace).
func (p *Prober) TraceAddr(ctx context.Context, t Target, dst netip.Addr) (*Trace, error) {
	if t.Method < MethodUDP || t.Method > MethodICMP {
		return nil, fmt.Errorf("probe: target %q: unknown method %d", t.Name, t.Method)
	}
	if t.Method == MethodTCP && t.Port == 0 {
		return nil, fmt.Errorf("probe: target %q: TCP needs the destination's port", t.Name)
	}
	dst = dst.Unmap()
	if !dst.IsValid() || dst.IsUnspecified() || dst.IsMulticast() {
		return nil, fmt.Errorf("probe: target %q: cannot trace to %v", t.Name, dst)
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.sem }()

	src, err := p.socks.source(dst)
	if err != nil {
		return nil, err
	}
	f := flow{method: t.Method, src: src, dst: dst, dstPort: t.Port}
	if t.Method == MethodUDP && f.dstPort == 0 {
		f.dstPort = DefaultUDPPort
	}
	release := p.claimFlow(&f)
	defer release()

	tr := &Trace{Target: t, Dst: dst, Src: src, Started: time.Now()}
	tctx, cancel := context.WithTimeout(ctx, p.opts.TraceTimeout)
	defer cancel()
	b := newBuilder()
	silent := 0
	var runErr error
loop:
	for ttl := 1; ttl <= p.opts.MaxTTL; ttl++ {
		hop := Hop{TTL: ttl}
		for attempt := 1; attempt <= p.opts.Attempts; attempt++ {
			rec, ok, err := p.probe(tctx, b, f, uint8(ttl), uint16(ttl)<<8|uint16(attempt))
			if err != nil {
				if tctx.Err() != nil && ctx.Err() == nil {
					tr.TimedOut = true
				} else {
					runErr = err
				}
				break loop
			}
			if ok {
				hop.Answered, hop.Addr = true, rec.r.from
				hop.RTT = rec.at.Sub(rec.sent)
				hop.Reply = rec.r.kind.String()
				break
			}
		}
		tr.Hops = append(tr.Hops, hop)
		if !hop.Answered {
			silent++
			if silent >= p.opts.MaxSilent {
				break
			}
			continue
		}
		silent = 0
		if hop.Addr == dst {
			tr.Reached = true
			break
		}
		if hop.Reply == replyUnreachable.String() {
			break // a router refused to forward: nothing further answers
		}
	}
	tr.Duration = time.Since(tr.Started)
	p.annotate(tr)
	return tr, runErr
}

// claimFlow picks a flow identifier no other running trace to the same
// destination uses, and returns its release.
func (p *Prober) claimFlow(f *flow) func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweepFlows(time.Now())
	for {
		p.nextID++
		if f.method == MethodICMP {
			f.icmpSum = p.nextID | 0x8000 // never 0 nor a small value
		} else {
			f.srcPort = p.opts.SourcePortMin + p.nextID%portSpan
		}
		if k := f.key(); !p.claimed(k) {
			p.flows[k] = time.Time{}
			p.publishOwn()
			return func() {
				p.mu.Lock()
				p.flows[k] = time.Now().Add(ownLinger) // Owns still recognises late replies
				p.mu.Unlock()
				time.AfterFunc(ownLinger+time.Second, func() {
					p.mu.Lock()
					p.sweepFlows(time.Now())
					p.mu.Unlock()
				})
			}
		}
	}
}

// claimed reports whether a trace in progress or lingering holds k; p.mu
// must be held.
func (p *Prober) claimed(k flowKey) bool {
	_, ok := p.flows[k]
	return ok
}

type answer struct {
	received
	sent time.Time
}

// probe sends one probe and waits for its reply; ok is false on timeout.
func (p *Prober) probe(ctx context.Context, b *builder, f flow, ttl uint8, ident uint16) (answer, bool, error) {
	if err := p.limiter.wait(ctx); err != nil {
		return answer{}, false, err
	}
	pkt, err := b.build(f, ttl, ident)
	if err != nil {
		return answer{}, false, err
	}
	key := probeKey{f.key(), ident}
	ch := make(chan received, 1)
	p.mu.Lock()
	p.waiting[key] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, key)
		p.mu.Unlock()
	}()
	sent := time.Now()
	if err := p.socks.send(f.method, f.dst, ttl, pkt); err != nil {
		p.stats.sendErr.Add(1)
		return answer{}, false, fmt.Errorf("probe: send to %v: %w", f.dst, err)
	}
	t := time.NewTimer(p.opts.ProbeTimeout)
	defer t.Stop()
	select {
	case rec := <-ch:
		p.stats.answered.Add(1)
		return answer{rec, sent}, true, nil
	case <-t.C:
		p.stats.timeout.Add(1)
		return answer{}, false, nil
	case <-ctx.Done():
		return answer{}, false, ctx.Err()
	}
}

func (k replyKind) String() string {
	switch k {
	case replyTimeExceeded:
		return "time-exceeded"
	case replyUnreachable:
		return "unreachable"
	case replyEcho:
		return "echo-reply"
	case replyTCP:
		return "tcp"
	}
	return "unknown"
}

// annotate fills the location, jurisdiction and plausibility of each
// answered hop.
func (p *Prober) annotate(tr *Trace) {
	for i := range tr.Hops {
		h := &tr.Hops[i]
		if !h.Answered {
			continue
		}
		if p.opts.Locator != nil {
			h.Location = p.opts.Locator.Lookup(h.Addr)
		}
		if p.opts.Judge != nil {
			h.Jurisdiction, h.Flagged = p.opts.Judge(h.Addr, h.Location)
		}
		if h.Location == nil || h.Location.Country == "" || h.Location.Country == geo.Unknown {
			continue
		}
		if min, ok := p.opts.Origin.MinRTT(h.Location.Country); ok {
			h.MinRTT = min
			if h.RTT < min {
				h.Implausible = true
				p.implMu.Lock()
				p.implausibl[h.Location.Country]++
				p.implMu.Unlock()
			}
		}
	}
}
