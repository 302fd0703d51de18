package workload

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/exporter"
	"github.com/jurismon/jurismon/policy"
)

// DefaultQueue bounds the lookups an Attributor has waiting.
const DefaultQueue = 1024

// Attributor looks up the owners of flows' local sockets off the packet
// path: the packet path only queues a lookup (never blocking: a full queue
// drops it, counted) and reads answers already found. A Resolver's lookup
// may read all of /proc, which no capture worker can wait for.
//
// It asks for the flows that start flagged (flow.StartObserver), or with
// All for every new flow (as an enrich.Enricher); the owner is found while
// the socket still exists, a moment after the flow's first packet, and
// copied into the flow's facts when its event is written (Fill).
type Attributor struct {
	r       *Resolver
	all     bool
	queue   chan sockKey
	dropped atomic.Uint64
}

// NewAttributor returns an attributor looking up through r, with at most
// queue lookups waiting (0 means DefaultQueue). With all, every new flow's
// owner is looked up, not only the flagged ones'.
func NewAttributor(r *Resolver, queue int, all bool) *Attributor {
	if queue <= 0 {
		queue = DefaultQueue
	}
	return &Attributor{r: r, all: all, queue: make(chan sockKey, queue)}
}

// Run looks up the queued sockets until ctx is done. Call it once, in its
// own goroutine.
func (a *Attributor) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-a.queue:
			_, _ = a.r.Lookup(k.proto, k.local, k.remote) // the answer, failures included, waits in the cache
		}
	}
}

// request queues a lookup of f's local socket unless its answer is cached.
func (a *Attributor) request(f *enrich.Facts) {
	if f.Proto != protoTCP && f.Proto != protoUDP || f.Transit || f.Process.PID != 0 {
		return
	}
	if a.fill(f) {
		return
	}
	select {
	case a.queue <- sockKey{f.Proto, unmap(f.Local), unmap(f.Remote)}:
	default:
		a.dropped.Add(1)
	}
}

// Enrich (enrich.Enricher, with All only) fills a new flow's owner when it
// is known already, and otherwise queues its lookup.
func (a *Attributor) Enrich(f *enrich.Facts, _ *capture.Packet) {
	if a.all {
		a.request(f)
	}
}

// ObserveStarted (flow.StartObserver) queues the lookup of a flow that
// starts flagged.
func (a *Attributor) ObserveStarted(f *enrich.Facts, v policy.Verdict, _ int64) {
	if v.Flagged() && !a.all {
		a.request(f)
	}
}

// Fill copies the owner of f's local socket into f.Process if a lookup has
// found it, reading only the cache, and queues a lookup when none was made
// (a flow flagged after it started, by an inspector's facts): its next
// event names the owner. It reports whether f has an owner. It writes f:
// call it on the goroutine that owns f (an observer's).
func (a *Attributor) Fill(f *enrich.Facts) bool {
	if a.fill(f) {
		return true
	}
	if _, _, ok := a.r.Cached(f.Proto, f.Local, f.Remote); !ok {
		a.request(f)
	}
	return false
}

func (a *Attributor) fill(f *enrich.Facts) bool {
	if f.Process.PID != 0 {
		return true
	}
	p, err, ok := a.r.Cached(f.Proto, f.Local, f.Remote)
	if !ok || err != nil {
		return false
	}
	f.Process.PID, f.Process.UID = p.PID, p.UID
	f.Process.Comm, f.Process.Exe, f.Process.User = p.Comm, p.Exe, p.User
	f.Process.Container, f.Process.Runtime = p.Container.ID, p.Container.Runtime
	return true
}

var descDropped = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "workload", "lookups_dropped_total"),
	"Socket owner lookups not queued because the queue was full (the flows' events then name no process).", nil, nil)

type attributorCollector struct{ a *Attributor }

// Collector returns the attributor's metrics (the resolver's are its own).
func (a *Attributor) Collector() prometheus.Collector { return attributorCollector{a} }

func (m attributorCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDropped }

func (m attributorCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(m.a.dropped.Load()))
}
