package flow

import (
	"context"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jurismon/jurismon/capture"
)

// WatchHostAddrs calls fn with the host's addresses (HostAddrs) once at
// start and again whenever they change, until ctx is done: fn is
// Env.SetHostAddrs, or a function that calls it. It blocks, so run it in a
// goroutine. On Linux it subscribes to the kernel's address and link
// notifications (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK, through
// capture.NotifyNetlink, which the live capture's link watch uses too) and
// re-reads the list when one arrives, so changes are seen at once; it also
// re-reads every `every` (default 30s when zero or negative) in case a
// notification was lost or the subscription could not be made. fn is never
// called concurrently.
func WatchHostAddrs(ctx context.Context, every time.Duration, fn func([]netip.Addr)) {
	if every <= 0 {
		every = 30 * time.Second
	}
	wake := make(chan struct{}, 1)
	defer capture.NotifyNetlink(ctx, unix.RTMGRP_IPV4_IFADDR|unix.RTMGRP_IPV6_IFADDR|unix.RTMGRP_LINK, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})()
	watchHostAddrs(ctx.Done(), every, wake, fn)
}
