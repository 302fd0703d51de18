// Package domainwatch checks the DNS answers seen on the wire against the
// policy's watched domains: a name whose answers may point only to some
// countries ("telemetry.example.com must resolve to @eea"). It hears of
// each answer from the passive DNS cache (dns.AnswerObserver), counts the
// violations, keeps which countries each watched name resolves to now, and
// reports a violation as an event.
package domainwatch

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/exporter"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// MaxSeries bounds the (watched name, country) pairs kept, for each of the
// current countries and the violation counts: the policy bounds the names
// and the database the countries, and this bounds their product. Pairs
// past it are not kept (counted in jurismon_watched_domain_series_dropped_total).
const MaxSeries = 4096

// Violation is an answer for a watched name that points outside its
// countries, or into a flagged jurisdiction.
type Violation struct {
	Watched      string   // the domains entry: "telemetry.example.com", "*.example.com"
	Chain        []string // the answer's names, the queried one first (never modified)
	Addr, Client netip.Addr
	Location     *geo.Location
	Verdict      policy.Verdict // the address's, when flagged
	Time         int64          // packet time, Unix nanoseconds
}

type pair struct{ domain, country string }

// Watcher checks answers. It is safe for concurrent use.
type Watcher struct {
	policy func() *policy.Policy
	geo    enrich.Locator
	report func(*Violation) // on a violation new for its pair (or whose pair had expired); may be nil

	mu         sync.Mutex
	current    map[pair]int64 // when the pair's newest answer stops being offered
	violations map[pair]uint64
	violating  map[pair]int64 // expiry of the pair's last reported violation
	now        int64          // latest packet time
	dropped    atomic.Uint64
}

// New returns a watcher judging by the policy pol returns (the one in
// force at each answer) and locating by loc. report, when set, is told of
// each violation whose (name, country) pair was not violating already.
func New(pol func() *policy.Policy, loc enrich.Locator, report func(*Violation)) *Watcher {
	return &Watcher{policy: pol, geo: loc, report: report,
		current: map[pair]int64{}, violations: map[pair]uint64{}, violating: map[pair]int64{}}
}

// ObserveAnswer checks one answer (dns.AnswerObserver): every name of its
// chain that the policy watches.
func (w *Watcher) ObserveAnswer(chain []string, addr, client netip.Addr, expires, ts int64) {
	pol := w.policy()
	var loc *geo.Location
	for _, name := range chain {
		wd, ok := pol.Watched(name)
		if !ok {
			continue
		}
		if loc == nil {
			loc = w.geo.Lookup(addr)
		}
		f := enrich.At(addr, loc)
		v := pol.Evaluate(&f)
		bad := !wd.Allows(loc.Country) || v.Flagged()
		if w.note(pair{wd.Name, loc.Country}, bad, expires, ts) && w.report != nil {
			w.report(&Violation{Watched: wd.Name, Chain: chain, Addr: addr, Client: client, Location: loc, Verdict: v, Time: ts})
		}
	}
}

// note records an answer of pair k; it reports whether a violation is new
// for k (none reported for it, or the last one's answers expired).
func (w *Watcher) note(k pair, bad bool, expires, ts int64) (report bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = max(w.now, ts)
	if _, ok := w.current[k]; ok || len(w.current) < MaxSeries {
		w.current[k] = max(w.current[k], expires)
	} else {
		w.dropped.Add(1)
	}
	if !bad {
		return false
	}
	if _, ok := w.violations[k]; !ok && len(w.violations) >= MaxSeries {
		w.dropped.Add(1)
		return false
	}
	w.violations[k]++
	until, seen := w.violating[k]
	w.violating[k] = max(until, expires)
	return !seen || until <= ts
}

var (
	descViolations = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "watched_domain", "violations_total"),
		"DNS answers for a watched name (the policy's domains entry) that pointed to an address outside its countries or into a flagged jurisdiction, by entry and the address's country.",
		[]string{"domain", "country"}, nil)
	descCountry = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "watched_domain", "country"),
		"1 for each country the current answers (TTL and grace not passed, in packet time) of a watched name resolve to.",
		[]string{"domain", "country"}, nil)
	descDropped = prometheus.NewDesc(prometheus.BuildFQName(exporter.Namespace, "watched_domain", "series_dropped_total"),
		"Watched name and country pairs not kept because MaxSeries pairs were.", nil, nil)
)

type collector struct{ w *Watcher }

// Collector returns the watcher's metrics.
func (w *Watcher) Collector() prometheus.Collector { return collector{w} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descViolations
	ch <- descCountry
	ch <- descDropped
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, n := range w.violations {
		ch <- prometheus.MustNewConstMetric(descViolations, prometheus.CounterValue, float64(n), k.domain, k.country)
	}
	for k, until := range w.current {
		if until <= w.now {
			delete(w.current, k) // expired: the name no longer resolves there
			continue
		}
		ch <- prometheus.MustNewConstMetric(descCountry, prometheus.GaugeValue, 1, k.domain, k.country)
	}
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(w.dropped.Load()))
}
