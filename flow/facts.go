package flow

import (
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
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
		if n := len(a.inspectors); n > 0 {
			a.states = append(a.states, make([]enrich.State, chunkSize*n))
		}
	}
	return a.factsAt(i)
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
		a.rejudge(e, f)
	}
}

// rejudge evaluates the policy again on facts an inspector changed. When the
// verdict differs, the counts so far stay with the flow's aggregate and the
// rest goes to the aggregate of the new verdict; the flow itself stays
// counted (Flows) where it started, so that flow counts never go down.
func (a *Accountant) rejudge(e *Entry, f *enrich.Facts) {
	j := int(e.factsSide)
	v := a.env.Policy().Evaluate(f)
	if g := e.side[j]; g != nil && g.Key.Jurisdiction == v.Jurisdiction && g.Key.MatchedBy == v.MatchedBy && g.Key.DeviceRule == v.Device {
		if v.Any() && e.flagged == int8(j) {
			e.verdict = v
		}
		return
	}
	a.publish(e)
	transit := e.remote[0] && e.remote[1]
	var local netip.Addr
	if !transit {
		local = e.Key.Addr(1 - j)
	}
	remote := e.Key.Addr(j)
	g := a.groups.get(a.key(f, local, transit, v))
	e.side[j] = g
	a.countHost(remote, g)
	// A flagged flow's facts are its flagged endpoint's: e.flagged is -1 or j.
	if v.Any() {
		e.flagged, e.verdict = int8(j), v
	} else {
		e.flagged, e.verdict = -1, v
	}
}
