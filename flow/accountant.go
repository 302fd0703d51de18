package flow

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// Config sizes an Accountant. Zero values take the defaults.
type Config struct {
	Grouping      Grouping
	IdleTimeout   time.Duration // a flow with no packet for this long ends (default 60s)
	MaxFlows      int           // flow table cap; the least recently used flow is evicted past it (default 262144)
	MaxAggregates int           // aggregate cap; new keys fold into coarser ones past it (default 65536)
	MaxHosts      int           // distinct remote hosts tracked for host counts (default 1048576)
	NoHosts       bool          // do not count distinct remote hosts (the live agent exports no host counts)
	AllVendors    bool          // under ByMetrics, key every device's traffic by its vendor, not only flagged devices' (--metrics.vendor=top)
	// Mergeable keeps what Merge needs to add this accountant's remote
	// hosts to another's exactly: 4 bytes more a host-set slot.
	Mergeable bool

	// PublishEvery, when positive, publishes the counts of active flows to
	// the aggregates this often, for readers on other goroutines (the
	// exporter); otherwise counts are published when a flow moves in the
	// LRU order, ends, or on Sync, which is all that analyze needs.
	PublishEvery time.Duration

	// EventInterval, when positive, makes live flagged flows report every
	// interval (to the FlaggedObservers) as well as when they end.
	EventInterval time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Grouping:      ByLocation,
		IdleTimeout:   60 * time.Second,
		MaxFlows:      1 << 18,
		MaxAggregates: 1 << 16,
		MaxHosts:      1 << 20,
	}
}

func (c *Config) applyDefaults() {
	d := DefaultConfig()
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = d.MaxFlows
	}
	if c.MaxAggregates <= 0 {
		c.MaxAggregates = d.MaxAggregates
	}
	if c.MaxHosts <= 0 {
		c.MaxHosts = d.MaxHosts
	}
}

// Event describes one flagged flow, from the point of view of its
// flagged remote endpoint ("to" is traffic sent to it).
type Event struct {
	First, Last   int64 // Unix nanoseconds
	Local, Remote netip.AddrPort
	Proto         uint8
	Transit       bool // Local is a remote endpoint too (a transit flow)
	BytesTo       uint64
	BytesFrom     uint64
	PacketsTo     uint64
	PacketsFrom   uint64
	Location      *geo.Location // Facts.Location
	Verdict       policy.Verdict
	Ended         bool
	// Facts are the flow's facts, valid only during the observer's call.
	Facts *enrich.Facts
}

// Totals are per-direction counts that only the accountant's owner may
// read (analyze reads them when the file is done). They are plain integers
// because they change on every packet, where an atomic store would cost a
// locked instruction; live readers use the groups instead.
type Totals struct {
	Packets [NumDirections]uint64
	Bytes   [NumDirections]uint64
	Flows   [NumDirections]uint64 // new flows by the direction of their first packet
}

// Stats are an accountant's event counts. The owner writes them; anyone may read.
type Stats struct {
	FlowsEvicted   atomic.Uint64               // flows pushed out of the full table
	FlowsExpired   atomic.Uint64               // flows ended by the idle timeout
	FlowEntries    atomic.Int64                // flows in the table now
	UnknownLookups atomic.Uint64               // remote endpoints whose country or AS was not found
	Conflicts      [NumConflicts]atomic.Uint64 // remote endpoints whose countries disagree
	HostsUntracked atomic.Uint64               // new remote hosts not counted because the host set was full
}

// Conflict is a pair of location fields that disagree.
type Conflict uint8

// Location conflicts, by which pair disagrees.
const (
	CountryRegistered Conflict = iota
	CountryASN
	RegisteredASN
	NumConflicts
)

var conflictNames = [NumConflicts]string{"country_registered", "country_asn", "registered_asn"}

func (c Conflict) String() string { return conflictNames[c] }

