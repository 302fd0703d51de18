// Command genmap writes report/worldmap/countries.txt, the country shapes
// that package worldmap draws: one line per ISO 3166-1 alpha-2 code with
// the country's label point and its outline as an SVG path, already
// projected (Natural Earth projection, Šavrič et al. 2011) and simplified.
//
// Sources (read, never copied as code), the same as probe/gencountries:
//   - Natural Earth 1:110m Admin 0 countries (public domain, naturalearthdata.com),
//     as shipped in Debian's python3-geopandas 0.12.2 package.
//   - ISO 3166-1 codes and English short names from Debian's iso-codes package.
//   - For countries too small for the 1:110m layer (Andorra, Malta,
//     Singapore, ...), the tz database's zone.tab point (public domain):
//     they are drawn as a marker, so that their shade stays visible.
//
// Usage, from the repository root (the -ne default is the path below):
//
//	apt-get download python3-geopandas && dpkg-deb -x python3-geopandas_*.deb /tmp/gpd
//	go generate ./report/worldmap   # or: go run ./report/worldmap/genmap -ne DIR/naturalearth_lowres -o report/worldmap/countries.txt
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The drawing is Width units wide; latitudes south of minLat (Antarctica)
// and north of maxLat are cut off, as no traffic goes there.
const (
	width  = 1000.0
	minLat = -56.0
	maxLat = 84.0
	// tolerance is the Douglas-Peucker distance in drawing units: a tenth
	// of a pixel at the default size would keep every point of 1:110m.
	tolerance = 0.3
	// minArea is the area (square units) below which a country also gets a
	// marker: a shape this small cannot show its shade.
	minArea = 12.0
)

type pt struct{ x, y float64 }

func main() {
	ne := flag.String("ne", "/tmp/gpd/usr/lib/python3/dist-packages/geopandas/datasets/naturalearth_lowres/naturalearth_lowres", "path of the Natural Earth shapefile without extension")
	out := flag.String("o", "", "output file, written only when complete (default: stdout)")
	iso := flag.String("iso", "/usr/share/iso-codes/json/iso_3166-1.json", "iso-codes ISO 3166-1 JSON")
	zone := flag.String("zone", "/usr/share/zoneinfo/zone.tab", "tz database zone.tab")
	flag.Parse()
	if err := run(*ne, *iso, *zone, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genmap:", err)
		os.Exit(1)
	}
}

// project is the Natural Earth projection, scaled so that the drawing is
// width units wide, with y growing downwards from maxLat.
func project(lon, lat float64) pt {
	l, p := lon*math.Pi/180, lat*math.Pi/180
	p2 := p * p
	p4 := p2 * p2
	x := l * (0.870700 - 0.131979*p2 - 0.013791*p4 + 0.003971*p4*p4*p2 - 0.001529*p4*p4*p4)
	y := p * (1.007226 + 0.015085*p2 - 0.044475*p2*p4 + 0.028874*p4*p4 - 0.005916*p4*p4*p2)
	s := width / (2 * math.Pi * 0.8707)
	return pt{(x + math.Pi*0.8707) * s, (top() - y) * s}
}

func top() float64 {
	p := maxLat * math.Pi / 180
	p2 := p * p
	p4 := p2 * p2
	return p * (1.007226 + 0.015085*p2 - 0.044475*p2*p4 + 0.028874*p4*p4 - 0.005916*p4*p4*p2)
}

type country struct {
	rings  [][]pt
	label  pt
	area   float64 // of the largest ring
	marker bool
}

