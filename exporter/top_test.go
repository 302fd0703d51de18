package exporter

import (
	"strings"
	"testing"
)

// The vendors' top set (--metrics.vendor=top, one kept vendor): the leader
// gets its series, a new leader gets one too, the kept set stops at twice
// the top size, and no series ever goes backwards, "other" included.
func TestStickyTopVendors(t *testing.T) {
	top := newStickyTop[string, deviceKey](1)
	vendorOf := func(k deviceKey) (string, bool) { return k.vendor, k.vendor != Other }
	fold := func(k deviceKey) deviceKey { return deviceKey{Other, k.dir, k.country, k.jurisdiction} }
	key := func(v string) deviceKey { return deviceKey{v, "egress", "DE", ""} }
	other := key(Other)
	scrape := func(cur map[deviceKey]uint64) map[deviceKey]uint64 {
		kept, folded := top.update(cur, vendorOf, fold, strings.Compare)
		for k, v := range folded {
			kept[k] += v
		}
		return kept
	}
	steps := []struct {
		cur  map[deviceKey]uint64
		want map[deviceKey]uint64
	}{
		// Huawei leads: its series from 0 (what it had is not yet exported).
		{map[deviceKey]uint64{key("Huawei"): 300, key("ZTE"): 100}, map[deviceKey]uint64{key("Huawei"): 300, other: 100}},
		// ZTE takes the lead: its series counts from its previous value,
		// which stays in "other".
		{map[deviceKey]uint64{key("Huawei"): 310, key("ZTE"): 1100}, map[deviceKey]uint64{key("Huawei"): 310, key("ZTE"): 1000, other: 100}},
		// Xiaomi leads, but two vendors are kept already: "other".
		{map[deviceKey]uint64{key("Huawei"): 320, key("ZTE"): 1200, key("Xiaomi"): 5000}, map[deviceKey]uint64{key("Huawei"): 320, key("ZTE"): 1100, other: 5100}},
	}
	prev := map[deviceKey]uint64{}
	for i, s := range steps {
		got := scrape(s.cur)
		if len(got) != len(s.want) {
			t.Errorf("step %d: %v, want %v", i, got, s.want)
		}
		for k, v := range s.want {
			if got[k] != v {
				t.Errorf("step %d: %v = %d, want %d", i, k, got[k], v)
			}
		}
		for k, v := range prev {
			if got[k] < v {
				t.Errorf("step %d: %v went backwards: %d → %d", i, k, v, got[k])
			}
		}
		prev = got
	}
}
