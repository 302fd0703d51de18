package report

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
)

// All stands for a field that the grouping aggregates over.
const All = "*"

// Row is one group of remote endpoints. "To" is traffic sent to the remote
// side, "From" traffic received from it.
type Row struct {
	Country           string  `json:"country"`
	RegisteredCountry string  `json:"registered_country"`
	ASN               *uint32 `json:"asn"` // null when the grouping aggregates over ASNs
	ASOrg             string  `json:"as_org"`
	AddressClass      string  `json:"address_class"`
	Remote            string  `json:"remote,omitempty"`
	Local             string  `json:"local,omitempty"`
	Tunnel            string  `json:"tunnel,omitempty"`      // --by tunnel: the protocol
	RemotePort        *uint16 `json:"remote_port,omitempty"` // --by tunnel: the ends' ports
	LocalPort         *uint16 `json:"local_port,omitempty"`
	BytesTo           uint64  `json:"bytes_to"`
	BytesFrom         uint64  `json:"bytes_from"`
	PacketsTo         uint64  `json:"packets_to"`
	PacketsFrom       uint64  `json:"packets_from"`
	Flows             uint64  `json:"flows"`
	RemoteHosts       uint64  `json:"remote_hosts"`
	Jurisdiction      string  `json:"jurisdiction"` // "" when not flagged
	MatchedBy         string  `json:"matched_by"`   // "" when not flagged
	Folded            bool    `json:"folded"`       // always present: true for a row standing for many keys
	Excepted          string  `json:"excepted"`     // the reason of the exception that kept the row from being flagged, else ""
	Embedded          string  `json:"embedded"`     // nat64, 6to4 or teredo when located by the embedded IPv4 address, else ""
	// The local device (with --by device): its MAC ("unknown" for traffic
	// whose frames carry none), whether that MAC is locally administered
	// (randomised: no vendor), and its maker from the IEEE registries.
	MAC           string `json:"mac,omitempty"`
	MACPrivate    bool   `json:"mac_private,omitempty"`
	Vendor        string `json:"vendor,omitempty"`
	VendorCountry string `json:"vendor_country,omitempty"`
	// VendorRule is the policy's vendors rule that flagged the local
	// device (in every grouping), else absent.
	VendorRule string `json:"vendor_rule,omitempty"`
	// LastSeen is the time of the latest packet, kept for flagged rows only.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Domain is the remote's name under --by remote and local-remote (the
	// name its DNS answer was for), its registrable domain under --by
	// domain; absent when no answer named it, or under other groupings.
	Domain string `json:"domain,omitempty"`
	// CNAMEChain is the CNAME targets from Domain to the address (--by
	// remote and local-remote), absent when there were none.
	CNAMEChain []string `json:"cname_chain,omitempty"`
}

// Bytes is the row's traffic in both directions.
func (r *Row) Bytes() uint64 { return r.BytesTo + r.BytesFrom }

// Direction totals in the summary.
type Direction struct {
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
	Flows   uint64 `json:"flows"`
}

// Summary says what was read and how much of it could be accounted.
type Summary struct {
	Files            []string             `json:"files"`
	PacketsRead      uint64               `json:"packets_read"`
	Decoded          uint64               `json:"packets_decoded"`
	NotIP            uint64               `json:"packets_not_ip"`
	Malformed        map[string]uint64    `json:"packets_malformed"`
	Directions       map[string]Direction `json:"directions"`
	UnknownLookups   uint64               `json:"unknown_locations"`
	FlaggedBytes     uint64               `json:"flagged_bytes"`
	FlaggedFlows     uint64               `json:"flagged_flows"`
	FlowsEvicted     uint64               `json:"flows_evicted"`
	AggregatesFolded uint64               `json:"groups_folded"`
	HostsUntracked   uint64               `json:"remote_hosts_untracked"`
	Grouping         string               `json:"grouping"`
	Tunnels          map[string]uint64    `json:"tunnels"` // tunnels recognised, by protocol
	Databases        []Database           `json:"databases"`
	// RowsShown and RowsOmitted: --top shows the largest rows only; the
	// totals above still count every row.
	RowsShown        int          `json:"rows_shown"`
	RowsOmitted      int          `json:"rows_omitted"`
	Truncated        []Truncation `json:"truncated"`              // files cut short: read up to the cut
	UnsupportedLinks []LinkType   `json:"unsupported_link_types"` // frames not decoded for their link type
	LocalNetworks    []string     `json:"local_networks"`         // given with --local-network
	// CaptureHost is the likely capture host when no traffic was local
	// (every flow transit) and one address is in most flows; else null.
	CaptureHost *CaptureHost `json:"capture_host"`
	FirstPacket time.Time    `json:"first_packet,omitzero"` // capture time of the earliest packet read
	LastPacket  time.Time    `json:"last_packet,omitzero"`
	Policy      *Policy      `json:"policy,omitempty"` // nil when no policy file was given
}