// Accountant accounts packets (and flow records) into flows and
// aggregates. One goroutine owns it; run one per capture worker and read
// them all at scrape time.
type Accountant struct {
	env          *Env
	cfg          Config
	obs          observers
	enrichers    []enrich.Enricher // the geo enricher first, then env.Enrichers
	inspectors   []enrich.Inspector
	facts        []*[chunkSize]enrich.Facts   // indexed like the table's entries
	verdicts     []*[chunkSize]policy.Verdict // likewise: each flow's verdict
	states       [][]enrich.State             // per chunk: chunkSize × len(inspectors), when there are inspectors
	scratch      enrich.Facts                 // the second remote endpoint of a transit flow
	table        *table
	groups       *groups
	hosts        hostSet
	idle         int64
	every        int64
	publishEvery int64
	moveEvery    int64 // see moveEvery
	Stats        Stats
	Totals       Totals
	// internal aggregates local-to-local traffic, which has no remote
	// endpoint but is still counted (never geo-resolved).
	internal  *Aggregate
	pipe      pipeline // AddAhead's packets in flight
	now       int64    // latest packet timestamp seen
	lastSweep int64    // when counters were last published by sweep
	lastEv    int64    // last periodic event sweep
	seen      int64    // latest packet time given to AddAhead or See
	event     Event
	tunnelEv  TunnelEvent
	record    capture.Packet // AddRecord's packet: a local one would escape to the heap
	sides     Sides          // the record's, while AddRecord starts its flow
}

// NewAccountant returns an accountant reading shared state from env and
// telling obs what it learns (see Observer).
func NewAccountant(env *Env, cfg Config, obs ...Observer) *Accountant {
	cfg.applyDefaults()
	if len(env.Inspectors) > enrich.MaxInspectors {
		panic(fmt.Sprintf("flow: %d inspectors, at most %d", len(env.Inspectors), enrich.MaxInspectors))
	}
	a := &Accountant{
		internal:     newGroup(AggregateKey{Internal: true}),
		env:          env,
		cfg:          cfg,
		obs:          sortObservers(obs),
		enrichers:    append([]enrich.Enricher{enrich.Geo{Locator: env.Geo}}, env.Enrichers...),
		inspectors:   env.Inspectors,
		table:        newTable(cfg.MaxFlows),
		groups:       newGroups(cfg.MaxAggregates),
		idle:         int64(cfg.IdleTimeout),
		every:        int64(cfg.EventInterval),
		publishEvery: int64(cfg.PublishEvery),
		moveEvery:    moveEvery(cfg),
	}
	a.hosts.track = cfg.Mergeable
	return a
}

// Add accounts one decoded packet. On a known flow it does not allocate.
func (a *Accountant) Add(p *capture.Packet) {
	a.Drain()
	var k Key
	srcIsA := makeKey(p, &k)
	a.add(p, &k, srcIsA, a.table.hash(&k), p.Timestamp, uint64(p.IPLen), 1, false)
}

// add accounts what p's source sent to the flow of k (made from p, with its
// hash h): one packet of p.IPLen bytes, or a flow record's counts (record
// set, p made of its header fields), with last the flow's new last time.
// Packets and records share this one function, not a helper each calls,
// so that the packet path pays no extra call.
func (a *Accountant) add(p *capture.Packet, k *Key, srcIsA bool, h uint32, last int64, bytes, packets uint64, record bool) {
	ts := p.Timestamp
	a.tick(ts)
	i, ok := a.table.getHashed(k, h)
	if ok && ts-a.table.at(i).Last > a.idle {
		// Idle past the timeout but not ended yet: expiry runs from the
		// LRU tail, which is up to moveEvery out of date. This packet
		// starts a new flow, as it would have with exact expiry.
		a.end(i, false)
		ok = false
	}
	if !ok {
		i = a.newFlow(k, p, srcIsA)
	}
	e := a.table.at(i)
	if last > e.Last {
		e.Last = last
	}
	// The flow's own counters change on every packet; the LRU order only
	// when the flow was last moved a while ago, and the shared aggregates
	// then too when someone reads them live (PublishEvery), else when the
	// flow ends: cache misses and atomic instructions stay off the common
	// path.
	if ts-e.moved >= a.moveEvery {
		if a.publishEvery > 0 {
			a.publish(e)
		}
		if e.tunnel {
			a.tunnelEvent(i, e, false, false)
		}
		a.table.touch(i)
		e.moved = ts
	}
	src := 0
	if !srcIsA {
		src = 1
	}
	a.count(e, src, bytes, packets)
	if record {
		return // no packet to time, read the TTL of or inspect
	}
	if p.Proto == protoTCP {
		a.handshake(i, e, p, src)
	}
	if e.remote[src] && e.Packets[src] == 1 && len(a.obs.ttl) > 0 {
		a.remoteTTL(i, e, src, p.TTL)
	}
	if e.inspect != 0 {
		a.inspect(i, e, p, src)
	}
}

