//go:build !linux

package capture

import (
	"context"
	"net/netip"
	"time"
)

// WatchAddrs calls fn with the addresses of every interface of the host (as
// prefixes: address and mask length) once at start and again whenever they
// change, until ctx is done; it blocks, so run it in a goroutine. Outside
// Linux it polls the interface list every `every` (default 30s when zero or
// negative). fn is never called concurrently.
func WatchAddrs(ctx context.Context, every time.Duration, fn func([]netip.Prefix)) {
	if every <= 0 {
		every = 30 * time.Second
	}
	watchAddrs(ctx.Done(), every, nil, fn)
}
