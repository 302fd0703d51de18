// Package ui serves the agent's live overview at /: traffic by direction,
// a world map shaded by bytes with flagged countries hatched, the top
// countries and networks, the flagged jurisdictions, recent flagged flows
// and the traced paths. Everything is embedded (no external asset, no
// framework: one small script) and served under a strict
// Content-Security-Policy; the page refreshes itself from the JSON APIs,
// and works without script as a page of links.
package ui

import (
	"net/http"
	"slices"
	"time"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/policy"
	"github.com/jurismon/jurismon/probe"
	"github.com/jurismon/jurismon/report"
	"github.com/jurismon/jurismon/report/worldmap"
)

// Sources are what the overview reads; nil functions are features that
// are off (no probes, no policy).
type Sources struct {
	Accountants func() []*flow.Accountant
	Policy      func() *policy.Policy
	Paths       func() []*probe.Trace // nil when no path is traced
	// Home is the agent's country (from --location), where the drawn
	// paths start; "" draws them from their first located hop.
	Home string
	// FlaggedFlows says that GET /api/v1/flagged-flows is served.
	FlaggedFlows bool
}

// Overview is the body of GET /api/v1/overview. The JSON names are a
// stable interface: fields are only ever added.
type Overview struct {
	Time          time.Time                   `json:"time"`
	Directions    map[string]report.Direction `json:"directions"` // egress, ingress, transit, internal
	FlaggedBytes  uint64                      `json:"flagged_bytes"`
	Countries     []report.Total              `json:"countries"`     // every country, largest first
	ASNs          []report.Total              `json:"asns"`          // the top MaxASNs
	Jurisdictions []report.Total              `json:"jurisdictions"` // every jurisdiction of the policy, with zero bytes if none was seen
	CountryNames  map[string]string           `json:"country_names"` // English names of the codes above
	Legend        []worldmap.LegendItem       `json:"legend"`        // the key of the map's shades
	// Whether the page has anything to read from the other APIs: the
	// event log is on, paths are traced.
	FlaggedFlowsAPI bool `json:"flagged_flows_api"`
	PathsAPI        bool `json:"paths_api"`
}

// MaxASNs is the number of networks in the overview.
const MaxASNs = 20

// overview reads the accountants' live aggregates: they are written by the
// capture workers and read here atomically, as the metrics are.
func (s *Sources) overview(now time.Time) *Overview {
	o := &Overview{Time: now.UTC(), Directions: map[string]report.Direction{}, FlaggedFlowsAPI: s.FlaggedFlows, PathsAPI: s.Paths != nil}
	var groups []*flow.Aggregate
	dirs := map[string]*report.Direction{}
	for d := range flow.NumDirections {
		dirs[d.String()] = &report.Direction{}
	}
	for _, a := range s.Accountants() {
		in := a.Internal()
		d := dirs[flow.Internal.String()]
		d.Bytes += in.Bytes[flow.To].Load()
		d.Packets += in.Packets[flow.To].Load()
		d.Flows += in.Flows[flow.To].Load()
		for _, g := range a.Aggregates() {
			groups = append(groups, g)
			for side := range 2 {
				// The direction of each side of a group, as the metrics
				// label it.
				name := flow.Egress.String()
				switch {
				case g.Key.Transit:
					name = flow.Transit.String()
				case side == flow.From:
					name = flow.Ingress.String()
				}
				d := dirs[name]
				d.Bytes += g.Bytes[side].Load()
				d.Packets += g.Packets[side].Load()
				d.Flows += g.Flows[side].Load()
			}
		}
	}
	for k, d := range dirs {
		o.Directions[k] = *d
	}
	rep := report.Build(groups, flow.ByMetrics, report.Summary{})
	o.FlaggedBytes = rep.Summary.FlaggedBytes
	o.Countries = nonNil(report.ByCountry(rep.Rows))
	asns := report.ByASN(rep.Rows)
	o.ASNs = nonNil(asns[:min(len(asns), MaxASNs)])
	o.Jurisdictions = nonNil(report.ByJurisdiction(rep.Rows))
	o.Legend = worldmap.Legend(worldmap.Largest(report.Shades(o.Countries)))
	o.CountryNames = map[string]string{}
	for _, ts := range [][]report.Total{o.Countries, o.ASNs} {
		for _, t := range ts {
			for _, cc := range []string{t.Key, t.Country} {
				if n := worldmap.Name(cc); n != cc {
					o.CountryNames[cc] = n
				}
			}
		}
	}
	if s.Policy != nil {
		for _, j := range s.Policy().Jurisdictions() {
			if !slices.ContainsFunc(o.Jurisdictions, func(t report.Total) bool { return t.Key == j }) {
				o.Jurisdictions = append(o.Jurisdictions, report.Total{Key: j})
			}
		}
	}
	return o
}

func nonNil(ts []report.Total) []report.Total {
	if ts == nil {
		return []report.Total{}
	}
	return ts
}

// routes turns the latest traces into the map's routes, hop by hop.
func (s *Sources) routes() [][]worldmap.Hop {
	if s.Paths == nil {
		return nil
	}
	var out [][]worldmap.Hop
	for _, tr := range s.Paths() {
		if tr == nil {
			continue
		}
		var r []worldmap.Hop
		if s.Home != "" {
			r = append(r, worldmap.Hop{Country: s.Home})
		}
		for _, h := range tr.Hops {
			if h.Location == nil || h.Location.Country == "" {
				continue
			}
			r = append(r, worldmap.Hop{Country: h.Location.Country, Flagged: h.Flagged})
		}
		out = append(out, r)
	}
	return out
}

// methodGet answers anything but GET and HEAD with 405.
func methodGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
	return false
}
