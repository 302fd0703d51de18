//go:build !linux && !cgo

package capture

import (
	"context"
	"errors"
)

// LiveCapture is unavailable outside Linux without cgo: live capture there
// goes through libpcap (see live_pcap.go).
type LiveCapture struct{}

// errNoLive explains why live capture is missing from this build.
var errNoLive = errors.New("capture: live capture outside Linux needs libpcap: build with CGO_ENABLED=1")

// NewLive validates opts and reports that this build cannot capture.
func NewLive(opts LiveOptions) (*LiveCapture, error) {
	if _, err := opts.withDefaults(); err != nil {
		return nil, err
	}
	return nil, errNoLive
}

// Run always fails in this build.
func (c *LiveCapture) Run(ctx context.Context, handle func(worker int, f *Frame)) error {
	return errNoLive
}

// Started is always false in this build.
func (c *LiveCapture) Started() bool { return false }

// Stats is always empty in this build.
func (c *LiveCapture) Stats() []InterfaceStats { return nil }

// Workers is always zero in this build.
func (c *LiveCapture) Workers() int { return 0 }

// Interfaces is always empty in this build.
func (c *LiveCapture) Interfaces() []string { return nil }
