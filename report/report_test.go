package report

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

func group(k flow.AggregateKey, to, from uint64) *flow.Aggregate {
	g := &flow.Aggregate{Key: k}
	g.Bytes[flow.To].Store(to)
	g.Bytes[flow.From].Store(from)
	g.Packets[flow.To].Store(1)
	g.Flows[flow.To].Store(1)
	g.Hosts.Store(1)
	return g
}

// TestBuild: rows are sorted by bytes, fields outside the grouping are "*",
// special-purpose rows never show a location, and flagged totals add up.
func TestBuild(t *testing.T) {
	groups := []*flow.Aggregate{
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "DE"}, 10, 5),
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "RU", Jurisdiction: "sanctioned", MatchedBy: policy.MatchedCountry}, 100, 0),
		group(flow.AggregateKey{Class: geo.ClassMulticast, Country: "ignored"}, 7, 0),
	}
	rep := Build(groups, flow.ByCountry, Summary{})
	var got []string
	for _, r := range rep.Rows {
		got = append(got, r.Country+"|"+r.RegisteredCountry+"|"+r.ASOrg+"|"+r.AddressClass+"|"+r.Jurisdiction+"|"+r.MatchedBy)
		if r.ASN != nil {
			t.Errorf("row %s: asn %d, want null under --by country", r.Country, *r.ASN)
		}
	}
	want := []string{"RU|*|*|public|sanctioned|country", "DE|*|*|public||", "|||multicast||"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !rep.Flagged() || rep.Summary.FlaggedBytes != 100 || rep.Summary.FlaggedFlows != 1 {
		t.Errorf("flagged = %v, %d bytes, %d flows; want true, 100, 1", rep.Flagged(), rep.Summary.FlaggedBytes, rep.Summary.FlaggedFlows)
	}
	if Build(nil, flow.ByRemote, Summary{}).Rows == nil {
		t.Error("an empty report must have rows [] (JSON), not null")
	}
}

func TestWriteFormats(t *testing.T) {
	remote := netip.MustParseAddr("192.0.2.1")
	rep := Build([]*flow.Aggregate{group(flow.AggregateKey{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64500, ASOrg: "Example, \"Carrier\"", Remote: remote}, 1, 2)}, flow.ByRemote, Summary{})
	tests := []struct {
		format string
		want   string // a line or fragment the output must hold
	}{
		{"csv", strings.Join(CSVHeader, ",")},
		{"csv", `DE,DE,64500,"Example, ""Carrier""",public,192.0.2.1,,1,2,1,0,1,1,,,false,,`},
		{"json", `"as_org": "Example, \"Carrier\""`},
		{"json", `"remote": "192.0.2.1"`},
		{"json", `"folded": false`}, // always present
		{"table", "BYTES TO  BYTES FROM  PKTS TO  PKTS FROM"},
		{"table", "1 B"},
		{"table", "AS64500"},
		{"table", "192.0.2.1"},
		{"html", `<th scope="row">Germany (DE)</th>`},
		{"html", `Example, &#34;Carrier&#34;`},
		{"svg", `<g class="wm-c" data-cc="DE" data-bytes="3">`},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := rep.Write(&b, tt.format); err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("%s output lacks %q:\n%s", tt.format, tt.want, b.String())
		}
	}
	if err := rep.Write(&bytes.Buffer{}, "xml"); err == nil || err.Error() != `unknown format "xml" (want one of table, json, csv, html, svg)` {
		t.Errorf("unknown format: %v", err)
	}
}

