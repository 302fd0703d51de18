package geo

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestShardTable checks the shard's open-addressing table against a plain
// map under random stores, lookups and evictions, with keys whose homes
// collide so that probe runs wrap around the table and deletions shift
// entries back.
func TestShardTable(t *testing.T) {
	if size := unsafe.Sizeof(slot{}); size != 64 {
		t.Errorf("a slot is %d bytes, want 64 (one cache line)", size)
	}
	for _, max := range []int{2, 5, 16} {
		for seed := range uint64(20) {
			r := rand.New(rand.NewPCG(seed, uint64(max)))
			stats := make([]shardStats, 1)
			c := newCache(max, stats)
			s := &c.shards[0]
			locs := map[cacheKey]*Location{}
			for step := range 5000 {
				k := cacheKey{hi: uint64(r.IntN(40)), bits: uint64(1 + r.IntN(2))}
				if r.IntN(10) < 6 {
					loc := &Location{ASN: uint32(step)}
					_, had := locs[k]
					s.store(k, loc, [2]uint64{})
					locs[k] = loc
					if !had && len(locs) > max {
						// Exactly one other key went.
						var gone []cacheKey
						for mk := range locs {
							if s.find(mk) == nil {
								gone = append(gone, mk)
							}
						}
						if len(gone) != 1 || gone[0] == k {
							t.Fatalf("max %d seed %d step %d: store of a new key at capacity lost %v", max, seed, step, gone)
						}
						delete(locs, gone[0])
					}
				} else if sl := s.find(k); (sl != nil) != (locs[k] != nil) || sl != nil && sl.loc != locs[k] {
					t.Fatalf("max %d seed %d step %d: find(%v) = %+v, want %v", max, seed, step, k, sl, locs[k])
				}
				used := 0
				for i := range s.slots {
					if s.slots[i].used {
						used++
					}
				}
				if s.n != len(locs) || used != s.n || s.n > max {
					t.Fatalf("max %d seed %d step %d: n = %d, %d slots used, model %d", max, seed, step, s.n, used, len(locs))
				}
				for mk, loc := range locs {
					if sl := s.find(mk); sl == nil || sl.loc != loc {
						t.Fatalf("max %d seed %d step %d: %v unreachable after the last operation", max, seed, step, mk)
					}
				}
			}
		}
	}
}
