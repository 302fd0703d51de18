package events

import (
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
)

// Event is one flagged flow as written to the log, one JSON object a line.
// The JSON names are a stable interface (documented in README.md): add
// fields, never rename or remove them.
//
// Tunnel is the tunnel or VPN the flow carries (see README, "Tunnels and
// VPNs"); TunnelEndpoint and TunnelPort are where it ends: the remote, or
// for a tunnel the decoder removed the outer remote address (port 0), the
// remote being the inner host then. TunnelProvider is that endpoint's
// provider from the policy's provider list. MatchedBy is flag_unlisted for
// a VPN flagged by tunnels.flag_unlisted.
type Event struct {
	Time              time.Time `json:"time"`       // when the agent reported the flow
	FirstSeen         time.Time `json:"first_seen"` // first packet
	LastSeen          time.Time `json:"last_seen"`  // latest packet
	Local             string    `json:"local"`
	LocalPort         uint16    `json:"local_port"`
	Remote            string    `json:"remote"`
	RemotePort        uint16    `json:"remote_port"`
	Protocol          string    `json:"protocol"`     // tcp, udp, icmp, icmpv6, else the IP protocol number
	BytesTo           uint64    `json:"bytes_to"`     // IP bytes sent to the remote (flagged) endpoint
	BytesFrom         uint64    `json:"bytes_from"`   // IP bytes received from it
	PacketsTo         uint64    `json:"packets_to"`   // packets sent to it
	PacketsFrom       uint64    `json:"packets_from"` // packets received from it
	Country           string    `json:"country"`
	RegisteredCountry string    `json:"registered_country"`
	ASN               uint32    `json:"asn"`
	ASOrg             string    `json:"as_org"`
	Tunnel            string    `json:"tunnel,omitempty"`
	TunnelEndpoint    string    `json:"tunnel_endpoint,omitempty"`
	TunnelPort        uint16    `json:"tunnel_endpoint_port,omitempty"`
	TunnelProvider    string    `json:"tunnel_provider,omitempty"`
	Jurisdiction      string    `json:"jurisdiction"`
	MatchedBy         string    `json:"matched_by"` // country, registered_country, asn or as_org
	Ended             bool      `json:"ended"`      // false for a periodic report of a live flow
	// The local device, where the capture shows its MAC (see README,
	// "Devices and vendors"); empty otherwise.
	LocalMAC        string `json:"local_mac,omitempty"`
	Vendor          string `json:"vendor,omitempty"`            // the registrant of the MAC's prefix
	VendorCountry   string `json:"vendor_country,omitempty"`    // the registrant's country
	VendorRule      string `json:"vendor_rule,omitempty"`       // the vendors rule that flagged the device
	VendorMatchedBy string `json:"vendor_matched_by,omitempty"` // vendor or vendor_country
	// Embedded is nat64, 6to4 or teredo when the remote IPv6 address was
	// located by the IPv4 address it embeds, EmbeddedAddress; absent else.
	Embedded        string `json:"embedded,omitempty"`
	EmbeddedAddress string `json:"embedded_address,omitempty"`
	// The remote's name, from the DNS answers seen on the wire (README,
	// "Passive DNS"): the queried name, and the CNAME targets that led
	// from it to the address. Absent when no answer was seen.
	Domain     string   `json:"domain,omitempty"`
	CNAMEChain []string `json:"cname_chain,omitempty"`
	// The local process that owns the flow's socket, and its container
	// and pod (README, "Processes and containers"), where the agent could
	// tell (--attribution.processes). UID is absent, not 0, when unknown.
	Process          string `json:"process,omitempty"` // the command name (comm)
	PID              int32  `json:"pid,omitempty"`
	UID              *int32 `json:"uid,omitempty"`
	User             string `json:"user,omitempty"`
	Exe              string `json:"exe,omitempty"`
	Container        string `json:"container,omitempty"`
	ContainerRuntime string `json:"container_runtime,omitempty"`
	Pod              string `json:"pod,omitempty"`
	Namespace        string `json:"namespace,omitempty"`
	Workload         string `json:"workload,omitempty"`
	// WatchedDomain is set on a watched-domain violation (not a flow): the
	// policy's domains entry an answer broke. local is then the client
	// that asked, remote the answered address, protocol "dns", ports 0,
	// domain and cname_chain the answer's names; jurisdiction is set when
	// the address is in a flagged one.
	WatchedDomain string `json:"watched_domain,omitempty"`
}