// count adds what endpoint src of e sent.
func (a *Accountant) count(e *Entry, src int, bytes, packets uint64) {
	e.Bytes[src] += bytes
	e.Packets[src] += packets
	dir := a.direction(e, src)
	a.Totals.Packets[dir] += packets
	a.Totals.Bytes[dir] += bytes
}

// remoteTTL tells the TTL observers the TTL of the first packet from remote
// endpoint src.
func (a *Accountant) remoteTTL(i int32, e *Entry, src int, ttl uint8) {
	var loc *geo.Location
	if src == int(e.factsSide) {
		loc = a.factsAt(i).Location
	} else {
		// The other remote endpoint of a transit flow: its facts were
		// not kept, only its aggregate.
		loc = a.env.Geo.Lookup(e.Key.Addr(src))
	}
	for _, o := range a.obs.ttl {
		o.ObserveTTL(e.Key.Addr(src), loc, ttl)
	}
}

// moveEvery returns how long a flow stays in place in the LRU list. With
// PublishEvery its counts reach the aggregates when it moves, or at the
// next sweep (which walks the flows moved within moveEvery, so it stays a
// second); always when it ends, and on Sync. Without, it is a fifteenth of
// the idle timeout (4s at the default 60s): each move touches the flow's
// two neighbours in the list, a tenth of analyze's time at one a second.
// Idle flows are reported ended up to moveEvery after the timeout; a flow
// that gets a packet after the timeout ends then and a new one starts, so
// flow counts do not depend on it.
func moveEvery(cfg Config) int64 {
	if cfg.PublishEvery > 0 {
		return int64(time.Second)
	}
	return max(int64(time.Second), int64(cfg.IdleTimeout)/15)
}

// publish adds what a flow counted since its last publication to the
// aggregates of its endpoints: what an endpoint sent is From it, what the
// other sent is To it.
func (a *Accountant) publish(e *Entry) {
	for s := range 2 {
		db := e.Bytes[s] - e.published[s]
		dp := e.Packets[s] - e.publishedPk[s]
		if dp == 0 {
			continue
		}
		e.published[s], e.publishedPk[s] = e.Bytes[s], e.Packets[s]
		if g := e.side[s]; g != nil {
			g.add(From, db, dp, e.Last)
		}
		if g := e.side[1-s]; g != nil {
			g.add(To, db, dp, e.Last)
		}
		if !e.remote[0] && !e.remote[1] {
			a.internal.add(To, db, dp, e.Last)
		}
	}
}

// sweep publishes every flow moved since shortly before the last sweep:
// only those can hold unpublished counts.
func (a *Accountant) sweep(now int64) {
	since := a.lastSweep - a.moveEvery
	a.lastSweep = now
	for i := a.table.head; i != none; i = a.table.at(i).next {
		e := a.table.at(i)
		if e.moved < since {
			return
		}
		a.publish(e)
	}
}

// The accountant has four verbs that sound alike and differ in what they
// touch; each first does Drain:
//
//   - Drain accounts the packets AddAhead still holds (the flows' own
//     counters); nothing else changes.
//   - Tick moves the clock: flows idle past the timeout end, periodic
//     events and the PublishEvery sweep come due.
//   - Sync publishes every live flow's counts to the aggregates; no flow
//     ends.
//   - Flush ends every flow (publishing it and reporting the flagged ones),
//     leaving the table empty: the end of the input.

// Tick advances the accountant's clock to now (Unix nanoseconds) if it is
// later: flows idle past the timeout end and periodic events are due. Add
// calls it with each packet's time; a live capture also calls it when no
// packet has come for a while, so that flows end on a quiet link too.
func (a *Accountant) Tick(now int64) {
	a.Drain()
	a.tick(now)
}

func (a *Accountant) tick(now int64) {
	if now <= a.now {
		return
	}
	a.now = now
	a.expire(now)
	if a.publishEvery > 0 && now-a.lastSweep >= a.publishEvery {
		a.sweep(now)
	}
	if a.every > 0 && now-a.lastEv >= a.every {
		a.periodic(now)
	}
}

