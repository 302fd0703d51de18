package enrich

import (
	"net/netip"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/geo"
)

// Facts are what is known about one flow, from the side of its remote
// endpoint. They are filled once when the flow starts (and by inspectors
// during its first packets); the accountant keeps them per flow, and the
// policy, events and reports read them.
type Facts struct {
	Local, Remote netip.AddrPort
	Proto         uint8
	Transit       bool          // Local is a remote endpoint too: the flow only passes the capture point
	Location      *geo.Location // remote endpoint's location (the geo enricher, always first); never nil once enriched
	Tunnel        Tunnel        // tunnel enricher (Protocol "" when none)
	Device        Device        // vendor enricher: the local endpoint's device
	Domain        Domain        // dns enricher: the remote's name
	Process       Process       // workload enricher: local process/container/pod
}

// Tunnel is the tunnel or VPN protocol a flow carries, who provides it, and
// where it ends. For most tunnels the ends are the flow's own endpoints; for
// a tunnel the decoder removed (GRE, VXLAN, GENEVE, IP-in-IP) the flow is
// the inner traffic, and the tunnel's ends are the outer addresses (with
// port 0): that is where the traffic really leaves.
type Tunnel struct {
	Protocol, Provider string
	Local, Endpoint    netip.AddrPort // the tunnel's local and remote ends
	Location           *geo.Location  // Endpoint's location (Facts.Location when it is the flow's remote)
}

// Device is the local endpoint's network device.
type Device struct {
	MAC                        [6]byte
	HasMAC, FromEUI64, Private bool // Private: a locally administered (randomised) address
	Vendor, VendorCountry      string
}

// Domain is the remote endpoint's name and how it was learnt.
type Domain struct {
	Name        string
	CNAMEChain  []string
	Source      string // "dns" or "sni"
	Registrable string // Name's public suffix and one label more (example.co.uk), for grouping
}

// Process is the local process (and its container, pod and workload) that
// owns the flow.
type Process struct {
	PID, UID                                                      int32
	Comm, Exe, User, Container, Runtime, Pod, Namespace, Workload string
}

// At returns the facts of a remote address alone, outside any flow: for
// judging an address that is looked up or traced rather than captured.
func At(remote netip.Addr, loc *geo.Location) Facts {
	return Facts{Remote: netip.AddrPortFrom(remote, 0), Location: loc}
}

// Enricher adds what one source knows about a new flow, once, never per
// packet. p is the flow's first packet (for a flow that starts from a flow
// record, a packet made of the record's addresses, ports and protocol).
// Enrichers run in order on every capture worker's goroutine at once: they
// must be safe for concurrent use, quick, and must not keep f or p.
type Enricher interface {
	Enrich(f *Facts, p *capture.Packet)
}

// State is an inspector's memory of one flow between its packets, zero
// when the flow starts. It is small and fixed so that keeping it costs no
// allocation per flow.
type State [32]byte

// Inspector sees the first packets of a new flow, in both directions, until
// it reports done (or MaxInspected packets have passed), so that a
// classifier (a tunnel protocol, say) can confirm what one packet suggests
// from the reply. It reports changed when it has updated f: the policy then
// judges the flow again. A flow every inspector is done with costs nothing
// more per packet. Like an Enricher it must be safe for concurrent use and
// must not keep f or p.
type Inspector interface {
	Inspect(s *State, f *Facts, p *capture.Packet, fromLocal bool) (changed, done bool)
}

// MaxInspected bounds the packets of one flow that inspectors see, so that
// no flow costs an inspector more whatever it sends.
const MaxInspected = 8

// MaxInspectors bounds how many inspectors one accountant runs (one bit
// each in a flow's entry).
const MaxInspectors = 8
