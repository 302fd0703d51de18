package worldmap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestData: the embedded shapes stay inside the size budget, every code is
// ISO-shaped, and the small European and Asian states are drawn as markers.
func TestData(t *testing.T) {
	const budget = 200 << 10
	if n := len(countriesTxt); n > budget {
		t.Errorf("countries.txt is %d bytes, over the %d-byte budget", n, budget)
	}
	cs := Countries()
	if len(cs) < 230 {
		t.Errorf("%d countries, want all of ISO 3166-1 but Antarctica", len(cs))
	}
	for _, c := range cs {
		if len(c.Code) != 2 || strings.ToUpper(c.Code) != c.Code {
			t.Errorf("bad code %q", c.Code)
		}
		if c.Path == "" && !c.Marker {
			t.Errorf("%s has neither a shape nor a marker", c.Code)
		}
		if c.X < 0 || c.X > width || c.Y < 0 || c.Y > height {
			t.Errorf("%s label (%v, %v) is outside the map", c.Code, c.X, c.Y)
		}
	}
	for _, cc := range []string{"AD", "LI", "LU", "MC", "MT", "SM", "VA", "SG", "BH"} {
		if c, ok := Lookup(cc); !ok || !c.Marker {
			t.Errorf("%s: found %v, marker %v; small countries need a marker", cc, ok, c.Marker)
		}
	}
	for _, cc := range []string{"DE", "FR", "NO", "RU", "US", "XK"} {
		if c, ok := Lookup(cc); !ok || c.Path == "" {
			t.Errorf("%s has no shape", cc)
		}
	}
	if Name("DE") != "Germany" || Name("ZZ") != "ZZ" {
		t.Errorf("names: %q %q", Name("DE"), Name("ZZ"))
	}
}

func TestClasses(t *testing.T) {
	tests := []struct {
		largest uint64
		floors  []uint64
	}{
		{0, []uint64{1, 10, 100, 1000, 10000}},
		{999, []uint64{1, 10, 100, 1000, 10000}},
		{123456789, []uint64{1, 100000, 1000000, 10000000, 100000000}},
	}
	for _, tt := range tests {
		if got := Floors(tt.largest); !slices.Equal(got, tt.floors) {
			t.Errorf("Floors(%d) = %v, want %v", tt.largest, got, tt.floors)
		}
	}
	f := Floors(123456789)
	for _, c := range []struct {
		bytes uint64
		class int
	}{{0, -1}, {1, 0}, {99999, 0}, {100000, 1}, {123456789, 4}} {
		if got := Class(c.bytes, f); got != c.class {
			t.Errorf("Class(%d) = %d, want %d", c.bytes, got, c.class)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for v, want := range map[uint64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1500: "1.5 kB", 12345: "12 kB", 5e9: "5.0 GB", 1 << 63: "9.2 EB"} {
		if got := FormatBytes(v); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestRender: well-formed SVG; a flagged country is hatched and outlined,
// a small one with traffic gets its marker, routes join the hops'
// countries, and text is escaped.
func TestRender(t *testing.T) {
	var b bytes.Buffer
	err := Render(&b, Options{
		Title: "a <title>",
		Shades: map[string]Shade{
			"DE": {Bytes: 5000}, "RU": {Bytes: 100, Jurisdiction: `x"<y>`}, "MC": {Bytes: 7}, "ZZ": {Bytes: 1 << 40},
		},
		Routes: [][]Hop{{{Country: "DE"}, {Country: "DE"}, {Country: "ZZ"}, {Country: "RU", Flagged: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	d := xml.NewDecoder(strings.NewReader(out))
	for {
		if _, err := d.Token(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("not well-formed: %v", err)
			}
			break
		}
	}
	for _, want := range []string{
		`<title id="wm-title">a &lt;title&gt;</title>`,
		`class="wm-c wm-flagged" data-cc="RU" data-bytes="100" data-jurisdiction="x&#34;&lt;y&gt;"`,
		`fill="url(#wm-hatch)"`,
		`<g class="wm-c" data-cc="DE" data-bytes="5000"><title>Germany (DE): 5.0 kB</title>`,
		`<circle cx=`, // MC's marker
		`class="wm-hop" data-cc="RU"`,
		`≥ 1.0 kB`, // the largest known country sets the classes, not ZZ
	} {
		if !strings.Contains(out, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Count(out, `class="wm-hop"`) != 2 {
		t.Errorf("want 2 hops (DE once, ZZ skipped, RU), got %d", strings.Count(out, `class="wm-hop"`))
	}
	// The flagged country is drawn last, on top of its neighbours.
	if strings.LastIndex(out, `data-cc="RU"`) < strings.LastIndex(out, `data-cc="UA"`) {
		t.Error("the flagged country is not drawn last")
	}
	b.Reset()
	if err := Render(&b, Options{NoLegend: true}); err != nil || strings.Contains(b.String(), "wm-legend") {
		t.Errorf("NoLegend: %v, legend drawn %v", err, strings.Contains(b.String(), "wm-legend"))
	}
}