const (
	protoTCP = 6
	tcpSYN   = 0x02
	tcpACK   = 0x10
)

// handshake measures SYN → SYN-ACK for connections a local host opens.
func (a *Accountant) handshake(i int32, e *Entry, p *capture.Packet, src int) {
	if len(a.obs.handshake) == 0 {
		return
	}
	switch p.TCPFlags & (tcpSYN | tcpACK) {
	case tcpSYN:
		if !e.remote[src] && e.remote[1-src] {
			e.synAt, e.synFrom = p.Timestamp, uint8(src)
		}
	case tcpSYN | tcpACK:
		if e.synAt != 0 && int(e.synFrom) != src && p.Timestamp >= e.synAt {
			rtt := time.Duration(p.Timestamp - e.synAt)
			e.synAt = 0
			// One local and one remote endpoint: the facts are the
			// remote's (src). Judged by the policy in force now.
			f := a.factsAt(i)
			v := a.env.Policy().Evaluate(f)
			for _, o := range a.obs.handshake {
				o.ObserveHandshake(f, v, rtt)
			}
		}
	}
}

// direction of a packet sent by endpoint src of e.
func (a *Accountant) direction(e *Entry, src int) Direction {
	switch {
	case e.remote[0] && e.remote[1]:
		return Transit
	case !e.remote[0] && !e.remote[1]:
		return Internal
	case e.remote[src]:
		return Ingress
	default:
		return Egress
	}
}

// newFlow makes room, inserts the flow and enriches and judges its remote
// endpoints: the only place, with inspect, where enrichers and the policy
// are consulted.
func (a *Accountant) newFlow(k *Key, p *capture.Packet, srcIsA bool) int32 {
	if a.table.len() >= a.cfg.MaxFlows {
		a.end(a.table.tail, true)
	}
	i := a.table.insert(k)
	a.Stats.FlowEntries.Store(int64(a.table.len()))
	e := a.table.at(i)
	e.First, e.Last, e.moved = p.Timestamp, p.Timestamp, p.Timestamp
	addrs := [2]netip.AddrPort{netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)}
	if !srcIsA {
		addrs[0], addrs[1] = addrs[1], addrs[0]
	}
	src := 0
	if !srcIsA {
		src = 1
	}
	for j := range 2 {
		e.remote[j] = !a.env.IsLocal(addrs[j].Addr())
	}
	if a.sides != SidesFromNetworks {
		// A record whose exporter knows which side is outside.
		e.remote[src] = a.sides == SrcRemote || a.sides == BothRemote
		e.remote[1-src] = a.sides == DstRemote || a.sides == BothRemote
	}
	transit := e.remote[0] && e.remote[1]
	pol := a.env.Policy()
	f := a.newFacts(i)
	kept := false            // f holds a remote endpoint's facts
	var keptV policy.Verdict // and this is its verdict
	vf := a.verdictAt(i)
	*vf = policy.Verdict{}
	e.firstSrc = uint8(src)
	e.tunnel = false
	e.tunnelBytes, e.tunnelPk = [2]uint64{}, [2]uint64{}
	for j := range 2 {
		if !e.remote[j] {
			continue
		}
		// A transit flow has two remote endpoints; the flow keeps the
		// facts of the flagged one, else of the first.
		fj := f
		if kept {
			fj = &a.scratch
		}
		*fj = enrich.Facts{Local: addrs[1-j], Remote: addrs[j], Proto: p.Proto, Transit: transit}
		for _, en := range a.enrichers {
			en.Enrich(fj, p)
		}
		loc := fj.Location
		v := pol.Evaluate(fj)
		a.noteLocation(loc)
		if !kept {
			kept, e.factsSide, keptV, *vf = true, uint8(j), v, v
		}
		if v.Any() && e.flagged < 0 {
			e.flagged, *vf, keptV = int8(j), v, v
			if fj != f {
				*f, e.factsSide = *fj, uint8(j)
			}
		}
		var local netip.Addr
		if !transit {
			local = addrs[1-j].Addr()
		}
		g := a.groups.get(a.key(fj, local, transit, v))
		e.side[j] = g
		first := To
		if j == src {
			first = From
		}
		g.Flows[first].Store(g.Flows[first].Load() + 1)
		a.countHost(addrs[j].Addr(), g)
	}
	if !kept {
		*f = enrich.Facts{} // local to local: nothing is known
	} else if len(a.inspectors) > 0 {
		e.inspect = uint8(1<<len(a.inspectors) - 1)
		clear(a.statesAt(i))
	}
	if kept {
		for _, o := range a.obs.started {
			o.ObserveStarted(f, keptV, e.First)
		}
	}
	dir := a.direction(e, src)
	a.Totals.Flows[dir]++
	if dir == Internal {
		a.internal.Flows[To].Add(1)
	}
	return i
}

