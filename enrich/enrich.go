// Package enrich holds what is known about a flow (Facts) and the
// interfaces through which sources add to it. This is the minimal form of
// the seam's contract that the tunnel branch compiles against; the seam
// branch owns the package.
package enrich

import (
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/geo"
)

// Facts are what is known about one flow.
type Facts struct {
	Local, Remote netip.AddrPort
	Proto         uint8
	Location      *geo.Location
	Tunnel        Tunnel
	Device        Device
	Domain        Domain
	Process       Process
}

// Tunnel is the tunnel or VPN protocol a flow carries, and who provides it.
type Tunnel struct{ Protocol, Provider string }

// Device is the local endpoint's network device.
type Device struct {
	MAC                        [6]byte
	HasMAC, FromEUI64, Private bool
	Vendor, VendorCountry      string
}

// Domain is the remote endpoint's name and how it was learnt.
type Domain struct {
	Name       string
	CNAMEChain []string
	Source     string
}

// Process is the local process that owns the flow.
type Process struct {
	PID, UID                                                      int32
	Comm, Exe, User, Container, Runtime, Pod, Namespace, Workload string
}

// Enricher adds what one source knows about a new flow, once.
type Enricher interface {
	Enrich(f *Facts, p *capture.Packet)
}

// Inspector sees the first packets of a new flow, in both directions.
type Inspector interface {
	Inspect(s *State, f *Facts, p *capture.Packet, fromLocal bool) (changed, done bool)
}

// State is an inspector's memory of one flow between its packets.
type State [32]byte