// FromFlow converts a flow event, copying everything out of it: the
// accountant reuses *e after the callback returns. now is the report time.
func FromFlow(e *flow.Event, now time.Time) Event {
	ev := Event{
		Time:         now.UTC(),
		FirstSeen:    time.Unix(0, e.First).UTC(),
		LastSeen:     time.Unix(0, e.Last).UTC(),
		Local:        addrString(e.Local.Addr()),
		LocalPort:    e.Local.Port(),
		Remote:       addrString(e.Remote.Addr()),
		RemotePort:   e.Remote.Port(),
		Protocol:     ProtocolName(e.Proto),
		BytesTo:      e.BytesTo,
		BytesFrom:    e.BytesFrom,
		PacketsTo:    e.PacketsTo,
		PacketsFrom:  e.PacketsFrom,
		Jurisdiction: e.Verdict.Jurisdiction,
		MatchedBy:    e.Verdict.MatchedBy.String(),
		Ended:        e.Ended,
	}
	if f := e.Facts; f != nil && f.Tunnel.Protocol != "" {
		ev.Tunnel, ev.TunnelProvider = f.Tunnel.Protocol, f.Tunnel.Provider
		end := f.Tunnel.Endpoint
		if !end.IsValid() {
			end = e.Remote
		}
		ev.TunnelEndpoint, ev.TunnelPort = addrString(end.Addr()), end.Port()
	}
	// Location strings are immutable and shared by the resolver's cache, so
	// copying the string headers is enough.
	if loc := e.Location; loc != nil {
		ev.Country = loc.Country
		ev.RegisteredCountry = loc.RegisteredCountry
		ev.ASN = loc.ASN
		ev.ASOrg = loc.ASOrg
		if loc.Embedded != geo.EmbedNone {
			_, v4 := geo.Embedded(e.Remote.Addr())
			ev.Embedded, ev.EmbeddedAddress = loc.Embedded.String(), addrString(v4)
		}
	}
	if f := e.Facts; f != nil && f.Device.HasMAC {
		ev.LocalMAC = net.HardwareAddr(f.Device.MAC[:]).String()
		ev.Vendor, ev.VendorCountry = f.Device.Vendor, f.Device.VendorCountry
	}
	if f := e.Facts; f != nil {
		fillFacts(&ev, f)
	}
	ev.VendorRule = e.Verdict.Device
	if e.Verdict.Device != "" {
		ev.VendorMatchedBy = e.Verdict.DeviceMatchedBy.String()
	}
	return ev
}

// addrString is "" rather than netip's "invalid IP" for a missing address.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// ProtocolName names the IP protocols whose ports or types the flow key
// carries, and gives the decimal number of any other.
func ProtocolName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

// fillFacts copies the flow's name and owner into ev. The strings are
// immutable and the chain is never modified where it is kept (the DNS
// cache replaces a chain rather than writing into it), so sharing them is
// enough; the chain is copied anyway, since the event outlives the flow.
func fillFacts(ev *Event, f *enrich.Facts) {
	if d := &f.Domain; d.Name != "" {
		ev.Domain = d.Name
		if len(d.CNAMEChain) > 0 {
			ev.CNAMEChain = append([]string(nil), d.CNAMEChain...)
		}
	}
	if pr := &f.Process; pr.PID != 0 {
		ev.Process, ev.PID, ev.User, ev.Exe = pr.Comm, pr.PID, pr.User, pr.Exe
		uid := pr.UID
		ev.UID = &uid
	}
	ev.Container, ev.ContainerRuntime = f.Process.Container, f.Process.Runtime
	ev.Pod, ev.Namespace, ev.Workload = f.Process.Pod, f.Process.Namespace, f.Process.Workload
}
