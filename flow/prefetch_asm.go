//go:build amd64 || arm64

package flow

// prefetch asks the CPU to start loading the cache line at addr without
// waiting for it. Go has no prefetch intrinsic outside the runtime.
//
//go:noescape
func prefetch(addr uintptr)