// TestDomainColumns: --by domain rows carry the registrable domain, --by
// remote rows the name and its chain, in JSON, CSV and the table.
func TestDomainColumns(t *testing.T) {
	byDomain := Build([]*flow.Aggregate{
		group(flow.AggregateKey{Class: geo.ClassPublic, Domain: "example.co.uk", Jurisdiction: "j", MatchedBy: policy.MatchedDomain}, 50, 0),
		group(flow.AggregateKey{Class: geo.ClassPublic}, 10, 0),
	}, flow.ByDomain, Summary{})
	var table bytes.Buffer
	if err := byDomain.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(table.String(), "\n")
	if !strings.HasPrefix(strings.TrimSpace(lines[0]), "DOMAIN") || !strings.Contains(lines[1], "example.co.uk") || !strings.Contains(lines[1], "j (domain)") ||
		!strings.HasPrefix(strings.TrimSpace(lines[2]), "-") {
		t.Errorf("--by domain table:\n%s", table.String())
	}
	byRemote := Build([]*flow.Aggregate{
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "DE", Remote: netip.MustParseAddr("192.0.2.1"),
			Domain: "www.example.com", CNAMEChain: "a.example.net" + flow.ChainSeparator + "b.example.org"}, 5, 0),
	}, flow.ByRemote, Summary{})
	if r := byRemote.Rows[0]; r.Domain != "www.example.com" || strings.Join(r.CNAMEChain, ",") != "a.example.net,b.example.org" {
		t.Errorf("--by remote row: domain %q chain %q", r.Domain, r.CNAMEChain)
	}
	var csv, js bytes.Buffer
	if err := byRemote.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.Split(csv.String(), "\n")[1], ",www.example.com,a.example.net > b.example.org,,,") { // no tunnel
		t.Errorf("CSV:\n%s", csv.String())
	}
	if err := byRemote.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"domain": "www.example.com"`) || !strings.Contains(js.String(), `"cname_chain": [`) {
		t.Errorf("JSON:\n%s", js.String())
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		v    uint64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1.00 kB"},
		{1858, "1.86 kB"},
		{12_345_678, "12.3 MB"},
		{99_949, "99.9 kB"},
		{99_950, "100 kB"},
		{999_499, "999 kB"},
		{999_500, "1.00 MB"},
		{123_456_789_012, "123 GB"},
		{1<<64 - 1, "18.4 EB"},
	}
	for _, tt := range tests {
		if got := HumanBytes(tt.v); got != tt.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestExceptedAndEmbedded: a row kept from being flagged by an exception and
// a row located through an embedded IPv4 address say so in every format,
// so that they do not look like the plain row of the same country.
func TestExceptedAndEmbedded(t *testing.T) {
	groups := []*flow.Aggregate{
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "US"}, 300, 0),
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "US", Excepted: "approved CDN"}, 200, 0),
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "US", Embedded: geo.EmbedNAT64}, 100, 0),
	}
	rep := Build(groups, flow.ByCountry, Summary{})
	tests := []struct {
		format string
		want   []string
	}{
		{"csv", []string{
			"US,*,,*,public,,,300,0,1,0,1,1,,,false,,",
			"US,*,,*,public,,,200,0,1,0,1,1,,,false,approved CDN,",
			"US,*,,*,public,,,100,0,1,0,1,1,,,false,,nat64",
		}},
		{"json", []string{`"excepted": "approved CDN"`, `"embedded": "nat64"`, `"excepted": ""`}},
		{"table", []string{"excepted: approved CDN", "US (nat64)"}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := rep.Write(&b, tt.format); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s output lacks %q:\n%s", tt.format, w, b.String())
			}
		}
	}
}

// Under --by device a row is a local device: its MAC, vendor and vendor
// country, with the location aggregated; a randomised MAC says so, and
// traffic without a MAC is "unknown".
func TestDeviceRows(t *testing.T) {
	g := func(k flow.AggregateKey, bytes uint64) *flow.Aggregate {
		gr := &flow.Aggregate{Key: k}
		gr.Bytes[flow.To].Store(bytes)
		return gr
	}
	groups := []*flow.Aggregate{
		g(flow.AggregateKey{MAC: [6]byte{0x30, 0xfb, 0xb8, 1, 2, 3}, HasMAC: true, Vendor: "HUAWEI TECHNOLOGIES CO.,LTD", VendorCountry: "CN",
			DeviceRule: "distrusted", Jurisdiction: "sanctioned", MatchedBy: policy.MatchedCountry}, 300),
		g(flow.AggregateKey{MAC: [6]byte{0xda, 0xa1, 0x19, 0, 0, 1}, HasMAC: true, DevicePrivate: true}, 200),
		g(flow.AggregateKey{}, 100),
	}
	rep := Build(groups, flow.ByDevice, Summary{})
	var csv, table strings.Builder
	if err := rep.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{ // no domain, no tunnel: the last five columns empty
		"*,*,,*,*,,,300,0,0,0,0,0,sanctioned,country,false,,,30:fb:b8:01:02:03,false,HUAWEI TECHNOLOGIES CO.,LTD,CN,distrusted,,,,,\n",
		"*,*,,*,*,,,200,0,0,0,0,0,,,false,,,da:a1:19:00:00:01,true,,,,,,,,\n",
		"*,*,,*,*,,,100,0,0,0,0,0,,,false,,,unknown,false,,,,,,,,\n",
	} {
		if !strings.Contains(strings.ReplaceAll(csv.String(), `"HUAWEI TECHNOLOGIES CO.,LTD"`, "HUAWEI TECHNOLOGIES CO.,LTD"), want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv.String())
		}
	}
	for _, want := range []string{"MAC", "VENDOR COUNTRY", "HUAWEI TECHNOLOGIES CO.,LTD", "sanctioned (country), device: distrusted", "(randomised MAC)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	// A device-flagged row is flagged traffic.
	if rep.Summary.FlaggedBytes != 300 || rep.Summary.FlaggedFlows != 0 {
		t.Errorf("flagged %d bytes, %d flows", rep.Summary.FlaggedBytes, rep.Summary.FlaggedFlows)
	}
}
