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
		{"csv", `DE,DE,64500,"Example, ""Carrier""",public,192.0.2.1,,1,2,1,0,1,1,,,false`},
		{"json", `"as_org": "Example, \"Carrier\""`},
		{"json", `"remote": "192.0.2.1"`},
		{"table", "AS64500"},
		{"table", "192.0.2.1"},
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
	if err := rep.Write(&bytes.Buffer{}, "xml"); err == nil || err.Error() != `unknown format "xml" (want one of table, json, csv)` {
		t.Errorf("unknown format: %v", err)
	}
}
