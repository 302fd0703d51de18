//go:build linux && !(pcap && cgo)

package capture

import (
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakeFrame writes a tpacket3_hdr at off in ring, with the sockaddr_ll's
// interface index after it and data at the mac offset (80, as the kernel
// puts an Ethernet frame), as the kernel fills a TPACKET_V3 block.
func fakeFrame(ring []byte, off int, data []byte, wireLen uint32, sec, nsec uint32, ifindex int32, next uint32) {
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&ring[off]))
	h.Sec, h.Nsec = sec, nsec
	h.Snaplen = uint32(len(data))
	h.Len = wireLen
	h.Mac = 80
	h.Next_offset = next
	binary.NativeEndian.PutUint32(ring[off+frameIfindexOff:], uint32(ifindex))
	copy(ring[off+80:], data)
}

// TestRingNext walks a hand-built ring the way the kernel fills one: two
// frames in the first block, then a block whose frame claims more bytes
// than the block holds, which must be an error and never a panic.
func TestRingNext(t *testing.T) {
	const blockSize = 4096
	r := &ringSocket{ring: make([]byte, 2*blockSize), blockSize: blockSize, numBlocks: 2}
	block := func(i int, num, first uint32) {
		b := r.ring[i*blockSize:]
		binary.NativeEndian.PutUint32(b[blockStatusOff:], unix.TP_STATUS_USER)
		binary.NativeEndian.PutUint32(b[blockNumOff:], num)
		binary.NativeEndian.PutUint32(b[blockFirstOff:], first)
	}
	block(0, 2, 64)
	fakeFrame(r.ring, 64, []byte("first frame"), 1500, 10, 20, 7, 256)
	fakeFrame(r.ring, 64+256, []byte("second"), 60, 11, 0, 8, 0)
	block(1, 1, 64)
	fakeFrame(r.ring, blockSize+64, make([]byte, 16), 16, 0, 0, 7, 0)
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.ring[blockSize+64]))
	h.Snaplen = blockSize // past the end of the block

	for _, want := range []struct {
		data    string
		ts      int64
		wireLen uint32
		ifindex int32
	}{
		{"first frame", 10e9 + 20, 1500, 7},
		{"second", 11e9, 60, 8},
	} {
		data, ts, wireLen, ifindex, err := r.next(0)
		if err != nil || string(data) != want.data || ts != want.ts || wireLen != want.wireLen || ifindex != want.ifindex {
			t.Fatalf("next() = %q, %d, %d, %d, %v; want %q, %d, %d, %d", data, ts, wireLen, ifindex, err, want.data, want.ts, want.wireLen, want.ifindex)
		}
	}
	if _, _, _, _, err := r.next(0); !errors.Is(err, errRingCorrupt) {
		t.Fatalf("next() on a frame past its block: %v, want errRingCorrupt", err)
	}
	if got := binary.NativeEndian.Uint32(r.ring[blockStatusOff:]); got != unix.TP_STATUS_KERNEL {
		t.Errorf("first block's status after reading it: %#x, want TP_STATUS_KERNEL (given back)", got)
	}
}