// Truncation says where a capture file ends short: everything before the
// cut is in the report.
type Truncation struct {
	File    string `json:"file"`
	Packets uint64 `json:"packets_read"` // whole packets read from the file before the cut
	Error   string `json:"error"`        // where it is cut (the byte offset) and how
}

// LinkType counts the frames of a link type that jurismon cannot decode.
type LinkType struct {
	LinkType uint16 `json:"link_type"` // the pcap LINKTYPE_ number
	Name     string `json:"name"`      // e.g. radiotap; "" when unknown
	Frames   uint64 `json:"frames"`
}

func (l LinkType) String() string {
	if l.Name == "" {
		return fmt.Sprintf("unsupported link type %d", l.LinkType)
	}
	return fmt.Sprintf("unsupported link type %d (%s)", l.LinkType, l.Name)
}

// CaptureHost is analyze's guess at the host a capture was taken on.
type CaptureHost struct {
	Address      string `json:"address"`
	Flows        uint64 `json:"flows"`         // flows it is an endpoint of
	TransitFlows uint64 `json:"transit_flows"` // out of these
	Hint         string `json:"hint"`
}

// Policy names the policy file the report was judged by.
type Policy struct {
	File          string   `json:"file"`
	SHA256        string   `json:"sha256"`
	Jurisdictions []string `json:"jurisdictions"`
	// Text is the file itself, for the HTML record; JSON has its checksum.
	Text string `json:"-"`
}

// Database names a geo database the report was made with.
type Database struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Source    string `json:"source"`
	BuildTime string `json:"build_time"`
}

// Report is the whole result of analyze.
type Report struct {
	Rows    []Row   `json:"rows"`
	Summary Summary `json:"summary"`
	// Created is when the report was made, shown by the HTML form; the
	// machine forms leave it out so that they depend on the input only.
	Created time.Time `json:"-"`
}

// Flagged reports whether any flagged traffic was seen.
func (r *Report) Flagged() bool {
	return r.Summary.FlaggedFlows > 0 || r.Summary.FlaggedBytes > 0
}

// Build makes the rows from the accountant's groups, largest first.
func Build(groups []*flow.Aggregate, by flow.Grouping, s Summary) *Report {
	rep := &Report{Summary: s}
	rep.Summary.Grouping = by.String()
	if rep.Summary.Tunnels == nil {
		rep.Summary.Tunnels = map[string]uint64{}
	}
	for _, g := range groups {
		row := makeRow(g, by)
		if row.Jurisdiction != "" || row.VendorRule != "" {
			rep.Summary.FlaggedBytes += row.Bytes()
			rep.Summary.FlaggedFlows += row.Flows
		}
		if by == flow.ByTunnel && g.Key.Tunnel == "" {
			continue // traffic that is not a tunnel: in the summary only
		}
		rep.Rows = append(rep.Rows, row)
	}
	slices.SortStableFunc(rep.Rows, func(a, b Row) int {
		if c := cmp.Compare(b.Bytes(), a.Bytes()); c != 0 {
			return c
		}
		if c := cmp.Compare(rowID(&a), rowID(&b)); c != 0 {
			return c
		}
		// Rows alike in every shown field but these: an order of the
		// rows alone, not of the groups, so that the report does not
		// depend on the order the aggregates were made in (analyze
		// --workers merges them in another).
		return cmp.Or(cmp.Compare(b2i(a.Folded), b2i(b.Folded)), cmp.Compare(a.MatchedBy, b.MatchedBy),
			cmp.Compare(a.BytesTo, b.BytesTo), cmp.Compare(a.PacketsTo, b.PacketsTo),
			cmp.Compare(a.PacketsFrom, b.PacketsFrom), cmp.Compare(a.Flows, b.Flows), cmp.Compare(a.RemoteHosts, b.RemoteHosts))
	})
	if rep.Rows == nil {
		rep.Rows = []Row{}
	}
	rep.Summary.RowsShown = len(rep.Rows)
	if rep.Summary.Truncated == nil {
		rep.Summary.Truncated = []Truncation{}
	}
	if rep.Summary.UnsupportedLinks == nil {
		rep.Summary.UnsupportedLinks = []LinkType{}
	}
	if rep.Summary.LocalNetworks == nil {
		rep.Summary.LocalNetworks = []string{}
	}
	return rep
}

