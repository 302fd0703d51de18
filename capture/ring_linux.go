//go:build linux && !(pcap && cgo)

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ringSocket is an AF_PACKET socket with a TPACKET_V3 receive ring that
// jurismon reads itself, the default engine.
//
// It exists because of how the wait between blocks costs in Go. afpacket
// waits in a blocking poll(2); a goroutine in a system call keeps the
// runtime's sysmon thread out of its deep sleep, and every system call
// made while sysmon sleeps wakes it into a millisecond of 20µs naps. At
// 100k packets/s that made sysmon a fifth of the agent's CPU time and 87%
// of its context switches. Here the block status is read from the ring's
// memory, and the worker waits for the next block parked in the runtime's
// network poller (epoll), like a net.Conn read: under load no system call
// is made at all, and between blocks every thread sleeps.
type ringSocket struct {
	file *os.File // the socket, non-blocking, registered with the poller
	fd   int
	rc   syscall.RawConn

	ring      []byte // blocks × blockSize, shared with the kernel
	blockSize int
	numBlocks int

	block  int  // index of the current block
	inUse  bool // the current block is ours (TP_STATUS_USER) until released
	left   int  // frames of the current block not yet returned
	off    int  // offset of the next frame in ring
	limit  int  // end of the current block in ring
	woke   bool // ready was called after a wait: the wake-up had a reason
	waitEr error
	// errCheck is when an idle wait last looked for a socket error.
	errCheck time.Time
	ready    func(uintptr) bool // r.readyFn, bound once so waits do not allocate

	statsMu        sync.Mutex
	drops, freezes uint64 // totals since open: the kernel resets on read
}

