//go:build !amd64 && !arm64

package flow

func prefetch(uintptr) {}
