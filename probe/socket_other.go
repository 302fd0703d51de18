//go:build !linux

package probe

import (
	"errors"
	"net/netip"
)

var errUnsupported = errors.New("probe: raw-socket probing is implemented for Linux only")

type sockets struct{ err6 error }

func openSockets() (*sockets, error) { return nil, errUnsupported }

func (s *sockets) close() {}

func (s *sockets) source(netip.Addr) (netip.Addr, error) { return netip.Addr{}, errUnsupported }

func (s *sockets) send(Method, netip.Addr, uint8, []byte) error { return errUnsupported }

func (s *sockets) receivers() []func([]byte, *parser) (reply, bool, error) { return nil }

func isTimeout(error) bool { return false }
