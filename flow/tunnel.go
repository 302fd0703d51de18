package flow

import (
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/policy"
)

// TunnelObserver hears about the flows that carry a tunnel or VPN (an
// inspector set Facts.Tunnel.Protocol): once when the tunnel is recognised
// (Started), then whenever the flow moves in the LRU order (about every
// second while it carries traffic, see moveEvery), and once when it ends
// (Ended). Each event carries what the flow sent and received since the
// previous one, so that an observer adds them up without keeping anything
// per flow; the first carries everything since the flow started.
type TunnelObserver interface {
	ObserveTunnel(*TunnelEvent)
}

// TunnelEvent is one report of a flow that carries a tunnel. To is traffic
// sent to the side the facts describe (the remote one), From received from
// it.
type TunnelEvent struct {
	// Facts are the flow's (Tunnel set), valid only during the call.
	Facts                  *enrich.Facts
	Verdict                policy.Verdict
	First, Last            int64 // the flow's first and latest packet, Unix nanoseconds
	BytesTo, BytesFrom     uint64
	PacketsTo, PacketsFrom uint64
	Started, Ended         bool
	Transit                bool // the facts' Local is a remote endpoint too
}

// TunnelFunc adapts a function to a TunnelObserver.
type TunnelFunc func(*TunnelEvent)

// ObserveTunnel calls t.
func (t TunnelFunc) ObserveTunnel(ev *TunnelEvent) { t(ev) }

// tunnelRecognised starts the tunnel reports of flow i once its facts name
// a tunnel. A flow whose tunnel an inspector renames (WireGuard found to be
// Tailscale) keeps its reports going under the new name.
func (a *Accountant) tunnelRecognised(i int32, e *Entry, f *enrich.Facts) {
	if e.tunnel || f.Tunnel.Protocol == "" || len(a.obs.tunnel) == 0 {
		return
	}
	e.tunnel = true
	a.tunnelEvent(i, e, true, false)
}

// tunnelEvent reports flow i to the TunnelObservers with its counts since
// the previous report.
func (a *Accountant) tunnelEvent(i int32, e *Entry, started, ended bool) {
	r := int(e.factsSide)
	l := 1 - r
	ev := &a.tunnelEv
	*ev = TunnelEvent{
		Facts: a.factsAt(i), Verdict: *a.verdictAt(i),
		First: e.First, Last: e.Last,
		BytesTo:     e.Bytes[l] - e.tunnelBytes[l],
		BytesFrom:   e.Bytes[r] - e.tunnelBytes[r],
		PacketsTo:   e.Packets[l] - e.tunnelPk[l],
		PacketsFrom: e.Packets[r] - e.tunnelPk[r],
		Started:     started, Ended: ended,
		Transit: e.remote[l],
	}
	e.tunnelBytes, e.tunnelPk = e.Bytes, e.Packets
	for _, o := range a.obs.tunnel {
		o.ObserveTunnel(ev)
	}
}

// tunnelKey makes k, a key under ByTunnel, the key of the tunnel f
// carries, if any: one per tunnel (protocol, its two ends with their ports,
// the endpoint's location, and the verdict). A flow without a tunnel keeps
// a location key, as under ByLocation, which the tunnel report leaves out.
// The tunnel's ends are the flow's own endpoints, or the outer addresses of
// a tunnel the decoder removed: the inner flows through one tunnel make one
// aggregate.
func tunnelKey(k *AggregateKey, f *enrich.Facts) {
	t := &f.Tunnel
	if t.Protocol == "" {
		return
	}
	if loc := t.Location; t.Endpoint.IsValid() && loc != nil {
		k.Class, k.Country, k.RegisteredCountry, k.ASN, k.ASOrg, k.Embedded = loc.Class, loc.Country, loc.RegisteredCountry, loc.ASN, loc.ASOrg, loc.Embedded
	}
	k.Tunnel = t.Protocol
	local, remote := t.Local, t.Endpoint
	if !remote.IsValid() {
		local, remote = f.Local, f.Remote
	}
	k.Local, k.LocalPort = local.Addr(), local.Port()
	k.Remote, k.RemotePort = remote.Addr(), remote.Port()
}
