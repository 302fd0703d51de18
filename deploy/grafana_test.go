package deploy

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/internal/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
)

// The dashboard is read with internal/dashboard, which the lab test that
// runs every panel against a real Prometheus shares.
var (
	loadDashboard    = dashboard.Load
	flattenPanels    = dashboard.Flatten
	ExpandVariables  = dashboard.ExpandVariables
	ExampleVariables = dashboard.ExampleVariables
)

// DashboardQueries extracts every panel query of a dashboard file.
func DashboardQueries(file string) ([]dashboard.Query, error) {
	d, err := dashboard.Load(file)
	if err != nil {
		return nil, err
	}
	return d.Queries()
}

const datasourceUID = "${datasource}"

// wantRows are the dashboard's rows, as deploy/grafana/README.md describes
// them.
var wantRows = []string{
	"Overview", "World map", "Flagged traffic", "Top ASNs and organisations",
	"Egress versus ingress", "New countries", "Paths", "Agent health", "Devices and vendors", "Routers", "Domains", "Tunnels",
}

func TestDashboardStructure(t *testing.T) {
	d, err := loadDashboard(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d, want 39 or later", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}

	vars := map[string]dashboard.Variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds, ok := vars["datasource"]; !ok || ds.Type != "datasource" || ds.Query != "prometheus" {
		t.Errorf("variable datasource: %+v, want a prometheus datasource variable", ds)
	}
	for _, name := range []string{"instance", "jurisdiction"} {
		v, ok := vars[name]
		if !ok {
			t.Errorf("variable %s missing", name)
			continue
		}
		if v.Type != "query" || v.Datasource == nil || v.Datasource.UID != datasourceUID {
			t.Errorf("variable %s: want a query variable on %s, got %+v", name, datasourceUID, v)
		}
		if !v.Multi || !v.IncludeAll {
			t.Errorf("variable %s should allow several values and All", name)
		}
	}

	ids := map[int]string{}
	var rows []string
	var occupied []dashboard.Panel
	for _, p := range flattenPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
		}
		ids[p.ID] = p.Title
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: bad dashboard.GridPos %+v", p.Title, g)
		}
		for _, o := range occupied {
			if overlap(o.GridPos, g) {
				t.Errorf("panels %q and %q overlap", o.Title, p.Title)
			}
		}
		occupied = append(occupied, p)
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Description == "" {
			t.Errorf("panel %q has no description", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != datasourceUID || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want the %s variable", p.Title, p.Datasource, datasourceUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != datasourceUID {
				t.Errorf("panel %q query %s: datasource %+v, want %s", p.Title, tg.RefID, tg.Datasource, datasourceUID)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: missing or repeated refId %q", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if !strings.Contains(tg.Expr, "$instance") {
				t.Errorf("panel %q query %s ignores the instance variable", p.Title, tg.RefID)
			}
		}
	}
	if !slices.Equal(rows, wantRows) {
		t.Errorf("rows %q, want %q", rows, wantRows)
	}
}

func overlap(a, b dashboard.GridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// TestDashboardQueriesParse parses every panel query and every variable
// query with Prometheus's parser, after substituting the variables, and
// checks the metric names and label filters against the agent's contract.
func TestDashboardQueriesParse(t *testing.T) {
	qs, err := DashboardQueries(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 30 {
		t.Fatalf("only %d queries found", len(qs))
	}
	usesJurisdiction := false
	for _, q := range qs {
		t.Run(q.Panel+"/"+q.RefID, func(t *testing.T) {
			usesJurisdiction = usesJurisdiction || strings.Contains(q.Expr, "$jurisdiction")
			expanded, err := ExpandVariables(q.Expr, ExampleVariables)
			if err != nil {
				t.Fatal(err)
			}
			expr, err := promqlParser.ParseExpr(expanded)
			if err != nil {
				t.Fatalf("%v\nquery: %s", err, expanded)
			}
			if err := checkSelectors(expr, nil); err != nil {
				t.Error(err)
			}
		})
	}
	if !usesJurisdiction {
		t.Error("no panel uses the jurisdiction variable")
	}

	d, _ := loadDashboard(dashboardFile)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if !ok {
			continue
		}
		s, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, s)
			continue
		}
		sel, err := ExpandVariables(m[1], ExampleVariables)
		if err == nil {
			_, err = promqlParser.ParseMetricSelector(sel)
		}
		if err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
		}
	}
}

// TestDashboardGeomap checks that the world map looks countries up by the
// ISO code in the query's country label, with Grafana's countries gazetteer.
func TestDashboardGeomap(t *testing.T) {
	d, err := loadDashboard(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var maps int
	for _, p := range flattenPanels(d.Panels) {
		if p.Type != "geomap" {
			continue
		}
		maps++
		var opts struct {
			Layers []struct {
				Location struct {
					Mode, Lookup, Gazetteer string
				} `json:"location"`
			} `json:"layers"`
		}
		if err := json.Unmarshal(p.Options, &opts); err != nil {
			t.Fatalf("%q options: %v", p.Title, err)
		}
		if len(opts.Layers) == 0 {
			t.Fatalf("%q has no layer", p.Title)
		}
		loc := opts.Layers[0].Location
		if loc.Mode != "lookup" || !strings.Contains(loc.Gazetteer, "countries") {
			t.Errorf("%q location %+v, want lookup mode with the countries gazetteer", p.Title, loc)
		}
		for _, tg := range p.Targets {
			expanded, _ := ExpandVariables(tg.Expr, ExampleVariables)
			expr, err := promqlParser.ParseExpr(expanded)
			if err != nil {
				t.Fatal(err)
			}
			agg, ok := expr.(*parser.AggregateExpr)
			if !ok || agg.Without || !slices.Equal(agg.Grouping, []string{loc.Lookup}) {
				t.Errorf("%q query %s must aggregate by (%s) alone, the field the map looks up", p.Title, tg.RefID, loc.Lookup)
			}
		}
	}
	if maps != 1 {
		t.Errorf("%d geomap panels, want 1", maps)
	}
}

// ---------------------------------------------------------------------------
// Dockerfile
