package capture

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// WatchAddrs calls fn with the addresses of every interface of the host (as
// prefixes: address and mask length) once at start and again whenever they
// change, until ctx is done; it blocks, so run it in a goroutine. On Linux it
// subscribes to the kernel's address and link notifications
// (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK) and re-reads the
// list when one arrives, so changes are seen at once; it also re-reads every
// `every` (default 30s when zero or negative) in case a notification was lost
// or the subscription could not be made. fn is never called concurrently.
func WatchAddrs(ctx context.Context, every time.Duration, fn func([]netip.Prefix)) {
	if every <= 0 {
		every = 30 * time.Second
	}
	wake := make(chan struct{}, 1)
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
			Groups: unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_LINK})
		if err == nil {
			// A receive timeout lets the reader notice ctx without
			// closing the socket under it.
			tv := unix.NsecToTimeval((250 * time.Millisecond).Nanoseconds())
			err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		}
		if err != nil {
			unix.Close(fd)
		}
	}
	if err == nil {
		readerDone := make(chan struct{})
		defer func() { <-readerDone; unix.Close(fd) }()
		go func() {
			defer close(readerDone)
			buf := make([]byte, 64<<10)
			for ctx.Err() == nil {
				_, _, rerr := unix.Recvfrom(fd, buf, 0)
				switch {
				case rerr == nil, errors.Is(rerr, unix.ENOBUFS): // ENOBUFS: messages lost, re-read anyway
					// Address changes come in bursts: let the burst
					// finish so fn sees the settled list once.
					time.Sleep(20 * time.Millisecond)
					select {
					case wake <- struct{}{}:
					default:
					}
				case errors.Is(rerr, unix.EAGAIN), errors.Is(rerr, unix.EINTR):
				default:
					return // fall back to polling
				}
			}
		}()
	}
	watchAddrs(ctx.Done(), every, wake, fn)
}
