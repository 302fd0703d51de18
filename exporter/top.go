package exporter

import (
	"cmp"
	"slices"
)

// stickyTop keeps per-entity series (an AS, a vendor) for the top entities
// by bytes, and folds the others into one "other" series per fold key. An
// entity that enters the top keeps its series for good. Each of its series
// counts from the value it had at the previous scrape (its baseline): what
// it had by then was already exported inside "other", and stays there, so
// neither its series nor "other" ever goes backwards. The kept set is capped
// at twice the top size; past that, new entrants stay in "other".
//
// E is the entity, K a series key (the entity and its other labels).
type stickyTop[E comparable, K comparable] struct {
	max      int
	kept     map[E]bool
	baseline map[K]uint64 // series of kept entities, at their admission
	previous map[K]uint64 // every series at the previous scrape
}

func newStickyTop[E comparable, K comparable](max int) *stickyTop[E, K] {
	return &stickyTop[E, K]{max: max, kept: map[E]bool{}, baseline: map[K]uint64{}, previous: map[K]uint64{}}
}

// update takes every series' value now and returns the kept series' values
// (since their baselines) and the "other" sums by fold key. entity names a
// series' entity, and says whether it may be ranked at all (the unknown AS
// may not); cmpEntity orders entities of equal bytes.
func (t *stickyTop[E, K]) update(cur map[K]uint64, entity func(K) (E, bool), fold func(K) K, cmpEntity func(a, b E) int) (kept, other map[K]uint64) {
	totals := map[E]uint64{}
	for k, v := range cur {
		if e, ok := entity(k); ok {
			totals[e] += v
		}
	}
	type ev struct {
		e E
		v uint64
	}
	ranked := make([]ev, 0, len(totals))
	for e, v := range totals {
		ranked = append(ranked, ev{e, v})
	}
	slices.SortFunc(ranked, func(a, b ev) int {
		if c := cmp.Compare(b.v, a.v); c != 0 {
			return c
		}
		return cmpEntity(a.e, b.e)
	})
	for i := 0; i < len(ranked) && i < t.max; i++ {
		e := ranked[i].e
		if t.kept[e] || len(t.kept) >= 2*t.max {
			continue
		}
		t.kept[e] = true
		for k, v := range t.previous {
			if ke, ok := entity(k); ok && ke == e {
				t.baseline[k] = v
			}
		}
	}
	t.previous = cur
	kept, other = map[K]uint64{}, map[K]uint64{}
	for k, v := range cur {
		e, ok := entity(k)
		if !ok || !t.kept[e] {
			other[fold(k)] += v
			continue
		}
		base := t.baseline[k] // 0 for a series that appeared after its entity was admitted
		other[fold(k)] += base
		kept[k] = v - base
	}
	return kept, other
}