func (a *Accountant) noteLocation(loc *geo.Location) {
	if loc.Class != geo.ClassPublic {
		return
	}
	if loc.Country == geo.Unknown || loc.ASN == 0 {
		a.Stats.UnknownLookups.Add(1)
	}
	known := func(s string) bool { return s != "" && s != geo.Unknown }
	if known(loc.Country) && known(loc.RegisteredCountry) && loc.Country != loc.RegisteredCountry {
		a.Stats.Conflicts[CountryRegistered].Add(1)
	}
	if known(loc.ASCountry) {
		if known(loc.Country) && loc.Country != loc.ASCountry {
			a.Stats.Conflicts[CountryASN].Add(1)
		}
		if known(loc.RegisteredCountry) && loc.RegisteredCountry != loc.ASCountry {
			a.Stats.Conflicts[RegisteredASN].Add(1)
		}
	}
}

// ChainSeparator joins the CNAME chain in a AggregateKey.
const ChainSeparator = "\x00"

// key builds the aggregate key of a remote endpoint, from its facts and
// verdict, under the grouping. local is the flow's local address, invalid
// for a transit flow.
func (a *Accountant) key(f *enrich.Facts, local netip.Addr, transit bool, v policy.Verdict) AggregateKey {
	loc, remote := f.Location, f.Remote.Addr()
	k := AggregateKey{Class: loc.Class, Jurisdiction: v.Jurisdiction, MatchedBy: v.MatchedBy, DeviceRule: v.Device}
	g := a.cfg.Grouping
	if g.Has(FieldCountry) {
		k.Country = loc.Country
	}
	if g.Has(FieldRegistered) {
		k.RegisteredCountry = loc.RegisteredCountry
	}
	if g.Has(FieldASN) {
		k.ASN, k.ASOrg = loc.ASN, loc.ASOrg
	}
	if g == ByRemote || g == ByLocalRemote {
		k.Remote = remote
	}
	if g == ByLocalRemote {
		k.Local = local
	}
	if g == ByMetrics {
		k.Transit = transit
		if v.DeviceFlagged() || a.cfg.AllVendors {
			// Flagged devices' bytes are exported per vendor (the vendors
			// rules bound how many there are); every vendor's with
			// AllVendors, for an exporter that keeps the top ones.
			k.Vendor = f.Device.Vendor
		}
	} else {
		k.Excepted = v.Excepted
		if g.Has(FieldRegistered) {
			k.Embedded = loc.Embedded
		}
	}
	if g.Has(FieldDomain) && f.Domain.Name != "" {
		if g == ByDomain {
			k.Domain = f.Domain.Registrable
		} else {
			k.Domain, k.CNAMEChain = f.Domain.Name, strings.Join(f.Domain.CNAMEChain, ChainSeparator)
		}
	}
	if g == ByDevice {
		// One row per device (and verdict): its traffic with public and
		// special-purpose addresses together.
		k.Class = geo.ClassPublic
	}
	if g == ByDevice && f.Device.HasMAC {
		k.MAC, k.HasMAC = f.Device.MAC, true
		k.Vendor, k.VendorCountry, k.DevicePrivate = f.Device.Vendor, f.Device.VendorCountry, f.Device.Private
	}
	if g == ByTunnel {
		tunnelKey(&k, f)
	}
	return k
}

