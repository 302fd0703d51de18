package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

func testReport() *Report {
	ru := group(flow.AggregateKey{Class: geo.ClassPublic, Country: "RU", RegisteredCountry: "RU", ASN: 64501, ASOrg: "Example <Telecom>", Jurisdiction: "sanctioned", MatchedBy: policy.MatchedCountry}, 100, 20)
	ru.LastSeen.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	groups := []*flow.Aggregate{
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64500, ASOrg: "Carrier"}, 1000, 500),
		group(flow.AggregateKey{Class: geo.ClassPublic, Country: "US", RegisteredCountry: "US", ASN: 64500, ASOrg: "Carrier"}, 10, 0),
		ru,
	}
	return Build(groups, flow.ByLocation, Summary{
		Files:      []string{"a.pcap"},
		Directions: map[string]Direction{"egress": {Bytes: 1110}, "ingress": {Bytes: 520}},
		Malformed:  map[string]uint64{"truncated": 2},
		Policy:     &Policy{File: "p.yml", SHA256: "abc123", Jurisdictions: []string{"sanctioned"}, Text: "jurisdictions: <RU>"},
	})
}

// TestTotals: rows sum by country, AS (an AS in two countries has
// "several") and jurisdiction, largest first, with the flagged last seen.
func TestTotals(t *testing.T) {
	rep := testReport()
	tests := []struct {
		name string
		got  []Total
		want []string
	}{
		{"country", ByCountry(rep.Rows), []string{"DE 1500 ", "RU 120 sanctioned", "US 10 "}},
		{"asn", ByASN(rep.Rows), []string{"AS64500 1510  several", "AS64501 120 sanctioned RU"}},
		{"jurisdiction", ByJurisdiction(rep.Rows), []string{"sanctioned 120 sanctioned"}},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range tt.got {
			s := c.Key + " " + u(c.Bytes()) + " " + c.Jurisdiction
			if tt.name == "asn" {
				s += " " + c.Country
			}
			got = append(got, s)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if j := ByJurisdiction(rep.Rows)[0]; j.LastSeen.IsZero() {
		t.Error("jurisdiction has no last seen")
	}
}

// TestWriteHTML: the report is well-formed HTML with no script and no
// external reference, escapes what it shows, marks the flagged rows, and
// says what limits it.
func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var flagged []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "script" || n.Data == "link" || n.Data == "img" || n.Data == "iframe" {
				t.Errorf("self-contained report has <%s>", n.Data)
			}
			for _, a := range n.Attr {
				if (a.Key == "href" || a.Key == "src") && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s %s=%q>: an external reference", n.Data, a.Key, a.Val)
				}
				if a.Key == "class" && a.Val == "flagged" && n.Data == "tr" {
					for _, b := range n.Attr {
						if b.Key == "data-country" {
							flagged = append(flagged, b.Val)
						}
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if strings.Join(flagged, ",") != "RU" {
		t.Errorf("flagged country rows %v, want [RU]", flagged)
	}
	out := b.String()
	for _, want := range []string{
		"Example &lt;Telecom&gt;", "jurisdictions: &lt;RU&gt;", "abc123", "Russian Federation (RU)",
		"truncated 2", "2026-01-02 03:04:05 UTC", `class="wm-c wm-flagged" data-cc="RU"`, "@media print",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// TestMapSVG: --format svg is one well-formed SVG document.
func TestMapSVG(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().Map(&b); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	for {
		_, err := d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("not well-formed XML: %v", err)
			}
			break
		}
	}
}
