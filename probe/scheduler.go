package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/latency"
)

// Tracer traces one destination; *Prober is the real one.
type Tracer interface {
	TraceAddr(ctx context.Context, t Target, dst netip.Addr) (*Trace, error)
}

// SchedulerOptions configure a Scheduler. Zero values take the defaults.
type SchedulerOptions struct {
	Targets  []Target      // configured targets, traced every Interval
	Interval time.Duration // re-trace period (default 10m)
	Workers  int           // traces run at once by the scheduler (default 2)
	Queue    int           // pending traces; more are dropped and counted (default 64)

	// Auto enables destinations picked from traffic (Observe).
	Auto        bool
	AutoTop     int     // top prefixes by bytes re-traced each interval (default 10)
	AutoMethod  Method  // probe kind for picked destinations (default ICMP)
	AutoPort    uint16  // their port (UDP/TCP)
	AutoPerHour float64 // global limit on traces of picked destinations (default 120)
	MaxPrefixes int     // prefixes remembered (default 4096)
	// LookupDocumentation lets the documentation ranges be picked (labs
	// and tests); other special-purpose addresses never are.
	LookupDocumentation bool

	// ChangeLog receives one record per path change; give it a JSON
	// handler for one JSON line each. Nil discards them.
	ChangeLog *slog.Logger
	// Resolve turns a host into an address (default Resolve).
	Resolve func(ctx context.Context, host string) (netip.Addr, error)
}

func (o *SchedulerOptions) applyDefaults() error {
	if o.Interval == 0 {
		o.Interval = 10 * time.Minute
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.Queue == 0 {
		o.Queue = 64
	}
	if o.AutoTop == 0 {
		o.AutoTop = 10
	}
	if o.AutoMethod == 0 {
		o.AutoMethod = MethodICMP
	}
	if o.AutoPerHour == 0 {
		o.AutoPerHour = 120
	}
	if o.MaxPrefixes == 0 {
		o.MaxPrefixes = 4096
	}
	if o.ChangeLog == nil {
		o.ChangeLog = slog.New(slog.DiscardHandler)
	}
	if o.Resolve == nil {
		o.Resolve = Resolve
	}
	switch {
	case o.Interval < time.Second:
		return fmt.Errorf("probe: interval %v is below 1s", o.Interval)
	case o.Workers < 1 || o.Queue < 1 || o.AutoTop < 0 || o.MaxPrefixes < 2:
		return errors.New("probe: workers, queue and max prefixes must be positive")
	case o.AutoPerHour < 0:
		return fmt.Errorf("probe: auto traces per hour %v must not be negative", o.AutoPerHour)
	case o.AutoMethod == MethodTCP && o.AutoPort == 0:
		return errors.New("probe: auto TCP probing needs a port")
	}
	names := map[string]bool{}
	for _, t := range o.Targets {
		switch {
		case t.Name == "" || t.Name == AutoTarget:
			return fmt.Errorf("probe: target %q: a name other than %q is required", t.Host, AutoTarget)
		case names[t.Name]:
			return fmt.Errorf("probe: target name %q used twice", t.Name)
		case t.Host == "":
			return fmt.Errorf("probe: target %q has no host", t.Name)
		case t.Method < MethodUDP || t.Method > MethodICMP:
			return fmt.Errorf("probe: target %q: unknown method", t.Name)
		case t.Method == MethodTCP && t.Port == 0:
			return fmt.Errorf("probe: target %q: TCP needs a port", t.Name)
		}
		names[t.Name] = true
	}
	return nil
}

// Scheduler decides what to trace and keeps the latest trace of each
// destination. It is safe for concurrent use.
type Scheduler struct {
	tracer Tracer
	opts   SchedulerOptions
	queue  chan job
	auto   *bucket

	mu       sync.Mutex
	pending  map[string]bool          // keys queued or running
	paths    map[string]*pathState    // by key
	prefixes map[netip.Prefix]*prefix // traffic-picked candidates
	changes  map[string]uint64        // by target label

	dropped, traced, failed atomic.Uint64
}

type job struct {
	key    string
	target Target
	dst    netip.Addr // resolved when the job runs if invalid
	auto   bool
}

type pathState struct {
	trace *Trace
	asns  []uint32
}

type prefix struct {
	bytes uint64
	last  netip.Addr
}

// NewScheduler validates opts. Call Run to start tracing.
func NewScheduler(t Tracer, opts SchedulerOptions) (*Scheduler, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	burst := max(1, int(opts.AutoPerHour/60))
	return &Scheduler{
		tracer:   t,
		opts:     opts,
		queue:    make(chan job, opts.Queue),
		auto:     newBucket(opts.AutoPerHour/3600, burst),
		pending:  map[string]bool{},
		paths:    map[string]*pathState{},
		prefixes: map[netip.Prefix]*prefix{},
		changes:  map[string]uint64{},
	}, nil
}

// Run traces until ctx ends: configured targets and the top prefixes at
// once and then every interval, and whatever Observe and Hint queue.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		s.Tick()
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		}
	}
}