func (a *Accountant) countHost(addr netip.Addr, g *Aggregate) {
	if a.cfg.NoHosts {
		return
	}
	h := a.hosts.hash(addr, g)
	if a.hosts.has(h) {
		return
	}
	if a.hosts.n >= a.cfg.MaxHosts {
		a.Stats.HostsUntracked.Add(1)
		return
	}
	if _, ok := a.hosts.add(h, g.index); !ok {
		a.Stats.HostsUntracked.Add(1)
		return
	}
	g.Hosts.Store(g.Hosts.Load() + 1)
}

// expire ends the flows idle for longer than the timeout. The LRU tail is
// the least recently used flow, so this stops at the first live one.
func (a *Accountant) expire(now int64) {
	for t := a.table.tail; t != none; t = a.table.tail {
		if now-a.table.at(t).Last <= a.idle {
			return
		}
		a.end(t, false)
	}
}

// end removes flow i, reporting it first if it was flagged.
func (a *Accountant) end(i int32, evicted bool) {
	e := a.table.at(i)
	a.publish(e)
	if e.flagged >= 0 {
		a.emit(i, e, true)
	}
	if e.tunnel {
		a.tunnelEvent(i, e, false, true)
	}
	if len(a.obs.ended) > 0 && (e.remote[0] || e.remote[1]) {
		side := int(e.factsSide)
		if e.flagged >= 0 {
			side = int(e.flagged)
		}
		ev := a.fill(i, e, side, true)
		for _, o := range a.obs.ended {
			o.ObserveEnded(ev)
		}
	}
	if evicted {
		a.Stats.FlowsEvicted.Add(1)
	} else {
		a.Stats.FlowsExpired.Add(1)
	}
	a.table.remove(i)
	a.Stats.FlowEntries.Store(int64(a.table.len()))
}

// periodic reports flagged flows that saw traffic since the last report.
func (a *Accountant) periodic(now int64) {
	a.lastEv = now
	if len(a.obs.flagged) == 0 {
		return
	}
	for i := a.table.head; i != none; i = a.table.at(i).next {
		e := a.table.at(i)
		if e.flagged >= 0 && e.Last > e.emitted {
			a.emit(i, e, false)
		}
	}
}

func (a *Accountant) emit(i int32, e *Entry, ended bool) {
	if len(a.obs.flagged) == 0 {
		return
	}
	ev := a.fill(i, e, int(e.flagged), ended)
	e.emitted = e.Last
	for _, o := range a.obs.flagged {
		o.ObserveFlagged(ev)
	}
}

// fill describes flow i from the side of its remote endpoint r in the
// accountant's one reused event.
func (a *Accountant) fill(i int32, e *Entry, r int, ended bool) *Event {
	l := 1 - r
	ev := &a.event
	f := a.factsAt(i)
	*ev = Event{
		First: e.First, Last: e.Last,
		Local:       netip.AddrPortFrom(e.Key.Addr(l), e.Key.Port(l)),
		Remote:      netip.AddrPortFrom(e.Key.Addr(r), e.Key.Port(r)),
		Proto:       e.Key.Proto,
		Transit:     e.remote[l],
		BytesTo:     e.Bytes[l],
		BytesFrom:   e.Bytes[r],
		PacketsTo:   e.Packets[l],
		PacketsFrom: e.Packets[r],
		Location:    f.Location,
		Facts:       f,
		Verdict:     *a.verdictAt(i),
		Ended:       ended,
	}
	return ev
}

// Sync publishes every flow's counts to the aggregates now, without ending
// any; the owner calls it before reading them at a point of its choosing
// (tests, reports).
func (a *Accountant) Sync() {
	a.Drain()
	for i := a.table.head; i != none; i = a.table.at(i).next {
		a.publish(a.table.at(i))
	}
}

// Flush ends every flow still in the table (at the end of the input, or on
// shutdown), so that their counts are published and flagged flows are
// reported.
func (a *Accountant) Flush() {
	a.Drain()
	for a.table.tail != none {
		a.end(a.table.tail, false)
	}
}

// Aggregates returns the accountant's aggregates. Safe to call from any goroutine.
func (a *Accountant) Aggregates() []*Aggregate { return a.groups.snapshot() }

// Internal returns the aggregate of local-to-local traffic (counted as To).
// Safe to call from any goroutine.
func (a *Accountant) Internal() *Aggregate { return a.internal }

// Folded returns how many endpoints were folded into coarser aggregates.
func (a *Accountant) Folded() uint64 { return a.groups.folded.Load() }
