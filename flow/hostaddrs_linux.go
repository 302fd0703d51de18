package flow

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// WatchHostAddrs calls fn with the host's addresses (HostAddrs) once at
// start and again whenever they change, until ctx is done: fn is
// Env.SetHostAddrs, or a function that calls it. It blocks, so run it in a
// goroutine. On Linux it subscribes to the kernel's address and link notifications
// (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK) and re-reads the
// list when one arrives, so changes are seen at once; it also re-reads every
// `every` (default 30s when zero or negative) in case a notification was
// lost or the subscription could not be made. fn is never called
// concurrently.
func WatchHostAddrs(ctx context.Context, every time.Duration, fn func([]netip.Addr)) {
	if every <= 0 {
		every = 30 * time.Second
	}
	wake := make(chan struct{}, 1)
	// The socket is non-blocking and waited on in the runtime's network
	// poller: a reader blocked in recvfrom(2) would keep a thread in a
	// system call, and every return from one wakes the runtime's sysmon
	// thread into a millisecond of 20µs naps (see ringSocket).
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
			Groups: unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_LINK})
		if err != nil {
			unix.Close(fd)
		}
	}
	if err == nil {
		f := os.NewFile(uintptr(fd), "netlink")
		rc, rerr := f.SyscallConn()
		if rerr != nil {
			f.Close()
		} else {
			readerDone := make(chan struct{})
			// Closing the file ends the reader's wait.
			stop := context.AfterFunc(ctx, func() { f.Close() })
			defer func() { stop(); f.Close(); <-readerDone }()
			go func() {
				defer close(readerDone)
				buf := make([]byte, 64<<10)
				for {
					var rerr error
					if err := rc.Read(func(fd uintptr) bool {
						_, _, rerr = unix.Recvfrom(int(fd), buf, 0)
						return !errors.Is(rerr, unix.EAGAIN) && !errors.Is(rerr, unix.EINTR)
					}); err != nil {
						return // closed; or not pollable: fall back to polling
					}
					if rerr != nil && !errors.Is(rerr, unix.ENOBUFS) { // ENOBUFS: messages lost, re-read anyway
						return // fall back to polling
					}
					// Address changes come in bursts: let the burst
					// finish so fn sees the settled list once.
					time.Sleep(20 * time.Millisecond)
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}()
		}
	}
	watchHostAddrs(ctx.Done(), every, wake, fn)
}