// Tick queues every configured target and the top traffic prefixes; Run
// calls it each interval.
func (s *Scheduler) Tick() {
	for _, t := range s.opts.Targets {
		s.enqueue(job{key: "target/" + t.Name, target: t})
	}
	if !s.opts.Auto {
		return
	}
	type cand struct {
		p netip.Prefix
		prefix
	}
	s.mu.Lock()
	cands := make([]cand, 0, len(s.prefixes))
	for p, st := range s.prefixes {
		cands = append(cands, cand{p, *st})
		st.bytes /= 2 // decay: the top is about recent traffic
	}
	s.mu.Unlock()
	sort.Slice(cands, func(i, j int) bool { return cands[i].bytes > cands[j].bytes })
	for _, c := range cands[:min(len(cands), s.opts.AutoTop)] {
		s.enqueue(s.autoJob(c.p, c.last))
	}
}

func (s *Scheduler) autoJob(p netip.Prefix, addr netip.Addr) job {
	return job{
		key:    "auto/" + p.String(),
		target: Target{Name: AutoTarget, Host: addr.String(), Port: s.opts.AutoPort, Method: s.opts.AutoMethod},
		dst:    addr,
		auto:   true,
	}
}

// enqueue adds a job unless the same key is already queued; a full queue
// drops it (counted).
func (s *Scheduler) enqueue(j job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[j.key] {
		return false
	}
	select {
	case s.queue <- j:
		s.pending[j.key] = true
		return true
	default:
		s.dropped.Add(1)
		return false
	}
}

func (s *Scheduler) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.queue:
			s.run(ctx, j)
			s.mu.Lock()
			delete(s.pending, j.key)
			s.mu.Unlock()
		}
	}
}

func (s *Scheduler) run(ctx context.Context, j job) {
	if j.auto {
		// The global limit that keeps traffic-picked tracing from ever
		// becoming a scan: a job waits for its token.
		if err := s.auto.wait(ctx); err != nil {
			return
		}
	}
	dst := j.dst
	if !dst.IsValid() {
		var err error
		if dst, err = s.opts.Resolve(ctx, j.target.Host); err != nil {
			s.failed.Add(1)
			s.opts.ChangeLog.Warn("cannot resolve target", "target", j.target.Name, "host", j.target.Host, "err", err)
			return
		}
	}
	tr, err := s.tracer.TraceAddr(ctx, j.target, dst)
	if err != nil || tr == nil {
		s.failed.Add(1)
		return
	}
	s.traced.Add(1)
	s.record(j.key, tr)
}

// Observe records bytes exchanged with a remote address (from the flow
// accounting). A prefix (/24, /48) seen for the first time is queued for a
// trace; the busiest are re-traced every interval. Cheap: one map update.
func (s *Scheduler) Observe(remote netip.Addr, bytes uint64) {
	if !s.opts.Auto {
		return
	}
	remote = remote.Unmap()
	if !remote.IsValid() || geo.Classify(remote, s.opts.LookupDocumentation) != geo.ClassPublic {
		return
	}
	p := latency.RoutePrefix(remote)
	s.mu.Lock()
	st, ok := s.prefixes[p]
	if ok {
		st.bytes += bytes
		st.last = remote
		s.mu.Unlock()
		return
	}
	if len(s.prefixes) >= s.opts.MaxPrefixes {
		s.evictLocked()
	}
	s.prefixes[p] = &prefix{bytes: bytes, last: remote}
	s.mu.Unlock()
	s.enqueue(s.autoJob(p, remote))
}

