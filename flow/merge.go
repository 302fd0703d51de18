package flow

import (
	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/keyhash"
)

// Merge adds what b counted to a: the aggregates, the remote hosts, the
// totals and the stats. It is how accountants that split one input by flow
// (analyze --workers, where each flow is accounted by exactly one of them)
// make the report one accountant would have made: every count is a sum,
// except the remote hosts of an aggregate, which are a union (a host seen by
// two accountants is one host), and a flagged aggregate's last-seen time,
// which is the latest.
//
// The result is exact while the caps were not reached. Past MaxAggregates or
// MaxHosts, which keys fold and which hosts go untracked depends on the
// order the accountants saw them in, so the folded rows and the untracked
// count can differ from one accountant's; past MaxFlows each accountant
// evicts from its own table.
//
// Both accountants must have been made with Config.Mergeable and the same
// Config and Env, b's flows must have ended (Flush), and b is not used
// after. Only a's owner may call it.
func (a *Accountant) Merge(b *Accountant) {
	b.Drain()
	into := make([]*Aggregate, len(b.groups.list))
	for i, g := range b.groups.list {
		ag := a.groups.get(g.Key)
		into[i] = ag
		addGroup(ag, g)
	}
	a.groups.folded.Add(b.groups.folded.Load())
	addGroup(a.internal, b.internal)

	if !a.cfg.NoHosts {
		for pos, h := range b.hosts.slots {
			if h == 0 {
				continue
			}
			ag := into[b.hosts.owners[pos]]
			if a.hosts.has(h) {
				continue
			}
			if a.hosts.n >= a.cfg.MaxHosts {
				a.Stats.HostsUntracked.Add(1)
				continue
			}
			if _, ok := a.hosts.add(h, ag.index); !ok {
				a.Stats.HostsUntracked.Add(1)
				continue
			}
			ag.Hosts.Store(ag.Hosts.Load() + 1)
		}
	}

	for d := range NumDirections {
		a.Totals.Packets[d] += b.Totals.Packets[d]
		a.Totals.Bytes[d] += b.Totals.Bytes[d]
		a.Totals.Flows[d] += b.Totals.Flows[d]
	}
	a.Stats.FlowsEvicted.Add(b.Stats.FlowsEvicted.Load())
	a.Stats.FlowsExpired.Add(b.Stats.FlowsExpired.Load())
	a.Stats.UnknownLookups.Add(b.Stats.UnknownLookups.Load())
	a.Stats.HostsUntracked.Add(b.Stats.HostsUntracked.Load())
	for c := range NumConflicts {
		a.Stats.Conflicts[c].Add(b.Stats.Conflicts[c].Load())
	}
}

// addGroup adds the counts of g to ag, except the hosts (see Merge).
func addGroup(ag, g *Aggregate) {
	for d := range 2 {
		ag.Bytes[d].Add(g.Bytes[d].Load())
		ag.Packets[d].Add(g.Packets[d].Load())
		ag.Flows[d].Add(g.Flows[d].Load())
	}
	if ls := g.LastSeen.Load(); ls > ag.LastSeen.Load() {
		ag.LastSeen.Store(ls)
	}
}

// shardSeed keys Shard, the same in every worker of the process; senders
// choose the keys.
var shardSeed = keyhash.New()

// Shard returns which of n accountants that split one input by flow owns
// the flow of p: the same for both directions of the flow (the key is in
// canonical order), so that each flow is accounted whole by one of them.
func Shard(p *capture.Packet, n int) int {
	var k Key
	makeKey(p, &k)
	var v4 uint64
	if k.V4 {
		v4 = 1
	}
	h := shardSeed.Sum5(k.AHi, k.ALo, k.BHi, k.BLo, uint64(k.PortA)<<32|uint64(k.PortB)<<16|uint64(k.Proto)<<8|v4)
	return int(uint64(uint32(h>>32)) * uint64(n) >> 32)
}
