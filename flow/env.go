package flow

import (
	"net/netip"
	"sync/atomic"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// Locator resolves a remote address; geo.Resolver implements it.
type Locator = enrich.Locator

// Env is the state shared by every accountant and swapped at run time: the
// policy (on reload) and the host's own addresses (when interfaces change,
// see WatchHostAddrs).
// Readers never lock: each part is an atomic pointer replaced whole.
type Env struct {
	Geo Locator
	// LookupDocumentation makes the documentation ranges look like public
	// addresses (for tests and labs); it must match the resolver's option.
	LookupDocumentation bool
	// Enrichers add to a new flow's facts after the built-in geo enricher
	// (Geo), in order; Inspectors see its first packets (at most
	// enrich.MaxInspectors of them). Both are set before the first
	// accountant is made and never changed: every accountant shares them.
	Enrichers  []enrich.Enricher
	Inspectors []enrich.Inspector
	// LocalNetworks are local besides the policy's local_networks: the
	// networks of the capture host that analyze is told about
	// (--local-network). Set before the first accountant is made.
	LocalNetworks []netip.Prefix

	policy atomic.Pointer[policy.Policy]
	host   atomic.Pointer[[]netip.Addr]
}

// NewEnv returns an Env with the given locator and policy (nil = flag nothing).
func NewEnv(loc Locator, p *policy.Policy, lookupDocumentation bool) *Env {
	e := &Env{Geo: loc, LookupDocumentation: lookupDocumentation}
	e.SetPolicy(p)
	return e
}

// SetPolicy replaces the policy for flows created from now on.
func (e *Env) SetPolicy(p *policy.Policy) {
	if p == nil {
		p = policy.Empty()
	}
	e.policy.Store(p)
}

// Policy returns the current policy.
func (e *Env) Policy() *policy.Policy { return e.policy.Load() }

// IsLocal reports whether a is on the host's side: a special-purpose local
// address (private, loopback, link-local, CGNAT, ULA, …), a configured
// local network (the policy's or LocalNetworks), or one of the host's own
// addresses.
func (e *Env) IsLocal(a netip.Addr) bool {
	if geo.Classify(a, e.LookupDocumentation).Local() {
		return true
	}
	if e.policy.Load().IsLocal(a) {
		return true
	}
	for _, n := range e.LocalNetworks {
		if n.Contains(a.Unmap()) {
			return true
		}
	}
	return e.isHostAddr(a)
}