func run(ne, iso, zone, out string) error {
	if ne == "" {
		return errors.New("-ne is required")
	}
	a3to2, names, err := readISO(iso)
	if err != nil {
		return err
	}
	codes, err := readDBF(ne+".dbf", "iso_a3")
	if err != nil {
		return err
	}
	neNames, err := readDBF(ne+".dbf", "name")
	if err != nil {
		return err
	}
	shapes, err := readSHP(ne + ".shp")
	if err != nil {
		return err
	}
	if len(codes) != len(shapes) {
		return fmt.Errorf("dbf has %d records, shp %d", len(codes), len(shapes))
	}
	m := map[string]*country{}
	for i, a3 := range codes {
		a2, ok := a3to2[a3]
		if !ok {
			// Areas without an ISO code are drawn with the country that
			// geolocation databases give for them: Kosovo is XK in
			// MaxMind's, Northern Cyprus and Somaliland are CY and SO.
			a2, ok = map[string]string{"Kosovo": "XK", "N. Cyprus": "CY", "Somaliland": "SO"}[neNames[i]]
			if !ok {
				fmt.Fprintf(os.Stderr, "skipping %q %q (no ISO 3166-1 code)\n", a3, neNames[i])
				continue
			}
		}
		if a2 == "AQ" {
			continue
		}
		c := m[a2]
		if c == nil {
			c = &country{}
			m[a2] = c
		}
		for _, ring := range shapes[i] {
			var proj []pt
			for _, q := range ring {
				proj = append(proj, project(q.x, math.Max(minLat, math.Min(maxLat, q.y))))
			}
			proj = simplify(proj, tolerance)
			if len(proj) < 3 {
				continue
			}
			c.rings = append(c.rings, proj)
			if a := math.Abs(area(proj)); a > c.area {
				c.area, c.label = a, centroid(proj)
			}
		}
	}
	points, err := readZoneTab(zone)
	if err != nil {
		return err
	}
	for cc, p := range points {
		c := m[cc]
		if cc == "AQ" || (c != nil && c.area >= minArea) {
			continue
		}
		if c == nil {
			c = &country{label: project(p.x, p.y)}
			m[cc] = c
		} else if c.area == 0 {
			c.label = project(p.x, p.y)
		}
		c.marker = true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	fmt.Fprintf(w, "# Generated by report/worldmap/genmap; DO NOT EDIT.\n")
	fmt.Fprintf(w, "# Natural Earth 1:110m Admin 0 (public domain), Natural Earth projection, %g units wide,\n", width)
	fmt.Fprintf(w, "# latitudes %g to %g; zone.tab points (public domain) for markers.\n", minLat, maxLat)
	fmt.Fprintf(w, "# code<TAB>label x,y<TAB>m (marker) or -<TAB>SVG path (relative, 0.1 units)<TAB>ISO 3166-1 name\n")
	fmt.Fprintf(w, "size %g %s\n", width, num(project(180, minLat).y))
	// The inset's box: western and central Europe, where most small
	// countries are, drawn larger in the empty South Pacific.
	sw := project(-11, 35)
	fmt.Fprintf(w, "inset %s %s %s %s\n", num(sw.x), num(project(32, 61).y), num(project(32, 35).x), num(sw.y))
	for _, k := range keys {
		c := m[k]
		mk := "-"
		if c.marker {
			mk = "m"
		}
		if strings.ContainsAny(names[k], "\t\n") {
			return fmt.Errorf("name of %s has a tab or newline", k)
		}
		fmt.Fprintf(w, "%s\t%s,%s\t%s\t%s\t%s\n", k, num(c.label.x), num(c.label.y), mk, path(c.rings), names[k])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// num prints a coordinate to a tenth of a unit.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// path writes rings as relative moves on a grid of 0.1 units, which keeps
// the file small and the drawing free of rounding drift.
func path(rings [][]pt) string {
	var b strings.Builder
	cx, cy := 0, 0
	for _, r := range rings {
		for i, q := range r {
			x, y := int(math.Round(q.x*10)), int(math.Round(q.y*10))
			if i == 0 {
				fmt.Fprintf(&b, "m%s", pair(x-cx, y-cy))
			} else {
				if x == cx && y == cy {
					continue
				}
				if i == 1 {
					b.WriteByte('l')
				} else {
					b.WriteByte(' ')
				}
				b.WriteString(pair(x-cx, y-cy))
			}
			cx, cy = x, y
		}
		b.WriteByte('z')
		// After z the current point is the ring's first point again.
		cx, cy = int(math.Round(r[0].x*10)), int(math.Round(r[0].y*10))
	}
	return b.String()
}

// pair formats a relative move in tenths as SVG numbers.
func pair(dx, dy int) string { return tenth(dx) + "," + tenth(dy) }

func tenth(v int) string {
	s := strconv.FormatFloat(float64(v)/10, 'f', -1, 64)
	// SVG reads ".5" and "-.5": drop the leading zero.
	if r, ok := strings.CutPrefix(s, "0."); ok {
		return "." + r
	}
	if r, ok := strings.CutPrefix(s, "-0."); ok {
		return "-." + r
	}
	return s
}

// simplify is Douglas-Peucker on a closed ring.
func simplify(r []pt, tol float64) []pt {
	if len(r) > 1 && r[0] == r[len(r)-1] {
		r = r[:len(r)-1]
	}
	if len(r) < 4 {
		return r
	}
	keep := make([]bool, len(r))
	// Split the ring at its first point and the point farthest from it.
	far, best := 0, -1.0
	for i, q := range r {
		if d := math.Hypot(q.x-r[0].x, q.y-r[0].y); d > best {
			far, best = i, d
		}
	}
	keep[0], keep[far] = true, true
	dp(r, 0, far, tol, keep)
	ext := append(append([]pt{}, r...), r[0])
	keep2 := append(keep, true)
	dp(ext, far, len(r), tol, keep2)
	var out []pt
	for i, q := range r {
		if keep2[i] {
			out = append(out, q)
		}
	}
	return out
}

func dp(r []pt, a, b int, tol float64, keep []bool) {
	if b <= a+1 {
		return
	}
	idx, best := -1, tol
	for i := a + 1; i < b; i++ {
		if d := segDist(r[i], r[a], r[b]); d > best {
			idx, best = i, d
		}
	}
	if idx < 0 {
		return
	}
	keep[idx] = true
	dp(r, a, idx, tol, keep)
	dp(r, idx, b, tol, keep)
}

func segDist(p, a, b pt) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	l := dx*dx + dy*dy
	if l == 0 {
		return math.Hypot(p.x-a.x, p.y-a.y)
	}
	t := math.Max(0, math.Min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l))
	return math.Hypot(p.x-a.x-t*dx, p.y-a.y-t*dy)
}

func area(r []pt) float64 {
	s := 0.0
	for i := range r {
		j := (i + 1) % len(r)
		s += r[i].x*r[j].y - r[j].x*r[i].y
	}
	return s / 2
}

func centroid(r []pt) pt {
	var cx, cy, s float64
	for i := range r {
		j := (i + 1) % len(r)
		c := r[i].x*r[j].y - r[j].x*r[i].y
		cx += (r[i].x + r[j].x) * c
		cy += (r[i].y + r[j].y) * c
		s += c
	}
	if s == 0 {
		return r[0]
	}
	return pt{cx / (3 * s), cy / (3 * s)}
}

// readISO returns the alpha-3 to alpha-2 codes and the English short
// names by alpha-2 code (the common name where there is one).
func readISO(path string) (a3to2, names map[string]string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var doc struct {
		Entries []struct {
			A2         string `json:"alpha_2"`
			A3         string `json:"alpha_3"`
			Name       string `json:"name"`
			CommonName string `json:"common_name"`
		} `json:"3166-1"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	a3to2, names = map[string]string{}, map[string]string{"XK": "Kosovo"}
	for _, e := range doc.Entries {
		a3to2[e.A3] = e.A2
		names[e.A2] = e.Name
		if e.CommonName != "" {
			names[e.A2] = e.CommonName
		}
	}
	return a3to2, names, nil
}

// readDBF returns one column of a dBase III table as trimmed strings.
func readDBF(path, column string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 32 {
		return nil, fmt.Errorf("%s: short header", path)
	}
	n := int(binary.LittleEndian.Uint32(data[4:]))
	hdrLen := int(binary.LittleEndian.Uint16(data[8:]))
	recLen := int(binary.LittleEndian.Uint16(data[10:]))
	off, width := -1, 0
	pos := 1 // every record starts with its deletion flag
	for d := 32; d+32 <= len(data) && data[d] != 0x0d; d += 32 {
		name := strings.TrimRight(string(data[d:d+11]), "\x00")
		l := int(data[d+16])
		if strings.EqualFold(name, column) {
			off, width = pos, l
		}
		pos += l
	}
	if off < 0 {
		return nil, fmt.Errorf("%s: no column %q", path, column)
	}
	out := make([]string, 0, n)
	for i := range n {
		r := hdrLen + i*recLen
		if r+recLen > len(data) {
			return nil, fmt.Errorf("%s: truncated at record %d", path, i)
		}
		out = append(out, strings.TrimSpace(string(data[r+off:r+off+width])))
	}
	return out, nil
}

// readSHP returns, for each polygon record, its rings as lon/lat points.
func readSHP(path string) ([][][]pt, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][][]pt
	for p := 100; p+8 <= len(data); {
		clen := int(binary.BigEndian.Uint32(data[p+4:])) * 2
		rec := data[p+8:]
		if clen > len(rec) || clen < 44 {
			return nil, fmt.Errorf("%s: bad record at %d", path, p)
		}
		rec = rec[:clen]
		p += 8 + clen
		if st := binary.LittleEndian.Uint32(rec); st != 5 {
			return nil, fmt.Errorf("%s: shape type %d, want polygon (5)", path, st)
		}
		nParts := int(binary.LittleEndian.Uint32(rec[36:]))
		nPoints := int(binary.LittleEndian.Uint32(rec[40:]))
		ptsOff := 44 + 4*nParts
		if ptsOff+16*nPoints > len(rec) {
			return nil, fmt.Errorf("%s: truncated polygon", path)
		}
		var rings [][]pt
		for i := range nParts {
			start := int(binary.LittleEndian.Uint32(rec[44+4*i:]))
			end := nPoints
			if i+1 < nParts {
				end = int(binary.LittleEndian.Uint32(rec[44+4*(i+1):]))
			}
			if start < 0 || end > nPoints || start >= end {
				return nil, fmt.Errorf("%s: bad part %d", path, i)
			}
			var ring []pt
			for j := start; j < end; j++ {
				x := math.Float64frombits(binary.LittleEndian.Uint64(rec[ptsOff+16*j:]))
				y := math.Float64frombits(binary.LittleEndian.Uint64(rec[ptsOff+16*j+8:]))
				ring = append(ring, pt{x, y})
			}
			rings = append(rings, ring)
		}
		out = append(out, rings)
	}
	return out, nil
}

// readZoneTab returns the first zone.tab point (lon, lat) of each country.
func readZoneTab(path string) (map[string]pt, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	m := map[string]pt{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		fs := strings.Split(line, "\t")
		if len(fs) < 3 {
			continue
		}
		if _, ok := m[fs[0]]; ok {
			continue
		}
		lat, lon, err := parseISO6709(fs[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, line, err)
		}
		m[fs[0]] = pt{lon, lat}
	}
	return m, sc.Err()
}

// parseISO6709 reads zone.tab's ±DDMM[SS]±DDDMM[SS] coordinates.
func parseISO6709(s string) (lat, lon float64, err error) {
	i := strings.LastIndexAny(s, "+-")
	if i <= 0 {
		return 0, 0, errors.New("bad coordinates")
	}
	if lat, err = dms(s[:i], 2); err != nil {
		return 0, 0, err
	}
	lon, err = dms(s[i:], 3)
	return lat, lon, err
}

func dms(s string, degDigits int) (float64, error) {
	sign := 1.0
	if s[0] == '-' {
		sign = -1
	}
	s = s[1:]
	if len(s) != degDigits+2 && len(s) != degDigits+4 {
		return 0, fmt.Errorf("bad coordinate %q", s)
	}
	d, err := strconv.Atoi(s[:degDigits])
	if err != nil {
		return 0, err
	}
	m, err := strconv.Atoi(s[degDigits : degDigits+2])
	if err != nil {
		return 0, err
	}
	sec := 0
	if len(s) == degDigits+4 {
		if sec, err = strconv.Atoi(s[degDigits+2:]); err != nil {
			return 0, err
		}
	}
	return sign * (float64(d) + float64(m)/60 + float64(sec)/3600), nil
}
