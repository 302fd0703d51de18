// Package worldmap draws a world map as SVG with countries shaded by the
// bytes exchanged with them; flagged countries are also hatched and
// outlined, so that they stand out without relying on colour. The shapes
// are Natural Earth's 1:110m countries (public domain), projected and
// simplified by genmap into countries.txt (66 kB, embedded; the budget is
// 200 kB). Countries too small to see get a marker at their location.
//
// The SVG uses presentation attributes only (no <style>, no script), so it
// can be inlined into a page served under a strict Content-Security-Policy.
package worldmap

//go:generate go run ./genmap -o countries.txt

import (
	"bufio"
	_ "embed"
	"fmt"
	"html"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed countries.txt
var countriesTxt string

// Country is one drawable country.
type Country struct {
	Code   string  // ISO 3166-1 alpha-2
	X, Y   float64 // label point: markers and route hops are drawn here
	Marker bool    // too small for its shape: also drawn as a marker
	Path   string  // SVG path data; empty for countries drawn only as a marker
	Name   string  // English short name (ISO 3166-1)
}

// Name returns the English name of a country code, or the code itself
// when it is not one the map knows.
func Name(code string) string {
	if c, ok := Lookup(code); ok && c.Name != "" {
		return c.Name
	}
	return code
}

var (
	loadOnce  sync.Once
	countries []Country
	byCode    map[string]int
	width     float64
	height    float64
	inset     [4]float64 // the enlarged part: min x, min y, max x, max y
)

// The inset shows western and central Europe enlarged in the empty South
// Pacific, so that its small countries can be told apart.
const (
	insetX, insetY, insetW = 6.0, 6.0, 250.0 // Y from the bottom of the map
)

func load() {
	byCode = map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(countriesTxt))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutPrefix(line, "inset "); ok {
			for i, f := range strings.Fields(s) {
				inset[i], _ = strconv.ParseFloat(f, 64)
			}
			continue
		}
		if s, ok := strings.CutPrefix(line, "size "); ok {
			w, h, _ := strings.Cut(s, " ")
			width, _ = strconv.ParseFloat(w, 64)
			height, _ = strconv.ParseFloat(h, 64)
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			panic("worldmap: malformed countries.txt line: " + line) // embedded, generated: a build defect
		}
		xs, ys, _ := strings.Cut(f[1], ",")
		x, _ := strconv.ParseFloat(xs, 64)
		y, _ := strconv.ParseFloat(ys, 64)
		byCode[f[0]] = len(countries)
		countries = append(countries, Country{Code: f[0], X: x, Y: y, Marker: f[2] == "m", Path: f[3], Name: f[4]})
	}
}

// Countries returns every drawable country, sorted by code.
func Countries() []Country {
	loadOnce.Do(load)
	return countries
}

// Lookup returns the country with an ISO 3166-1 alpha-2 code.
func Lookup(code string) (Country, bool) {
	loadOnce.Do(load)
	i, ok := byCode[code]
	if !ok {
		return Country{}, false
	}
	return countries[i], true
}

// Shade is what the map shows of one country.
type Shade struct {
	Bytes        uint64
	Jurisdiction string // the flagged jurisdiction, "" when not flagged
}

// Hop is one step of a route drawn over the map.
type Hop struct {
	Country string
	Flagged bool
}

// Options says what to draw.
type Options struct {
	Title  string           // accessible name of the map
	Shades map[string]Shade // by ISO code; codes without a shape are ignored
	Routes [][]Hop          // traced paths, drawn between the hops' countries
	ID     string           // prefix of the element ids (pattern), so two maps can share a page
	// NoLegend leaves the key out, for pages that show Legend as HTML.
	NoLegend bool
}

// Palette: ColorBrewer's sequential Blues (colour-blind safe), lightest
// for the least traffic; flagged is Okabe–Ito vermillion, which stays
// distinct from blue for every common colour-vision deficiency, and is
// also a hatch and a thick outline.
var (
	Classes   = []string{"#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"}
	NoTraffic = "#ececec"
	Flagged   = "#d55e00"
	border    = "#ffffff"
	outline   = "#222222"
)

// Floors returns the lower bound of each class in Classes when largest is the
// largest country's bytes: powers of ten up to max, a log scale, since
// traffic spans decades. The first class starts at 1 byte.
func Floors(largest uint64) []uint64 {
	// The top class starts at the power of ten at or below largest, and
	// at 10 kB at least, so that the lowest classes never collide.
	top := uint64(1)
	for top <= largest/10 {
		top *= 10
	}
	top = max(top, 10000)
	f := make([]uint64, len(Classes))
	for i := len(f) - 1; i >= 0; i-- {
		f[i] = top
		top /= 10
	}
	f[0] = 1
	return f
}

// Class returns the index into Classes of bytes under floors, or -1 for
// no traffic.
func Class(bytes uint64, floors []uint64) int {
	c := -1
	for i, floor := range floors {
		if bytes >= floor {
			c = i
		}
	}
	return c
}

