//go:build !linux

package flow

import (
	"context"
	"net/netip"
	"time"
)

// WatchHostAddrs calls fn with the host's addresses (HostAddrs) once at
// start and again whenever they change, until ctx is done: fn is
// Env.SetHostAddrs, or a function that calls it. It blocks, so run it in a
// goroutine. Outside Linux it polls the interface list every `every` (default 30s
// when zero or negative). fn is never called concurrently.
func WatchHostAddrs(ctx context.Context, every time.Duration, fn func([]netip.Addr)) {
	if every <= 0 {
		every = 30 * time.Second
	}
	watchHostAddrs(ctx.Done(), every, nil, fn)
}
