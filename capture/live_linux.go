//go:build linux && !(pcap && cgo)

package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// LiveCapture captures frames from network interfaces with AF_PACKET
// TPACKET_V3 rings (no cgo). Each interface gets Workers sockets joined in a
// fanout group that hashes by flow (with IP defragmentation, so fragments of
// one datagram reach the same worker), and each socket is read by its own
// goroutine with zero-copy reads.
type LiveCapture struct {
	opts    LiveOptions
	ifaces  []*liveIface
	started atomic.Bool
	// fanoutBase is added to an interface's index to name its fanout group.
	// Group ids are shared by every process in the network namespace: a
	// random base keeps two agents (or tests) from joining each other's.
	fanoutBase uint16

	progMu sync.Mutex
	progs  map[LinkType]*filterProgram

	// links is closed (and replaced) when a link notification arrives:
	// every interface waiting for a retry wakes up.
	linksMu sync.Mutex
	links   chan struct{}
	// noLinkWake leaves retries to the backoff alone (tests of it).
	noLinkWake bool

	// retryMin and retryMax bound the exponential backoff between attempts
	// to open an interface that is missing or down.
	retryMin, retryMax time.Duration
}

// filterProgram is the filter compiled for one link type: raw for the
// kernel, and the instructions for a VM that applies it in user space to
// frames the ring received before the kernel filter was attached.
type filterProgram struct {
	raw  []bpf.RawInstruction
	prog []bpf.Instruction
}

// liveIface is the state of one captured interface.
type liveIface struct {
	name  string
	index int // position in LiveCapture.ifaces, used as Frame.Interface

	up atomic.Bool
	// opened counts successful opens; every one after the first is a
	// restart.
	opened atomic.Uint64
	// packets counts frames handed to the handler, one padded counter per
	// worker so workers never share a cache line.
	packets []paddedCounter

	mu sync.Mutex // guards socks and the closed* totals
	// socks are the open sockets, read for their kernel counters by Stats.
	socks []*socket
	// closedDrops and closedFreezes hold the kernel counters of sockets
	// already closed (the interface went away and came back).
	closedDrops, closedFreezes uint64
}

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

// NewLive validates opts, resolves the interface list and compiles the
// filter; it opens nothing.
func NewLive(opts LiveOptions) (*LiveCapture, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &LiveCapture{
		opts:       o,
		progs:      map[LinkType]*filterProgram{},
		fanoutBase: uint16(rand.Uint32()),
		retryMin:   time.Second,
		retryMax:   60 * time.Second,
	}
	// Compile now so a bad filter is reported before anything is opened;
	// both link types an interface can have are checked.
	for _, lt := range []LinkType{LinkEthernet, LinkRaw} {
		if _, err := c.program(lt); err != nil {
			return nil, err
		}
	}
	for i, name := range o.Interfaces {
		c.ifaces = append(c.ifaces, &liveIface{name: name, index: i, packets: make([]paddedCounter, o.Workers)})
	}
	return c, nil
}

func (c *LiveCapture) program(lt LinkType) (*filterProgram, error) {
	c.progMu.Lock()
	defer c.progMu.Unlock()
	if p, ok := c.progs[lt]; ok {
		return p, nil
	}
	prog, err := compileCapture(c.opts.Filter, lt, c.opts.SnapLen, &CutOptions{Payload: c.opts.Payload, Decapsulate: c.opts.Decapsulate})
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("capture: assembling filter: %w", err)
	}
	if _, err := bpf.NewVM(prog); err != nil {
		return nil, fmt.Errorf("capture: filter: %w", err)
	}
	p := &filterProgram{raw: raw, prog: prog}
	c.progs[lt] = p
	return p, nil
}

// Workers returns the total number of worker goroutines Run starts: the
// worker count times the number of interfaces. Worker indices passed to the
// handler are below it.
func (c *LiveCapture) Workers() int { return c.opts.Workers * len(c.ifaces) }

// Interfaces returns the names of the captured interfaces; Frame.Interface
// is an index into it.
func (c *LiveCapture) Interfaces() []string {
	out := make([]string, len(c.ifaces))
	for i, li := range c.ifaces {
		out[i] = li.name
	}
	return out
}

// Started reports whether at least one socket has started capturing.
func (c *LiveCapture) Started() bool { return c.started.Load() }