const legendHeight = 56

// Render writes the map as one <svg> element.
func Render(w io.Writer, o Options) error {
	loadOnce.Do(load)
	id := o.ID
	if id == "" {
		id = "wm"
	}
	largest := Largest(o.Shades)
	floors := Floors(largest)
	h := height
	if !o.NoLegend {
		h += legendHeight
	}
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" class="worldmap" viewBox="0 0 %s %s" role="img" aria-labelledby="%s-title" font-family="sans-serif">`,
		num(width), num(h), id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title>`, id, esc(o.Title))
	fmt.Fprintf(b, `<defs><pattern id="%s-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="none"/><line x1="0" y1="0" x2="0" y2="6" stroke="%s" stroke-width="2.2"/></pattern></defs>`, id, Flagged)
	fmt.Fprintf(b, `<g id="%s-world"><g class="wm-countries" stroke="`+border+`" stroke-width="0.4" stroke-linejoin="round">`, id)
	// Flagged countries are drawn last, so that their outline is on top.
	order := slices.Clone(countries)
	slices.SortStableFunc(order, func(a, c Country) int {
		return boolInt(o.Shades[a.Code].Jurisdiction != "") - boolInt(o.Shades[c.Code].Jurisdiction != "")
	})
	for _, c := range order {
		s := o.Shades[c.Code]
		fill := NoTraffic
		if k := Class(s.Bytes, floors); k >= 0 {
			fill = Classes[k]
		}
		title := c.Name + " (" + c.Code + ")"
		cls := "wm-c"
		if s.Bytes > 0 {
			title += ": " + FormatBytes(s.Bytes)
		}
		if s.Jurisdiction != "" {
			cls += " wm-flagged"
			title += " (flagged: " + s.Jurisdiction + ")"
		}
		fmt.Fprintf(b, `<g class="%s" data-cc="%s" data-bytes="%d"`, cls, c.Code, s.Bytes)
		if s.Jurisdiction != "" {
			fmt.Fprintf(b, ` data-jurisdiction="%s"`, esc(s.Jurisdiction))
		}
		fmt.Fprintf(b, `><title>%s</title>`, esc(title))
		if c.Path != "" {
			fmt.Fprintf(b, `<path d="%s" fill="%s"/>`, c.Path, fill)
			if s.Jurisdiction != "" {
				fmt.Fprintf(b, `<path d="%s" fill="url(#%s-hatch)" stroke="%s" stroke-width="1.3"/>`, c.Path, id, outline)
			}
		}
		// Markers of countries without traffic would only be clutter.
		if c.Marker && (s.Bytes > 0 || s.Jurisdiction != "") {
			stroke, sw := "#777777", "0.5"
			if s.Jurisdiction != "" {
				stroke, sw = outline, "1.3"
			}
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2.6" fill="%s" stroke="%s" stroke-width="%s"/>`, num(c.X), num(c.Y), fill, stroke, sw)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</g>`)
	writeRoutes(b, o.Routes)
	b.WriteString(`</g>`)
	writeInset(b, id)
	if !o.NoLegend {
		writeLegend(b, id, largest)
	}
	b.WriteString(`</svg>`)
	return b.Flush()
}

// writeInset draws the world group again, enlarged and clipped to the
// inset's box, and marks the box on the map.
func writeInset(b *bufio.Writer, id string) {
	x0, y0, x1, y1 := inset[0], inset[1], inset[2], inset[3]
	if x1 <= x0 || y1 <= y0 {
		return
	}
	k := insetW / (x1 - x0)
	w, h := insetW, (y1-y0)*k
	x, y := insetX, height-insetY-h
	fmt.Fprintf(b, `<g class="wm-inset"><rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#888888" stroke-width="0.5" stroke-dasharray="2 1.5"/>`,
		num(x0), num(y0), num(x1-x0), num(y1-y0))
	fmt.Fprintf(b, `<clipPath id="%s-inset-clip"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>`, id, num(x), num(y), num(w), num(h))
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="#ffffff" stroke="#888888" stroke-width="0.8"/>`, num(x), num(y), num(w), num(h))
	fmt.Fprintf(b, `<g clip-path="url(#%s-inset-clip)"><use href="#%s-world" xlink:href="#%s-world" transform="translate(%s %s) scale(%s) translate(%s %s)"/></g>`,
		id, id, id, num(x), num(y), strconv.FormatFloat(k, 'f', 4, 64), num(-x0), num(-y0))
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="11" fill="#555555">Europe, enlarged</text></g>`, num(x+4), num(y+13))
}

func writeRoutes(b *bufio.Writer, routes [][]Hop) {
	if len(routes) == 0 {
		return
	}
	b.WriteString(`<g class="wm-routes" fill="none">`)
	for _, r := range routes {
		var pts []Country
		var flagged []bool
		for _, h := range r {
			c, ok := byCode[h.Country]
			if !ok {
				continue // a hop that did not answer or was not located
			}
			if n := len(pts); n > 0 && pts[n-1].Code == h.Country {
				flagged[n-1] = flagged[n-1] || h.Flagged
				continue
			}
			pts = append(pts, countries[c])
			flagged = append(flagged, h.Flagged)
		}
		if len(pts) == 0 {
			continue
		}
		b.WriteString(`<g class="wm-route">`)
		if len(pts) > 1 {
			var d strings.Builder
			for i, p := range pts {
				if i == 0 {
					d.WriteString("M")
				} else {
					d.WriteString(" L")
				}
				d.WriteString(num(p.X) + "," + num(p.Y))
			}
			// A white casing under the line keeps it readable on any shade.
			fmt.Fprintf(b, `<path d="%s" stroke="#ffffff" stroke-width="3.2" stroke-linecap="round" stroke-linejoin="round"/>`, d.String())
			fmt.Fprintf(b, `<path d="%s" stroke="%s" stroke-width="1.4" stroke-dasharray="4 2" stroke-linecap="round" stroke-linejoin="round"/>`, d.String(), outline)
		}
		for i, p := range pts {
			fill, r := "#ffffff", "2.4"
			if flagged[i] {
				fill, r = Flagged, "3.2"
			}
			fmt.Fprintf(b, `<circle class="wm-hop" data-cc="%s" cx="%s" cy="%s" r="%s" fill="%s" stroke="%s" stroke-width="1"/>`, p.Code, num(p.X), num(p.Y), r, fill, outline)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</g>`)
}

// LegendItem is one entry of the map's key.
type LegendItem struct {
	Label   string `json:"label"`
	Fill    string `json:"fill"`
	Hatched bool   `json:"hatched,omitempty"` // the flagged hatch and outline over Fill
	Marker  bool   `json:"marker,omitempty"`  // a dot, as small countries are drawn
}

// Legend returns the key of a map whose largest country has largest bytes.
// Pages draw it as HTML, where it follows the reader's font size.
func Legend(largest uint64) []LegendItem {
	items := []LegendItem{{Label: "no traffic", Fill: NoTraffic}}
	for i, f := range Floors(largest) {
		items = append(items, LegendItem{Label: "≥ " + FormatBytes(f), Fill: Classes[i]})
	}
	return append(items,
		LegendItem{Label: "flagged", Fill: Classes[0], Hatched: true},
		LegendItem{Label: "small country", Fill: Classes[2], Marker: true})
}

// Largest returns the bytes of the most shaded country, which sets the
// classes.
func Largest(shades map[string]Shade) uint64 {
	loadOnce.Do(load)
	var m uint64
	for cc, s := range shades {
		if _, ok := byCode[cc]; ok && s.Bytes > m {
			m = s.Bytes
		}
	}
	return m
}

func writeLegend(b *bufio.Writer, id string, largest uint64) {
	fmt.Fprintf(b, `<g class="wm-legend" font-size="13" fill="#222222" transform="translate(10 %s)">`, num(height+12))
	x := 0.0
	for _, it := range Legend(largest) {
		switch {
		case it.Marker:
			fmt.Fprintf(b, `<circle cx="%s" cy="6" r="3" fill="%s" stroke="#777777" stroke-width="0.5"/>`, num(x+8), it.Fill)
		default:
			fmt.Fprintf(b, `<rect x="%s" y="0" width="16" height="12" fill="%s" stroke="#999999" stroke-width="0.5"/>`, num(x), it.Fill)
			if it.Hatched {
				fmt.Fprintf(b, `<rect x="%s" y="0" width="16" height="12" fill="url(#%s-hatch)" stroke="%s" stroke-width="1.3"/>`, num(x), id, outline)
			}
		}
		fmt.Fprintf(b, `<text x="%s" y="11">%s</text>`, num(x+21), esc(it.Label))
		x += 30 + 7.5*float64(len([]rune(it.Label)))
	}
	b.WriteString(`<text x="0" y="32" font-size="11" fill="#555555">Bytes in both directions; each shade is ten times the one before. Natural Earth 1:110m (public domain).</text>`)
	b.WriteString(`</g>`)
}

// FormatBytes writes a byte count with a binary-free SI unit (kB = 1000
// bytes), as the map legend does; the reports use it too, so the numbers
// read the same everywhere.
func FormatBytes(v uint64) string {
	const units = "kMGTPE"
	if v < 1000 {
		return strconv.FormatUint(v, 10) + " B"
	}
	f := float64(v)
	i := -1
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	prec := 1
	if f >= 10 {
		prec = 0
	}
	return strconv.FormatFloat(f, 'f', prec, 64) + " " + string(units[i]) + "B"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func esc(s string) string { return html.EscapeString(s) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
