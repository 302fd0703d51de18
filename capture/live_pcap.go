//go:build (pcap || !linux) && cgo

package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/pcap"
)

// LiveCapture captures frames from network interfaces through libpcap
// (gopacket/pcap, cgo). It is the implementation outside Linux, and on Linux
// when built with the "pcap" tag. libpcap has no fanout, so each interface
// has exactly one worker whatever LiveOptions.Workers says. The filter is
// validated against CompileFilter's subset (so a configuration works on
// every platform) and then compiled by libpcap itself.
type LiveCapture struct {
	opts     LiveOptions
	ifaces   []*pcapIface
	started  atomic.Bool
	retryMin time.Duration
	retryMax time.Duration
}

type pcapIface struct {
	name  string
	index int
	up    atomic.Bool
	// opened counts successful opens (see InterfaceStats.Restarts).
	opened atomic.Uint64
	// packets is counted by the worker; the kernel counters are refreshed
	// by the worker too, since a pcap handle must not be used from two
	// goroutines at once.
	packets               atomic.Uint64
	drops, closedDrops    atomic.Uint64
	ifDrops, closedIfDrop atomic.Uint64
}

// NewLive validates opts, resolves the interface list and checks the filter;
// it opens nothing.
func NewLive(opts LiveOptions) (*LiveCapture, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := CompileFilter(o.Filter, LinkEthernet, o.SnapLen); err != nil {
		return nil, err
	}
	if o.Workers > 1 {
		o.Logger.Warn("libpcap capture has no fanout: using one worker per interface", "workers", o.Workers)
		o.Workers = 1
	}
	c := &LiveCapture{opts: o, retryMin: time.Second, retryMax: 60 * time.Second}
	for i, n := range o.Interfaces {
		c.ifaces = append(c.ifaces, &pcapIface{name: n, index: i})
	}
	return c, nil
}

// Workers returns the number of worker goroutines: one per interface.
func (c *LiveCapture) Workers() int { return len(c.ifaces) }

// Interfaces returns the names of the captured interfaces; Frame.Interface
// is an index into it.
func (c *LiveCapture) Interfaces() []string {
	out := make([]string, len(c.ifaces))
	for i, li := range c.ifaces {
		out[i] = li.name
	}
	return out
}

// Started reports whether at least one handle has started capturing.
func (c *LiveCapture) Started() bool { return c.started.Load() }

// Stats returns cumulative counters for every interface. The drop counters
// lag a little: the worker refreshes them every 1024 frames or poll timeout.
// libpcap has no queue-freeze counter, so QueueFreezes stays zero; the
// packets it reports dropped by the interface are added to KernelDrops.
func (c *LiveCapture) Stats() []InterfaceStats {
	out := make([]InterfaceStats, len(c.ifaces))
	for i, li := range c.ifaces {
		out[i] = InterfaceStats{
			Interface:   li.name,
			Packets:     li.packets.Load(),
			KernelDrops: li.drops.Load() + li.closedDrops.Load() + li.ifDrops.Load() + li.closedIfDrop.Load(),
			Up:          li.up.Load(),
			Restarts:    restarts(li.opened.Load()),
		}
	}
	return out
}

// Run opens the handles and calls handle for every frame, one goroutine per
// interface; f.Data is valid only during the call. After PollTimeout without
// a frame, handle is called with a nil frame (see the Linux Run). It returns
// nil when ctx is done. Interfaces that are missing or fail are retried with exponential
// backoff (1s up to 60s).
func (c *LiveCapture) Run(ctx context.Context, handle func(worker int, f *Frame)) error {
	var wg sync.WaitGroup
	for _, li := range c.ifaces {
		wg.Go(func() { c.supervise(ctx, li, handle) })
	}
	wg.Wait()
	return nil
}

func (c *LiveCapture) supervise(ctx context.Context, li *pcapIface, handle func(int, *Frame)) {
	log := c.opts.Logger.With("interface", li.name)
	var r retrier
	r.init(c.retryMin, c.retryMax)
	for ctx.Err() == nil {
		err := c.capture(ctx, li, handle, log, r.down())
		if ctx.Err() != nil {
			return
		}
		wait := r.failed(li.opened.Load(), log, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// pcapLinkType maps libpcap DLT_ values to LINKTYPE_ values.
func pcapLinkType(dlt int) (LinkType, error) {
	switch dlt {
	case 0:
		return LinkNull, nil
	case 1:
		return LinkEthernet, nil
	case 12:
		return LinkRawOld, nil
	case 14: // DLT_RAW on OpenBSD
		return LinkRaw, nil
	case 101, 108, 113, 228, 229, 276:
		return LinkType(dlt), nil
	}
	return 0, fmt.Errorf("link type %s (%d) not supported", pcap.DatalinkValToName(dlt), dlt)
}

func (c *LiveCapture) capture(ctx context.Context, li *pcapIface, handle func(int, *Frame), log *slog.Logger, outage []any) error {
	in, err := pcap.NewInactiveHandle(li.name)
	if err != nil {
		return err
	}
	defer in.CleanUp()
	for _, step := range []error{
		in.SetSnapLen(c.opts.SnapLen),
		in.SetPromisc(c.opts.Promiscuous),
		in.SetTimeout(c.opts.PollTimeout),
		in.SetBufferSize(c.opts.BufferSize),
	} {
		if step != nil {
			return step
		}
	}
	h, err := in.Activate()
	if err != nil {
		return err
	}
	defer func() {
		if st, err := h.Stats(); err == nil {
			li.closedDrops.Add(uint64(st.PacketsDropped))
			li.closedIfDrop.Add(uint64(st.PacketsIfDropped))
		}
		li.drops.Store(0)
		li.ifDrops.Store(0)
		li.up.Store(false)
		h.Close()
	}()
	if c.opts.Filter != "" {
		if err := h.SetBPFFilter(c.opts.Filter); err != nil {
			return fmt.Errorf("setting filter: %w", err)
		}
	}
	link, err := pcapLinkType(int(h.LinkType()))
	if err != nil {
		return err
	}
	li.opened.Add(1)
	li.up.Store(true)
	c.started.Store(true)
	log.Info("capturing", append([]any{"link_type", link, "snaplen", c.opts.SnapLen}, outage...)...)
	f := Frame{Link: link, Interface: li.index}
	for n := 0; ; n++ {
		if n&255 == 0 && ctx.Err() != nil {
			return nil
		}
		data, ci, err := h.ZeroCopyReadPacketData()
		if n&1023 == 0 || err != nil {
			if st, err := h.Stats(); err == nil {
				li.drops.Store(uint64(st.PacketsDropped))
				li.ifDrops.Store(uint64(st.PacketsIfDropped))
			}
		}
		if err != nil {
			if errors.Is(err, pcap.NextErrorTimeoutExpired) {
				if ctx.Err() != nil {
					return nil
				}
				handle(li.index, nil) // idle: let the caller run time-based work
				continue
			}
			return err
		}
		f.Data = data
		f.Timestamp = ci.Timestamp.UnixNano()
		f.WireLen = uint32(ci.Length)
		handle(li.index, &f)
		li.packets.Add(1)
	}
}
