package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/dns"
	"github.com/jurismon/jurismon/domainwatch"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/events"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/workload"
)

// attributionFlags configure who and what a flow is attributed to: the
// remote's name by passive DNS, the local process (live only).
type attributionFlags struct {
	dns        bool
	dnsMax     int
	dnsMaxTTL  time.Duration
	dnsGrace   time.Duration
	dnsSnapLen int
	processes  bool
	all        bool
	procCache  int
	procQueue  int
	procRoot   string
}

func (a *attributionFlags) register(cmd *kingpin.CmdClause, live bool) {
	cmd.Flag("dns.passive", "Name remote addresses by the DNS answers seen on the wire (port 53, UDP and TCP).").Default("true").BoolVar(&a.dns)
	cmd.Flag("dns.max-addresses", "Answered addresses the passive DNS map holds (per process); the least recently answered of a full set goes.").Default(fmt.Sprint(dns.DefaultCapacity)).IntVar(&a.dnsMax)
	cmd.Flag("dns.max-ttl", "Longest TTL trusted for an answer.").Default(dns.DefaultMaxTTL.String()).DurationVar(&a.dnsMaxTTL)
	cmd.Flag("dns.grace", "How long a name is still offered after its TTL (clients keep using addresses past it).").Default(dns.DefaultGrace.String()).DurationVar(&a.dnsGrace)
	if !live {
		return
	}
	cmd.Flag("dns.snaplen", "Bytes kept of each live packet from port 53 (DNS responses), where every other packet is cut at its headers.").Default("4096").IntVar(&a.dnsSnapLen)
	cmd.Flag("attribution.processes", "Look up the local process (and its container) owning each flagged flow's socket, through /proc, off the packet path.").Default("true").BoolVar(&a.processes)
	cmd.Flag("attribution.all", "Look up the owning process of every new flow, not only of flagged ones (implies --attribution.processes).").BoolVar(&a.all)
	cmd.Flag("attribution.cache-size", "Socket owner answers kept.").Default(fmt.Sprint(workload.DefaultCacheSize)).IntVar(&a.procCache)
	cmd.Flag("attribution.queue", "Socket owner lookups waiting at most; past it they are dropped (counted).").Default(fmt.Sprint(workload.DefaultQueue)).IntVar(&a.procQueue)
	cmd.Flag("attribution.proc-root", "Where procfs is mounted (a container's view of the host's: /host/proc).").Default(workload.DefaultProcRoot).StringVar(&a.procRoot)
}

// attribution is what the flags built: the DNS cache and the attributor,
// each nil when off.
type attribution struct {
	dns   *dns.Cache
	watch *domainwatch.Watcher // the policy's watched domains, checked on each answer
	procs *workload.Attributor
	res   *workload.Resolver
}

// open builds the attribution. A host without procfs runs without process
// attribution (logged), not without the agent.
// Violations of watched domains go to log when there is one.
func (a *attributionFlags) open(logger *slog.Logger, env *flow.Env, log *events.Log) *attribution {
	at := &attribution{}
	if a.dns {
		grace := a.dnsGrace
		if grace == 0 {
			grace = -1 // Options take 0 as the default
		}
		var report func(*domainwatch.Violation)
		if log != nil {
			report = func(v *domainwatch.Violation) { log.ObserveViolation(v.Watched, violationEvent(v)) }
		}
		at.watch = domainwatch.New(env.Policy, env.Geo, report)
		at.dns = dns.New(dns.Options{Capacity: a.dnsMax, MaxTTL: a.dnsMaxTTL, Grace: grace, Answers: at.watch})
	}
	if a.processes || a.all {
		res, err := workload.NewResolver(workload.Options{ProcRoot: a.procRoot, CacheSize: a.procCache})
		if err != nil {
			logger.Warn("process attribution is off: procfs cannot be read", "err", err)
		} else {
			at.res = res
			at.procs = workload.NewAttributor(res, a.procQueue, a.all)
		}
	}
	return at
}

// setup adds the enrichers and inspectors to env, before any accountant
// is made. The DNS enricher goes first, so that the others and the policy
// (domains) see the name.
func (at *attribution) setup(env *flow.Env) {
	if at.dns != nil {
		env.Enrichers = append([]enrich.Enricher{at.dns}, env.Enrichers...)
		env.Inspectors = append(env.Inspectors, at.dns.Inspector())
	}
	if at.procs != nil {
		env.Enrichers = append(env.Enrichers, at.procs)
	}
}

// worker gives w its DNS tap.
func (at *attribution) worker(w *flow.Worker) {
	if at.dns != nil {
		w.DNS = at.dns.NewTap()
	}
}

// observers are the attribution's observers: the attributor hears of the
// flows that start flagged.
func (at *attribution) observers() []flow.Observer {
	if at.procs == nil {
		return nil
	}
	return []flow.Observer{at.procs}
}

// flagged wraps the flagged-flow observer obs so that each event carries
// the owner found since the flow started.
func (at *attribution) flagged(obs func(*flow.Event)) flow.Observer {
	if at.procs == nil {
		return flow.FlaggedFunc(obs)
	}
	return flow.FlaggedFunc(func(ev *flow.Event) {
		if ev.Facts != nil {
			at.procs.Fill(ev.Facts)
		}
		obs(ev)
	})
}

// run starts the lookups off the packet path until ctx is done.
func (at *attribution) run(ctx context.Context) {
	if at.procs != nil {
		go at.procs.Run(ctx)
	}
}

// register adds the metrics.
func (at *attribution) register(reg prometheus.Registerer) {
	if at.dns != nil {
		reg.MustRegister(at.dns.Collector(), at.watch.Collector())
	}
	if at.procs != nil {
		reg.MustRegister(at.res.Collector(), at.procs.Collector())
	}
}

// violationEvent describes a watched-domain violation as the event log's
// flow event: the client as the local end, the answer as the remote one.
func violationEvent(v *domainwatch.Violation) *flow.Event {
	facts := enrich.Facts{Location: v.Location, Domain: enrich.Domain{Name: v.Chain[0], CNAMEChain: v.Chain[1:], Source: "dns"}}
	return &flow.Event{
		First: v.Time, Last: v.Time,
		Local:    netip.AddrPortFrom(v.Client, 0),
		Remote:   netip.AddrPortFrom(v.Addr, 0),
		Location: v.Location,
		Verdict:  v.Verdict,
		Ended:    true,
		Facts:    &facts,
	}
}
