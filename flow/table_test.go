package flow

import (
	"math/rand/v2"
	"testing"
)

// TestTableIndex drives the flow table's open-addressing index through
// random inserts, removals and lookups and checks it against a Go map: no
// key is lost by the backward-shift deletion, none is found twice, and the
// index grows past its initial size.
func TestTableIndex(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		r := rand.New(rand.NewPCG(seed, 0))
		tb := newTable(1 << 16)
		ref := map[Key]int32{}
		var keys []Key
		key := func() Key {
			var k Key
			// Few distinct values, so that probe runs collide and wrap.
			k.A[15] = byte(r.IntN(64))
			k.B[15] = byte(r.IntN(64))
			k.PortA = uint16(r.IntN(8))
			k.Proto = 6
			return k
		}
		for step := range 200000 {
			switch op := r.IntN(10); {
			case op < 5: // insert a new key
				k := key()
				if _, ok := ref[k]; ok {
					continue
				}
				ref[k] = tb.insert(&k)
				keys = append(keys, k)
			case op < 8 && len(keys) > 0: // remove a random key
				j := r.IntN(len(keys))
				k := keys[j]
				keys[j] = keys[len(keys)-1]
				keys = keys[:len(keys)-1]
				tb.remove(ref[k])
				delete(ref, k)
			default: // look up a random key, present or not
				k := key()
				got, ok := tb.get(&k)
				want, wok := ref[k]
				if ok != wok || (ok && got != want) {
					t.Fatalf("seed %d step %d: get(%v) = %d, %v; want %d, %v", seed, step, k.A[15], got, ok, want, wok)
				}
			}
			if tb.len() != len(ref) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, tb.len(), len(ref))
			}
		}
		for k, want := range ref {
			if got, ok := tb.get(&k); !ok || got != want {
				t.Fatalf("seed %d: key lost at the end: got %d, %v; want %d", seed, got, ok, want)
			}
		}
		if len(tb.slots) <= 2*(1<<12) {
			t.Errorf("seed %d: index never grew (%d slots)", seed, len(tb.slots))
		}
	}
}