// evictLocked drops the less busy half of the remembered prefixes, so the
// cost is amortised over the next MaxPrefixes/2 new ones.
func (s *Scheduler) evictLocked() {
	sizes := make([]uint64, 0, len(s.prefixes))
	for _, st := range s.prefixes {
		sizes = append(sizes, st.bytes)
	}
	slices.Sort(sizes)
	median := sizes[len(sizes)/2]
	n := 0
	for p, st := range s.prefixes {
		if st.bytes <= median && n < len(sizes)/2+1 {
			delete(s.prefixes, p)
			delete(s.paths, "auto/"+p.String())
			n++
		}
	}
}

// Hint says the path to remote looks changed (for example its hop count
// moved): the configured target or picked prefix that holds it is
// re-traced soon, within the same limits.
func (s *Scheduler) Hint(remote netip.Addr) {
	remote = remote.Unmap()
	p := latency.RoutePrefix(remote)
	s.mu.Lock()
	var jobs []job
	for _, ps := range s.paths {
		if ps.trace.Target.Name != AutoTarget && p.Contains(ps.trace.Dst) {
			for _, t := range s.opts.Targets {
				if t.Name == ps.trace.Target.Name {
					jobs = append(jobs, job{key: "target/" + t.Name, target: t})
				}
			}
		}
	}
	st, auto := s.prefixes[p]
	s.mu.Unlock()
	if auto {
		jobs = append(jobs, s.autoJob(p, st.last))
	}
	for _, j := range jobs {
		s.enqueue(j)
	}
}

// asPath is the sequence of ASNs of the answering hops, with repeats and
// unknown ASNs left out: what a path change is measured on, so that a new
// router address inside the same networks is not a change.
func asPath(tr *Trace) []uint32 {
	var out []uint32
	for _, h := range tr.Hops {
		if !h.Answered || h.Location == nil || h.Location.ASN == 0 {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != h.Location.ASN {
			out = append(out, h.Location.ASN)
		}
	}
	return out
}

// record stores a trace and counts and logs a change of AS path.
func (s *Scheduler) record(key string, tr *Trace) {
	asns := asPath(tr)
	s.mu.Lock()
	prev := s.paths[key]
	s.paths[key] = &pathState{trace: tr, asns: asns}
	changed := prev != nil && len(asns) > 0 && len(prev.asns) > 0 && !slices.Equal(prev.asns, asns)
	if changed {
		s.changes[tr.Target.Name]++
	}
	s.mu.Unlock()
	if changed {
		s.opts.ChangeLog.Info("path changed",
			"target", tr.Target.Name, "dst", tr.Dst.String(), "method", tr.Target.Method.String(),
			"previous_asns", prev.asns, "asns", asns,
			"previous_hops", hopSummary(prev.trace), "hops", hopSummary(tr),
			"flagged", flaggedJurisdictions(tr))
	}
}

func hopSummary(tr *Trace) []string {
	out := make([]string, 0, len(tr.Hops))
	for _, h := range tr.Hops {
		switch {
		case !h.Answered:
			out = append(out, "*")
		case h.Location != nil:
			out = append(out, fmt.Sprintf("%v/%s/AS%d", h.Addr, h.Location.Country, h.Location.ASN))
		default:
			out = append(out, h.Addr.String())
		}
	}
	return out
}

func flaggedJurisdictions(tr *Trace) []string {
	var out []string
	for _, h := range tr.Hops {
		if h.Flagged && !slices.Contains(out, h.Jurisdiction) {
			out = append(out, h.Jurisdiction)
		}
	}
	return out
}

// Paths returns the latest trace of every destination, configured
// targets first by name, then picked ones by address. Traces are shared:
// do not modify them.
func (s *Scheduler) Paths() []*Trace {
	s.mu.Lock()
	out := make([]*Trace, 0, len(s.paths))
	for _, ps := range s.paths {
		out = append(out, ps.trace)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Target.Name == AutoTarget) != (b.Target.Name == AutoTarget) {
			return b.Target.Name == AutoTarget
		}
		if a.Target.Name != b.Target.Name {
			return a.Target.Name < b.Target.Name
		}
		return a.Dst.Less(b.Dst)
	})
	return out
}

// changeCounts copies the path change counters by target label.
func (s *Scheduler) changeCounts() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.changes))
	// Every target has a series from the start, so that increase() sees
	// its first change (a counter that appears at 1 hides it).
	for _, t := range s.opts.Targets {
		out[t.Name] = 0
	}
	if s.opts.Auto {
		out[AutoTarget] = 0
	}
	for k, v := range s.changes {
		out[k] = v
	}
	return out
}
