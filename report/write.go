package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/jurismon/jurismon/geo"
)

// Formats lists the output forms Write accepts.
var Formats = []string{"table", "json", "csv", "html", "svg"}

// Write renders the report in one of Formats.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		return r.WriteTable(w)
	case "json":
		return r.WriteJSON(w)
	case "csv":
		return r.WriteCSV(w)
	case "html":
		return r.WriteHTML(w)
	case "svg":
		return r.Map(w)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVHeader is the first line of the CSV form: the JSON row fields, in order.
// New columns go at the end, so that scripts reading by position keep working.
var CSVHeader = []string{
	"country", "registered_country", "asn", "as_org", "address_class", "remote", "local",
	"bytes_to", "bytes_from", "packets_to", "packets_from", "flows", "remote_hosts",
	"jurisdiction", "matched_by", "folded", "excepted", "embedded",
	"mac", "mac_private", "vendor", "vendor_country", "vendor_rule",
	"domain", "cname_chain",
	"tunnel", "local_port", "remote_port",
}

// WriteCSV writes one header line and one line per row; the summary is not
// part of the CSV form (use JSON for it).
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		asn := ""
		if row.ASN != nil {
			asn = strconv.FormatUint(uint64(*row.ASN), 10)
		}
		rec := []string{
			row.Country, row.RegisteredCountry, asn, row.ASOrg, row.AddressClass, row.Remote, row.Local,
			u(row.BytesTo), u(row.BytesFrom), u(row.PacketsTo), u(row.PacketsFrom), u(row.Flows), u(row.RemoteHosts),
			row.Jurisdiction, row.MatchedBy, strconv.FormatBool(row.Folded), row.Excepted, row.Embedded,
			row.MAC, strconv.FormatBool(row.MACPrivate), row.Vendor, row.VendorCountry, row.VendorRule,
			row.Domain, strings.Join(row.CNAMEChain, " > "),
			row.Tunnel, portString(row.LocalPort), portString(row.RemotePort),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

// HumanBytes spells a byte count for people, in SI units with three
// significant digits: 512 B, 1.86 kB, 12.3 MB, 456 GB. Only the
// table uses it; JSON and CSV keep the exact count.
func HumanBytes(v uint64) string {
	if v < 1000 {
		return strconv.FormatUint(v, 10) + " B"
	}
	const units = "kMGTPE"
	f := float64(v)
	i := -1
	// 999.5 and above would round to "1000" with no decimals: the next unit.
	for f >= 999.5 && i < len(units)-1 {
		f /= 1000
		i++
	}
	prec := 0
	switch {
	case f < 9.995:
		prec = 2
	case f < 99.95:
		prec = 1
	}
	return strconv.FormatFloat(f, 'f', prec, 64) + " " + string(units[i]) + "B"
}

// WriteTable writes an aligned table for people, then the summary.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	byDevice := r.Summary.Grouping == "device"
	cols := []string{"COUNTRY", "REG", "ASN", "AS ORGANISATION"}
	named := false // a DOMAIN column
	tunnels := r.Summary.Grouping == "tunnel"
	switch r.Summary.Grouping {
	case "tunnel":
		cols = append([]string{"TUNNEL", "LOCAL", "REMOTE"}, cols...)
	case "device":
		// The device's maker, where the location columns would be: the
		// grouping aggregates over the remote locations.
		cols = []string{"MAC", "VENDOR", "VENDOR COUNTRY"}
	case "domain":
		cols, named = []string{"DOMAIN"}, true
	case "remote", "local-remote":
		cols = append(cols, "REMOTE")
		if r.Summary.Grouping == "local-remote" {
			cols = append(cols, "LOCAL")
		}
		cols, named = append(cols, "DOMAIN"), true
	}
	// "to" and "from" the remote side, the words of the JSON fields and the
	// README.
	cols = append(cols, "BYTES TO", "BYTES FROM", "PKTS TO", "PKTS FROM", "FLOWS", "HOSTS", "FLAGGED")
	fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	for i := range r.Rows {
		row := &r.Rows[i]
		country, reg, org := row.Country, row.RegisteredCountry, row.ASOrg
		asn := All
		if row.ASN != nil {
			asn = "AS" + strconv.FormatUint(uint64(*row.ASN), 10)
		}
		if row.AddressClass != "public" {
			country, reg, asn, org = "("+row.AddressClass+")", "-", "-", "-"
		}
		if row.Embedded != "" {
			country += " (" + row.Embedded + ")"
		}
		if row.Folded {
			org = "(other, folded)"
		}
		org = truncate(org, 32)
		flagged := "-"
		switch {
		case row.Jurisdiction != "":
			flagged = row.Jurisdiction + " (" + row.MatchedBy + ")"
		case row.Excepted != "":
			flagged = "excepted: " + truncate(row.Excepted, 32)
		}
		switch {
		case row.VendorRule != "" && flagged == "-":
			flagged = "device: " + row.VendorRule
		case row.VendorRule != "":
			flagged += ", device: " + row.VendorRule
		}
		f := []string{country, reg, asn, org}
		if byDevice {
			vendor, vc := truncate(row.Vendor, 32), row.VendorCountry
			switch {
			case row.MACPrivate:
				vendor = "(randomised MAC)"
			case row.MAC == geo.Unknown:
				vendor = "-"
			case vendor == "":
				vendor = "(not registered)"
			}
			if vc == "" {
				vc = "-"
			}
			f = []string{row.MAC, vendor, vc}
		}
		if r.Summary.Grouping == "domain" {
			f = f[:0]
		}
		if tunnels {
			f = append([]string{row.Tunnel, endpoint(row.Local, row.LocalPort), endpoint(row.Remote, row.RemotePort)}, f...)
		} else if row.Remote != "" || row.Local != "" || slices.Contains(cols, "REMOTE") {
			f = append(f, row.Remote)
			if slices.Contains(cols, "LOCAL") {
				f = append(f, row.Local)
			}
		}
		if named {
			f = append(f, domainCell(row))
		}
		f = append(f, HumanBytes(row.BytesTo), HumanBytes(row.BytesFrom), u(row.PacketsTo), u(row.PacketsFrom), u(row.Flows), u(row.RemoteHosts), flagged)
		fmt.Fprintln(tw, strings.Join(f, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return r.writeSummary(w)
}

// domainCell shows a row's name with its CNAME chain, "-" when unnamed.
func domainCell(row *Row) string {
	if row.Domain == "" {
		return "-"
	}
	return truncate(strings.Join(append([]string{row.Domain}, row.CNAMEChain...), " > "), 64)
}

// endpoint is addr:port (port omitted when 0, as for decapsulated tunnels).
func endpoint(addr string, port *uint16) string {
	if port == nil || *port == 0 {
		return addr
	}
	return net.JoinHostPort(addr, strconv.Itoa(int(*port)))
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func (r *Report) writeSummary(w io.Writer) error {
	s := &r.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "\nfiles: %s\n", strings.Join(s.Files, ", "))
	fmt.Fprintf(&b, "packets read: %d, decoded: %d, not IP: %d", s.PacketsRead, s.Decoded, s.NotIP)
	var bad []string
	for _, k := range slices.Sorted(maps.Keys(s.Malformed)) {
		bad = append(bad, fmt.Sprintf("%s %d", k, s.Malformed[k]))
	}
	if len(bad) > 0 {
		fmt.Fprintf(&b, ", malformed: %s", strings.Join(bad, ", "))
	} else {
		b.WriteString(", malformed: 0")
	}
	b.WriteString("\n")
	for _, d := range []string{"egress", "ingress", "transit", "internal"} {
		v := s.Directions[d]
		fmt.Fprintf(&b, "%-8s %s, %d packets, %d flows\n", d+":", HumanBytes(v.Bytes), v.Packets, v.Flows)
	}
	fmt.Fprintf(&b, "unknown locations: %d, flagged: %s in %d flows\n", s.UnknownLookups, HumanBytes(s.FlaggedBytes), s.FlaggedFlows)
	if len(s.Tunnels) > 0 {
		var ts []string
		for _, p := range slices.Sorted(maps.Keys(s.Tunnels)) {
			ts = append(ts, fmt.Sprintf("%s %d", p, s.Tunnels[p]))
		}
		fmt.Fprintf(&b, "tunnels: %s\n", strings.Join(ts, ", "))
	}
	if s.FlowsEvicted > 0 || s.AggregatesFolded > 0 || s.HostsUntracked > 0 {
		fmt.Fprintf(&b, "limits reached: %d flows evicted, %d endpoints folded, %d remote hosts not counted\n", s.FlowsEvicted, s.AggregatesFolded, s.HostsUntracked)
	}
	if s.RowsOmitted > 0 {
		fmt.Fprintf(&b, "rows: %d largest shown, %d more not shown (--top)\n", s.RowsShown, s.RowsOmitted)
	}
	for _, u := range s.UnsupportedLinks {
		fmt.Fprintf(&b, "%s: %d frames not decoded\n", u, u.Frames)
	}
	for _, t := range s.Truncated {
		fmt.Fprintf(&b, "TRUNCATED: %s is cut short after %d packets (%s); the report covers what comes before the cut\n", t.File, t.Packets, t.Error)
	}
	if len(s.LocalNetworks) > 0 {
		fmt.Fprintf(&b, "local networks: %s\n", strings.Join(s.LocalNetworks, ", "))
	}
	if h := s.CaptureHost; h != nil {
		fmt.Fprintf(&b, "hint: %s (in %d of %d transit flows)\n", h.Hint, h.Flows, h.TransitFlows)
	}
	for _, d := range s.Databases {
		fmt.Fprintf(&b, "%s database: %s, built %s, %s\n", d.Name, d.Type, d.BuildTime, d.Source)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
