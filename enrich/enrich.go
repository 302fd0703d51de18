// Package enrich holds the facts known about a flow and the interfaces of
// the pieces that add to them.
//
// Minimal copy of the contract the seam branch defines, so that the dns
// branch compiles on its own; the seam branch's version wins on merge.
package enrich

import (
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/geo"
)

// Facts is everything known about one flow.
type Facts struct {
	Local, Remote netip.AddrPort
	Proto         uint8
	Location      *geo.Location
	Tunnel        Tunnel
	Device        Device
	Domain        Domain
	Process       Process
}

// Tunnel names the tunnel protocol and provider a flow goes through.
type Tunnel struct{ Protocol, Provider string }

// Device describes the local device of a flow.
type Device struct {
	MAC                        [6]byte
	HasMAC, FromEUI64, Private bool
	Vendor, VendorCountry      string
}

// Domain is the name a flow's remote address was reached by.
type Domain struct {
	Name       string
	CNAMEChain []string
	Source     string // "dns" or "sni"
}

// Process is the local process (and container, pod) owning a flow.
type Process struct {
	PID, UID                                                      int32
	Comm, Exe, User, Container, Runtime, Pod, Namespace, Workload string
}

// Enricher adds facts to a new flow.
type Enricher interface {
	Enrich(f *Facts, p *capture.Packet)
}

// Inspector looks at the packets of a flow until it says it is done.
type Inspector interface {
	Inspect(s *State, f *Facts, p *capture.Packet, fromLocal bool) (changed, done bool)
}

// State is an Inspector's per-flow scratch space.
type State [32]byte
