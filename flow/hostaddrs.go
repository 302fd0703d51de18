package flow

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// The host's own addresses are local, whatever their class: a public
// address on an interface is this host, not a remote. They change at run
// time (DHCP, VPNs, containers), so they are watched, and the accountants
// read them through Env.IsLocal.

// SetHostAddrs replaces the host's own addresses.
func (e *Env) SetHostAddrs(addrs []netip.Addr) {
	c := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		c[i] = a.Unmap()
	}
	e.host.Store(&c)
}

// isHostAddr reports whether a is one of the host's own addresses.
func (e *Env) isHostAddr(a netip.Addr) bool {
	if h := e.host.Load(); h != nil {
		return slices.Contains(*h, a)
	}
	return false
}

// HostAddrs returns the addresses of every interface of the host, sorted
// and without duplicates.
func HostAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing the host's addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), nil
}

// watchHostAddrs reports the host's addresses now and whenever they differ
// from the last report, checking each time wake delivers (or every interval)
// until done is closed.
func watchHostAddrs(done <-chan struct{}, every time.Duration, wake <-chan struct{}, fn func([]netip.Addr)) {
	var last []netip.Addr
	first := true
	check := func() {
		cur, err := HostAddrs()
		if err != nil {
			return // keep the last good list; the next tick retries
		}
		if first || !slices.Equal(cur, last) {
			first = false
			last = cur
			fn(slices.Clone(cur))
		}
	}
	check()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		case <-wake:
		}
		check()
	}
}
