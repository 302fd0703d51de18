package ui

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/policy"
	"github.com/jurismon/jurismon/probe"
)

const testPolicy = "jurisdictions:\n  - name: sanctioned\n    countries: [RU]\n  - name: unused\n    countries: [KP]\n"

// Documentation addresses that the test databases place in countries.
const (
	local = "10.0.0.1"
	de    = "192.0.2.10"   // DE, AS 64500
	ru    = "192.0.2.200"  // RU, AS 64501: sanctioned
	us    = "198.51.100.7" // US, AS 64502
)

type pk struct {
	src, dst string
	size     uint32
}

func sources(t *testing.T, workers ...[]pk) *Sources {
	t.Helper()
	pol, err := policy.Parse([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	env := flow.NewEnv(geotest.Resolver(t), pol, true)
	var accts []*flow.Accountant
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, w := range workers {
		cfg := flow.DefaultConfig()
		cfg.Grouping = flow.ByMetrics
		cfg.PublishEvery = time.Millisecond
		a := flow.NewAccountant(env, cfg)
		for i, p := range w {
			ts += int64(time.Millisecond)
			c := capture.Packet{Timestamp: ts, IPLen: p.size, WireLen: p.size + 14, Src: netip.MustParseAddr(p.src), Dst: netip.MustParseAddr(p.dst),
				Proto: 17, SrcPort: uint16(40000 + i%2), DstPort: 53, TTL: 60}
			a.Add(&c)
		}
		a.Tick(ts + int64(time.Second))
		accts = append(accts, a)
	}
	return &Sources{Accountants: func() []*flow.Accountant { return accts }, Policy: env.Policy}
}

// TestOverview: two workers' traffic adds up by direction, country, AS and
// jurisdiction; a jurisdiction without traffic is listed with zero bytes.
func TestOverview(t *testing.T) {
	s := sources(t,
		[]pk{{local, de, 100}, {de, local, 1000}, {local, ru, 50}},
		[]pk{{ru, local, 70}, {local, us, 5}, {de, us, 9}},
	)
	o := s.overview(time.Unix(0, 0))
	if got := o.Directions["egress"].Bytes; got != 155 {
		t.Errorf("egress %d, want 155", got)
	}
	if got := o.Directions["ingress"].Bytes; got != 1070 {
		t.Errorf("ingress %d, want 1070", got)
	}
	if got := o.Directions["transit"].Bytes; got != 18 { // both sides of a DE–US flow
		t.Errorf("transit %d, want 18", got)
	}
	var got []string
	for _, c := range o.Countries {
		got = append(got, c.Key+" "+u(c.Bytes())+" "+c.Jurisdiction)
	}
	if want := "DE 1109 |RU 120 sanctioned|US 14 "; strings.Join(got, "|") != want {
		t.Errorf("countries %q, want %q", strings.Join(got, "|"), want)
	}
	if o.FlaggedBytes != 120 {
		t.Errorf("flagged %d, want 120", o.FlaggedBytes)
	}
	if len(o.Jurisdictions) != 2 || o.Jurisdictions[0].Key != "sanctioned" || o.Jurisdictions[0].Bytes() != 120 || o.Jurisdictions[0].LastSeen.IsZero() ||
		o.Jurisdictions[1].Key != "unused" || o.Jurisdictions[1].Bytes() != 0 {
		t.Errorf("jurisdictions %+v", o.Jurisdictions)
	}
	if len(o.ASNs) != 3 || o.ASNs[0].ASN != 64500 || o.CountryNames["RU"] != "Russian Federation" {
		t.Errorf("asns %+v, names %v", o.ASNs, o.CountryNames)
	}
	if len(o.Legend) == 0 || o.PathsAPI || o.FlaggedFlowsAPI {
		t.Errorf("legend %v, paths %v, flows %v", o.Legend, o.PathsAPI, o.FlaggedFlowsAPI)
	}
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

// TestHandlers: the page, its assets, the map and the JSON, with the
// security headers; other methods and paths are refused.
func TestHandlers(t *testing.T) {
	s := sources(t, []pk{{local, ru, 50}, {ru, local, 70}})
	s.Paths = func() []*probe.Trace {
		return []*probe.Trace{{Hops: []probe.Hop{
			{TTL: 1, Location: &geo.Location{Country: "DE"}},
			{TTL: 2},
			{TTL: 3, Location: &geo.Location{Country: "RU"}, Flagged: true},
		}}}
	}
	s.Home = "FR"
	mux := http.NewServeMux()
	Register(mux, *s, web.LandingConfig{Name: "jurismon", Description: "test", Version: "v-test",
		Links: []web.LandingLinks{{Address: "/metrics", Text: "Metrics"}}}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		method, path string
		code         int
		ctype        string
		want         []string
		csp          bool
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", []string{`<a href="/metrics">Metrics</a>`, "v-test", `data-cc="RU"`, "wm-flagged", `class="wm-hop" data-cc="FR"`, `class="wm-hop" data-cc="DE"`, `<script src="/ui/app.js" defer>`}, true},
		{"GET", "/ui/app.js", 200, "text/javascript; charset=utf-8", []string{"refresh"}, true},
		{"GET", "/ui/style.css", 200, "text/css; charset=utf-8", []string{"@media"}, true},
		{"GET", "/ui/map.svg", 200, "image/svg+xml", []string{`<svg `, `data-jurisdiction="sanctioned"`}, true},
		{"GET", "/api/v1/overview", 200, "application/json", []string{`"flagged_bytes":120`, `"paths_api":true`}, false},
		{"POST", "/", 405, "", nil, true},
		{"POST", "/api/v1/overview", 405, "", nil, false},
		{"GET", "/nothing", 404, "", nil, false},
		{"GET", "/ui/favicon.svg", 200, "image/svg+xml", []string{"<svg"}, true},
		{"GET", "/ui/index.html.tmpl", 404, "", nil, false},
		{"GET", "/ui/", 404, "", nil, false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.code)
			continue
		}
		if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tt.method, tt.path, resp.Header.Get("Content-Type"), tt.ctype)
		}
		if got := resp.Header.Get("Content-Security-Policy"); tt.csp != (got == ContentSecurityPolicy) {
			t.Errorf("%s %s: CSP %q", tt.method, tt.path, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s %s lacks %q", tt.method, tt.path, w)
			}
		}
	}
}
