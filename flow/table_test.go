package flow

import (
	"math/rand/v2"
	"testing"
	"unsafe"
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
			k.ALo = uint64(r.IntN(64))
			k.BLo = uint64(r.IntN(64))
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
					t.Fatalf("seed %d step %d: get(%v) = %d, %v; want %d, %v", seed, step, k.ALo, got, ok, want, wok)
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

// TestTableSmallCaps: caps that are not powers of two still give a
// power-of-two index, and eviction at the cap keeps working (a cap of 3
// once made a 6-slot index whose probing never ended).
func TestTableSmallCaps(t *testing.T) {
	for _, max := range []int{1, 2, 3, 5, 7, 100, 4097} {
		cfg := DefaultConfig()
		cfg.MaxFlows = max
		a := NewAccountant(testEnv(t), cfg)
		for i := range 3 * max {
			p := pkt(1, "10.0.0.1", "192.0.2.10", 17, uint16(i), 53, 100)
			a.Add(&p)
		}
		if n := len(a.table.slots); n&(n-1) != 0 || n < 2*min(max, 1<<12) {
			t.Errorf("cap %d: %d slots, want a power of two of at least twice the entries", max, n)
		}
		if got := a.Stats.FlowEntries.Load(); got != int64(max) {
			t.Errorf("cap %d: %d flows in the table", max, got)
		}
		if got := a.Stats.FlowsEvicted.Load(); got != uint64(2*max) {
			t.Errorf("cap %d: %d evicted, want %d", max, got, 2*max)
		}
	}
}

// TestEntryLayout keeps the per-packet fields in the first two cache lines
// and the entry a whole number of lines (see Entry).
func TestEntryLayout(t *testing.T) {
	var e Entry
	if size := unsafe.Sizeof(e); size != 4*64 {
		t.Errorf("Entry is %d bytes, not four 64-byte lines", size)
	}
	for name, off := range map[string]uintptr{
		"Key": unsafe.Offsetof(e.Key), "Last": unsafe.Offsetof(e.Last), "moved": unsafe.Offsetof(e.moved),
		"remote": unsafe.Offsetof(e.remote), "prev": unsafe.Offsetof(e.prev),
	} {
		if off >= 64 {
			t.Errorf("%s at offset %d, want it in the first line", name, off)
		}
	}
	for name, off := range map[string]uintptr{"Bytes": unsafe.Offsetof(e.Bytes), "Packets": unsafe.Offsetof(e.Packets)} {
		if off < 64 || off+16 > 128 {
			t.Errorf("%s at offset %d, want it in the second line", name, off)
		}
	}
}
