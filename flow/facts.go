package flow

import (
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/policy"
)

// The facts of flow i live in chunks indexed like the table's entries, so
// that a new flow allocates nothing: a chunk is allocated when the table's
// entries first reach it, and reused with them.

// factsAt returns the facts of flow i.
func (a *Accountant) factsAt(i int32) *enrich.Facts {
	return &a.facts[i>>chunkBits][i&chunkMask]
}

// newFacts returns the facts of new flow i, allocating their chunk when i
// is the first entry of a new one. They still hold the previous flow's:
// newFlow overwrites them.
func (a *Accountant) newFacts(i int32) *enrich.Facts {
	for int(i>>chunkBits) >= len(a.facts) {
		a.facts = append(a.facts, new([chunkSize]enrich.Facts))
		a.verdicts = append(a.verdicts, new([chunkSize]policy.Verdict))
		if n := len(a.inspectors); n > 0 {
			a.states = append(a.states, make([]enrich.State, chunkSize*n))
		}
	}
	return a.factsAt(i)
}

// verdictAt returns the verdict of flow i: of the side its facts describe
// (the flagged endpoint, when one is).
func (a *Accountant) verdictAt(i int32) *policy.Verdict {
	return &a.verdicts[i>>chunkBits][i&chunkMask]
}

// statesAt returns the inspectors' states of flow i, one per inspector.
func (a *Accountant) statesAt(i int32) []enrich.State {
	n := len(a.inspectors)
	off := int(i&chunkMask) * n
	return a.states[i>>chunkBits][off : off+n]
}

// inspect shows packet p, sent by endpoint src, to the inspectors not done
// with flow i yet, and judges the flow again if one of them changed its
// facts. After enrich.MaxInspected packets every inspector is done.
func (a *Accountant) inspect(i int32, e *Entry, p *capture.Packet, src int) {
	f := a.factsAt(i)
	states := a.statesAt(i)
	fromLocal := src != int(e.factsSide)
	changed := false
	for b, in := range a.inspectors {
		if e.inspect&(1<<b) == 0 {
			continue
		}
		c, done := in.Inspect(&states[b], f, p, fromLocal)
		changed = changed || c
		if done {
			e.inspect &^= 1 << b
		}
	}
	if e.inspected++; e.inspected >= enrich.MaxInspected {
		e.inspect = 0
	}
	if changed {
		a.rejudge(i, e, f)
	}
}

// rejudge evaluates the policy again on facts an inspector changed. When the
// verdict differs, the counts so far stay with the flow's aggregate and the
// rest goes to the aggregate of the new verdict; the flow itself stays
// counted (Flows) where it started, so that flow counts never go down.
// Under ByTunnel a flow recognised as a tunnel moves whole to its tunnel's
// aggregate while nothing of it has been published (see moveWhole).
func (a *Accountant) rejudge(i int32, e *Entry, f *enrich.Facts) {
	j := int(e.factsSide)
	v := a.env.Policy().Evaluate(f)
	*a.verdictAt(i) = v
	defer a.tunnelRecognised(i, e, f)
	transit := e.remote[0] && e.remote[1]
	var local netip.Addr
	if !transit {
		local = e.Key.Addr(1 - j)
	}
	k := a.key(f, local, transit, v)
	if g := e.side[j]; g != nil && g.Key.Jurisdiction == v.Jurisdiction && g.Key.MatchedBy == v.MatchedBy && g.Key.DeviceRule == v.Device && g.Key.Tunnel == k.Tunnel {
		return
	}
	old := e.side[j]
	whole := a.moveWhole(e, k)
	if !whole {
		a.publish(e)
	}
	remote := e.Key.Addr(j)
	g := a.groups.get(k)
	e.side[j] = g
	a.countHost(remote, g)
	if whole && old != nil {
		first := To
		if int(e.firstSrc) == j {
			first = From
		}
		old.Flows[first].Store(old.Flows[first].Load() - 1)
		g.Flows[first].Store(g.Flows[first].Load() + 1)
	}
	// A flagged flow's facts are its flagged endpoint's: e.flagged is -1 or j.
	if v.Any() {
		e.flagged = int8(j)
	} else {
		e.flagged = -1
	}
}

// moveWhole reports whether a flow moving to the aggregate of k takes its
// counts so far, and its flow count, with it: only for a tunnel's row under
// ByTunnel (one row per tunnel, with all of its traffic), and only when no
// one can have read the old aggregate's counts of the flow (nothing is
// published live, and nothing of the flow was published yet), so that no
// counter a reader saw goes down.
func (a *Accountant) moveWhole(e *Entry, k AggregateKey) bool {
	return a.cfg.Grouping == ByTunnel && k.Tunnel != "" && a.publishEvery == 0 &&
		e.publishedPk[0] == 0 && e.publishedPk[1] == 0
}