// Top keeps the n largest rows (all when n is 0). The summary's totals,
// flagged ones included, still count every row.
func (r *Report) Top(n int) {
	if n <= 0 || n >= len(r.Rows) {
		return
	}
	r.Summary.RowsOmitted += len(r.Rows) - n
	r.Rows = r.Rows[:n]
	r.Summary.RowsShown = n
}

func rowID(r *Row) string {
	asn := ""
	if r.ASN != nil {
		asn = fmt.Sprint(*r.ASN)
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", r.Country, r.RegisteredCountry, asn, r.ASOrg, r.AddressClass, r.Remote, r.Local, r.Jurisdiction, r.Excepted, r.Embedded, r.MAC, r.VendorRule,
		r.Domain, strings.Join(r.CNAMEChain, ">"), r.Tunnel, portString(r.RemotePort))
}

func portString(p *uint16) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

func makeRow(g *flow.Aggregate, by flow.Grouping) Row {
	k := &g.Key
	r := Row{
		AddressClass:      k.Class.String(),
		Country:           All,
		RegisteredCountry: All,
		ASOrg:             All,
		BytesTo:           g.Bytes[flow.To].Load(),
		BytesFrom:         g.Bytes[flow.From].Load(),
		PacketsTo:         g.Packets[flow.To].Load(),
		PacketsFrom:       g.Packets[flow.From].Load(),
		Flows:             g.Flows[flow.To].Load() + g.Flows[flow.From].Load(),
		RemoteHosts:       g.Hosts.Load(),
		Jurisdiction:      k.Jurisdiction,
		Folded:            k.Folded,
		Excepted:          k.Excepted,
		Embedded:          k.Embedded.String(),
	}
	if ts := g.LastSeen.Load(); ts > 0 {
		r.LastSeen = time.Unix(0, ts).UTC()
	}
	if k.Jurisdiction != "" {
		r.MatchedBy = k.MatchedBy.String()
	}
	special := k.Class != geo.ClassPublic
	if by.Has(flow.FieldCountry) {
		r.Country = k.Country
	}
	if by.Has(flow.FieldRegistered) && !k.Folded {
		r.RegisteredCountry = k.RegisteredCountry
	}
	if by.Has(flow.FieldASN) && !k.Folded {
		asn := k.ASN
		r.ASN = &asn
		r.ASOrg = k.ASOrg
	}
	if special {
		// Special-purpose addresses have no location; never show one.
		r.Country, r.RegisteredCountry, r.ASOrg, r.ASN = "", "", "", nil
	}
	if k.Remote.IsValid() {
		r.Remote = k.Remote.String()
	}
	if k.Local.IsValid() {
		r.Local = k.Local.String()
	}
	r.VendorRule = k.DeviceRule
	if by == flow.ByDevice {
		r.AddressClass = All // the device's traffic with every class of address
		r.MAC = geo.Unknown
		if k.HasMAC {
			r.MAC = net.HardwareAddr(k.MAC[:]).String()
		}
		r.MACPrivate, r.Vendor, r.VendorCountry = k.DevicePrivate, k.Vendor, k.VendorCountry
	}
	r.Domain = k.Domain
	if k.CNAMEChain != "" {
		r.CNAMEChain = strings.Split(k.CNAMEChain, flow.ChainSeparator)
	}
	if k.Tunnel != "" {
		r.Tunnel = k.Tunnel
		lp, rp := k.LocalPort, k.RemotePort
		r.LocalPort, r.RemotePort = &lp, &rp
	}
	return r
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