// Stats returns cumulative counters for every interface, in the order of
// Interfaces. Reading them does not stop the capture.
func (c *LiveCapture) Stats() []InterfaceStats {
	out := make([]InterfaceStats, len(c.ifaces))
	for i, li := range c.ifaces {
		s := InterfaceStats{Interface: li.name, Up: li.up.Load(), Restarts: restarts(li.opened.Load())}
		for w := range li.packets {
			s.Packets += li.packets[w].n.Load()
		}
		li.mu.Lock()
		s.KernelDrops, s.QueueFreezes = li.closedDrops, li.closedFreezes
		for _, sk := range li.socks {
			if drops, freezes, err := sk.src.stats(); err == nil {
				s.KernelDrops += drops
				s.QueueFreezes += freezes
			}
		}
		li.mu.Unlock()
		out[i] = s
	}
	return out
}

// errFatal marks open errors that retrying cannot fix (missing privileges).
type errFatal struct{ err error }

func (e errFatal) Error() string { return e.err.Error() }
func (e errFatal) Unwrap() error { return e.err }

// Run opens the sockets and calls handle for every frame, from one goroutine
// per worker; worker is in [0, Workers()) and f.Data is valid only during
// the call. When a socket has had no frame for PollTimeout, handle is called
// with a nil frame, so that the caller can do time-based work (end idle
// flows) on the worker's goroutine; handlers must check for nil. Run returns
// nil when ctx is done, after every worker has stopped and every socket is
// closed, or an error at once when sockets cannot be opened for lack of
// privileges (CAP_NET_RAW). An interface that is missing, goes down or
// disappears is retried with exponential backoff (1s up to 60s, from 1s
// again after each successful re-open) and at once whenever the kernel
// reports a link change, so it is captured again as soon as it is back; the
// others keep running.
func (c *LiveCapture) Run(ctx context.Context, handle func(worker int, f *Frame)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Link notifications wake the interfaces waiting to be re-opened, so
	// one that comes back is captured at once rather than after the rest
	// of its backoff (up to a minute).
	c.links = make(chan struct{})
	if !c.noLinkWake {
		defer NotifyNetlink(ctx, unix.RTMGRP_LINK, c.linkChanged)()
	}
	var wg sync.WaitGroup
	for _, li := range c.ifaces {
		wg.Go(func() {
			if err := c.superviseInterface(ctx, li, handle); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		var fatal errFatal
		if errors.As(err, &fatal) {
			return fatal.err
		}
	}
	return nil
}

// superviseInterface captures on one interface until ctx is done, reopening
// it with backoff whenever it is missing, down or fails.
func (c *LiveCapture) superviseInterface(ctx context.Context, li *liveIface, handle func(int, *Frame)) error {
	log := c.opts.Logger.With("interface", li.name)
	var r retrier
	r.init(c.retryMin, c.retryMax)
	for ctx.Err() == nil {
		err := c.captureInterface(ctx, li, handle, log, r.down())
		if ctx.Err() != nil {
			return nil
		}
		var fatal errFatal
		if errors.As(err, &fatal) {
			return err
		}
		wait := r.failed(li.opened.Load(), log, err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		case <-c.linkWait():
		}
	}
	return nil
}

// linkWait returns a channel closed at the next link notification.
func (c *LiveCapture) linkWait() <-chan struct{} {
	c.linksMu.Lock()
	defer c.linksMu.Unlock()
	return c.links
}

func (c *LiveCapture) linkChanged() {
	c.linksMu.Lock()
	defer c.linksMu.Unlock()
	close(c.links)
	c.links = make(chan struct{})
}

// errIfaceGone is returned by a worker when its interface went down or away.
var errIfaceGone = errors.New("interface went down or away")

// captureInterface opens the interface's sockets, runs its workers until
// ctx is done or the interface fails, and closes the sockets.
func (c *LiveCapture) captureInterface(ctx context.Context, li *liveIface, handle func(int, *Frame), log *slog.Logger, outage []any) error {
	ifi, err := net.InterfaceByName(li.name)
	if err != nil {
		return fmt.Errorf("interface not found: %w", err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return errors.New("interface is down")
	}
	link, dgram, err := linkOf(li.name)
	if err != nil {
		return err
	}
	prog, err := c.program(link)
	if err != nil {
		return errFatal{err}
	}
	socks, err := c.openSockets(li, ifi, link, dgram, prog)
	if err != nil {
		return err
	}
	li.mu.Lock()
	li.socks = socks
	li.mu.Unlock()
	li.opened.Add(1)
	li.up.Store(true)
	c.started.Store(true)
	log.Info("capturing", append([]any{"link_type", link, "workers", len(socks), "snaplen", c.opts.SnapLen}, outage...)...)

	wctx, wcancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	for w, s := range socks {
		wg.Go(func() {
			if err := c.work(wctx, li, w, s, handle, ifi.Index, link); err != nil {
				wcancel(err)
			}
		})
	}
	wg.Wait()
	wcancel(nil)

	li.up.Store(false)
	li.mu.Lock()
	for _, s := range socks {
		if drops, freezes, err := s.src.stats(); err == nil {
			li.closedDrops += drops
			li.closedFreezes += freezes
		}
		s.src.close()
	}
	li.socks = nil
	li.mu.Unlock()
	return context.Cause(wctx)
}

// packetSource is one AF_PACKET socket with its TPACKET_V3 ring, read by
// one worker: ringSocket (engine "ring") or afpacketSocket ("afpacket").
type packetSource interface {
	// next returns the next frame, valid until the following call;
	// errTimeout when none came within timeout, errIfaceGone when the
	// device went down or away.
	next(timeout time.Duration) (data []byte, ts int64, wireLen uint32, ifindex int32, err error)
	setBPF(prog []bpf.RawInstruction) error
	setFanout(id uint16) error
	setPromiscuous(ifindex int) error
	// stats returns the kernel's drop and queue freeze totals since open.
	stats() (drops, freezes uint64, err error)
	// filtersEarly reports whether the kernel filter was attached before
	// any frame could reach the ring.
	filtersEarly() bool
	close()
}

// errTimeout is returned by packetSource.next when no frame came in time.
var errTimeout = errors.New("capture: no frame before the poll timeout")

// socket is one worker's socket and the times before which its frames need
// a second look (see work).
type socket struct {
	src packetSource
	// filterSince is when the kernel filter was attached: frames received
	// earlier may not match it.
	filterSince int64
	// joinedSince is when the socket joined the fanout group: frames that
	// a second or later socket received earlier were also delivered to the
	// group, so they are duplicates.
	joinedSince int64
	// vm runs the filter in user space on the frames before filterSince;
	// one per socket so workers share nothing. nil when the kernel filter
	// was there from the start.
	vm *bpf.VM
}

// ringGeometry derives TPACKET_V3 block and frame sizes from the ring size.
// Blocks are the unit the kernel hands over: a few of them keep the reader
// and the kernel apart, and up to 1 MiB each keeps the block count (and so
// the number of wake-ups) low at high rates. The frame size only matters to
// the kernel's bookkeeping in V3 (frames are packed in blocks); it must fit
// the header, the link-layer padding and the snap length.
func ringGeometry(bufferSize, snapLen int) (blockSize, numBlocks, frameSize int) {
	page := os.Getpagesize()
	blockSize = 1 << 20
	for blockSize > page && blockSize*8 > bufferSize {
		blockSize /= 2
	}
	numBlocks = max(bufferSize/blockSize, 1)
	frameSize = page / 16 // 256 on 4 KiB pages
	for frameSize < snapLen+unix.TPACKET_ALIGNMENT*8+unix.SizeofTpacket3Hdr && frameSize < blockSize {
		frameSize *= 2
	}
	return blockSize, numBlocks, frameSize
}

func (c *LiveCapture) openSockets(li *liveIface, ifi *net.Interface, link LinkType, dgram bool, prog *filterProgram) (socks []*socket, err error) {
	defer func() {
		if err != nil {
			for _, s := range socks {
				s.src.close()
			}
			socks = nil
		}
	}()
	blockSize, numBlocks, frameSize := ringGeometry(c.opts.BufferSize, c.opts.SnapLen)
	blockTimeout := min(c.opts.PollTimeout, 50*time.Millisecond)
	// The kernel program drops outgoing copies on loopback, where every
	// frame is seen twice (sent and received), as libpcap does.
	kernelProg := prog.raw
	if ifi.Flags&net.FlagLoopback != 0 {
		guard, aerr := bpf.Assemble([]bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		})
		if aerr != nil {
			return nil, errFatal{aerr}
		}
		kernelProg = append(guard, prog.raw...)
	}
	fanoutID := c.fanoutBase + uint16(li.index)
	for w := 0; w < c.opts.Workers; w++ {
		var src packetSource
		var err error
		if c.opts.Engine == EngineAFPacket {
			src, err = openAFPacket(li.name, dgram, blockSize, numBlocks, frameSize, blockTimeout, c.opts.PollTimeout)
		} else {
			src, err = openRing(ifi.Index, dgram, kernelProg, blockSize, numBlocks, frameSize, blockTimeout)
		}
		if err != nil {
			if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
				return socks, errFatal{fmt.Errorf("capture: opening AF_PACKET socket on %s (needs CAP_NET_RAW): %w", li.name, err)}
			}
			return socks, fmt.Errorf("opening socket: %w", err)
		}
		s := &socket{src: src}
		socks = append(socks, s)
		if !src.filtersEarly() {
			if s.vm, err = bpf.NewVM(prog.prog); err != nil {
				return socks, errFatal{fmt.Errorf("capture: filter: %w", err)}
			}
			if err := src.setBPF(kernelProg); err != nil {
				return socks, errFatal{fmt.Errorf("capture: %s: %w", li.name, err)}
			}
			s.filterSince = time.Now().UnixNano()
		}
		if w == 0 && c.opts.Promiscuous {
			if err := src.setPromiscuous(ifi.Index); err != nil {
				return socks, fmt.Errorf("setting promiscuous mode: %w", err)
			}
		}
		if c.opts.Workers > 1 {
			if err := src.setFanout(fanoutID); err != nil {
				return socks, fmt.Errorf("joining fanout group %d: %w", fanoutID, err)
			}
		}
		s.joinedSince = time.Now().UnixNano()
	}
	return socks, nil
}

// work reads one socket until ctx is done or the interface fails.
func (c *LiveCapture) work(ctx context.Context, li *liveIface, w int, s *socket, handle func(int, *Frame), ifindex int, link LinkType) error {
	worker := li.index*c.opts.Workers + w
	counter := &li.packets[w].n
	var f Frame
	f.Link = link
	f.Interface = li.index
	done := ctx.Done()
	for n := 0; ; n++ {
		// Under load reads never time out: look at ctx every 256 frames.
		if n&255 == 0 {
			select {
			case <-done:
				return nil
			default:
			}
		}
		data, ts, wireLen, ifi, err := s.src.next(c.opts.PollTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if err == errTimeout {
				handle(worker, nil) // idle: let the caller run time-based work
				continue
			}
			if err == errIfaceGone {
				return err
			}
			return fmt.Errorf("reading: %w", err)
		}
		if ts < s.joinedSince && w > 0 {
			continue
		}
		if ts < s.filterSince {
			if int(ifi) != ifindex {
				continue
			}
			keep, err := s.vm.Run(data)
			if err != nil || keep == 0 {
				continue
			}
			if len(data) > keep {
				data = data[:keep] // the headers, as the kernel keeps them
			}
		}
		f.Data = data
		f.Timestamp = ts
		f.WireLen = wireLen
		handle(worker, &f)
		counter.Add(1)
	}
}

// Link-layer types from linux/if_arp.h.
const (
	arphrdEther    = 1
	arphrdIEEE802  = 6
	arphrdIPIP     = 768
	arphrdTunnel6  = 769
	arphrdSIT      = 776
	arphrdLoopback = 772
	arphrdNone     = 65534
)

// linkOf returns the link type frames of the interface have on an AF_PACKET
// socket, and whether a SOCK_DGRAM socket must be used: for Ethernet-like
// devices the frames start with an Ethernet header; for tunnels without a
// link header (tun, WireGuard, ipip, sit) they start with the IP header;
// anything else (PPP, GRE, InfiniBand...) is read with SOCK_DGRAM so the
// kernel strips the link header and frames start with the IP header too.
func linkOf(name string) (LinkType, bool, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, false, fmt.Errorf("capture: link type of %s: %w", name, err)
	}
	t, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false, fmt.Errorf("capture: link type of %s: %w", name, err)
	}
	switch t {
	case arphrdEther, arphrdIEEE802, arphrdLoopback:
		return LinkEthernet, false, nil
	case arphrdNone, arphrdIPIP, arphrdTunnel6, arphrdSIT:
		return LinkRaw, false, nil
	}
	return LinkRaw, true, nil
}