// openRing opens a socket on the interface with the given index, with the
// kernel filter prog attached before the socket is bound, so that no frame
// ever reaches the ring unfiltered.
func openRing(ifindex int, dgram bool, prog []bpf.RawInstruction, blockSize, numBlocks, frameSize int, blockTimeout time.Duration) (r *ringSocket, err error) {
	typ := unix.SOCK_RAW
	if dgram {
		typ = unix.SOCK_DGRAM
	}
	// Protocol 0: the socket receives nothing until bind names one.
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	r = &ringSocket{fd: fd, blockSize: blockSize, numBlocks: numBlocks}
	r.file = os.NewFile(uintptr(fd), "packet")
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.setBPF(prog); err != nil {
		return r, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return r, fmt.Errorf("setting TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(blockSize),
		Block_nr:       uint32(numBlocks),
		Frame_size:     uint32(frameSize),
		Frame_nr:       uint32(blockSize / frameSize * numBlocks),
		Retire_blk_tov: uint32(max(blockTimeout/time.Millisecond, 1)),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return r, fmt.Errorf("setting up the ring (%d blocks of %d bytes): %w", numBlocks, blockSize, err)
	}
	if r.ring, err = unix.Mmap(fd, 0, blockSize*numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return r, fmt.Errorf("mapping the ring: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return r, fmt.Errorf("binding to interface %d: %w", ifindex, err)
	}
	if r.rc, err = r.file.SyscallConn(); err != nil {
		return r, err
	}
	// The socket is non-blocking, so the poller took it: deadlines work.
	if err := r.file.SetReadDeadline(time.Time{}); err != nil {
		return r, fmt.Errorf("registering with the poller: %w", err)
	}
	r.ready = r.readyFn
	return r, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Offsets in a TPACKET_V3 block descriptor (struct tpacket_block_desc,
// whose header is struct tpacket_hdr_v1) and after a frame header.
const (
	blockStatusOff = 8
	blockNumOff    = 12
	blockFirstOff  = 16
	// The struct sockaddr_ll after each tpacket3_hdr, aligned; its
	// sll_ifindex is 4 bytes in.
	frameIfindexOff = (unix.SizeofTpacket3Hdr+unix.TPACKET_ALIGNMENT-1)&^(unix.TPACKET_ALIGNMENT-1) + 4
)

// status is the current block's status word, written by the kernel.
func (r *ringSocket) status() *uint32 {
	return (*uint32)(unsafe.Pointer(&r.ring[r.block*r.blockSize+blockStatusOff]))
}

// blockReady reports whether the kernel has handed the current block over.
func (r *ringSocket) blockReady() bool {
	return atomic.LoadUint32(r.status())&unix.TP_STATUS_USER != 0
}

// errRingCorrupt is returned if a frame header points outside its block,
// which only a kernel bug could cause; the capture is reopened.
var errRingCorrupt = errors.New("frame outside its ring block")

func (r *ringSocket) next(timeout time.Duration) (data []byte, ts int64, wireLen uint32, ifindex int32, err error) {
	for r.left == 0 {
		if r.inUse {
			// Give the block back; the atomic store orders it after
			// every read of the block's frames.
			atomic.StoreUint32(r.status(), unix.TP_STATUS_KERNEL)
			r.inUse = false
			r.block++
			if r.block == r.numBlocks {
				r.block = 0
			}
		}
		if !r.blockReady() {
			if err := r.wait(timeout); err != nil {
				return nil, 0, 0, 0, err
			}
		}
		base := r.block * r.blockSize
		b := r.ring[base : base+r.blockSize]
		r.inUse = true
		r.left = int(binary.NativeEndian.Uint32(b[blockNumOff:]))
		r.off = base + int(binary.NativeEndian.Uint32(b[blockFirstOff:]))
		r.limit = base + r.blockSize
	}
	if r.off+unix.SizeofTpacket3Hdr > r.limit {
		return nil, 0, 0, 0, errRingCorrupt
	}
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.ring[r.off]))
	start := r.off + int(h.Mac)
	end := start + int(h.Snaplen)
	if end > r.limit || r.off+frameIfindexOff+4 > r.limit {
		return nil, 0, 0, 0, errRingCorrupt
	}
	data = r.ring[start:end:end]
	ts = int64(h.Sec)*1e9 + int64(h.Nsec)
	wireLen = h.Len
	ifindex = int32(binary.NativeEndian.Uint32(r.ring[r.off+frameIfindexOff:]))
	r.left--
	r.off += int(h.Next_offset)
	return data, ts, wireLen, ifindex, nil
}

// wait parks the goroutine in the poller until the kernel retires the
// current block, the deadline passes (errTimeout) or the socket reports an
// error (errIfaceGone: the device went down or away).
func (r *ringSocket) wait(timeout time.Duration) error {
	if err := r.file.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	r.woke, r.waitEr = false, nil
	err := r.rc.Read(r.ready)
	switch {
	case err == nil:
		return r.waitEr
	case errors.Is(err, os.ErrDeadlineExceeded):
		// A device that went down while the worker was busy left its
		// error on the socket but no wake-up: look now and then. Not
		// on every timeout: each system call here would wake sysmon,
		// and an idle agent should cost nothing.
		if now := time.Now(); now.Sub(r.errCheck) >= time.Second {
			r.errCheck = now
			if r.socketError() {
				return errIfaceGone
			}
		}
		return errTimeout
	default:
		// The poller saw only an error (EPOLLERR).
		if r.socketError() {
			return errIfaceGone
		}
		return fmt.Errorf("waiting for the ring: %w", err)
	}
}

// readyFn is called by the poller before each wait and after each wake-up.
func (r *ringSocket) readyFn(uintptr) bool {
	if r.blockReady() {
		return true
	}
	if r.woke && r.socketError() {
		r.waitEr = errIfaceGone
		return true
	}
	r.woke = true
	return false
}

// socketError reports and clears a pending socket error: the kernel sets
// ENETDOWN when the device goes down or is unregistered.
func (r *ringSocket) socketError() bool {
	v, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	return err != nil || v != 0
}

func (r *ringSocket) setBPF(prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return nil
	}
	// bpf.RawInstruction and struct sock_filter share their layout.
	f := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		f[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("attaching filter: %w", err)
	}
	return nil
}

func (r *ringSocket) setFanout(id uint16) error {
	arg := (unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16 | int(id)
	return unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg)
}

func (r *ringSocket) setPromiscuous(ifindex int) error {
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	return unix.SetsockoptPacketMreq(r.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq)
}

func (r *ringSocket) stats() (drops, freezes uint64, err error) {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	s, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err == nil {
		r.drops += uint64(s.Drops)
		r.freezes += uint64(s.Freeze_q_cnt)
	}
	return r.drops, r.freezes, err
}

// filtersEarly: the kernel filter is attached before bind.
func (r *ringSocket) filtersEarly() bool { return true }

func (r *ringSocket) close() {
	if r.ring != nil {
		unix.Munmap(r.ring)
		r.ring = nil
	}
	r.file.Close()
}
