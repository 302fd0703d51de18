package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPos struct {
	H, W, X, Y int
}

type dashTarget struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	Datasource   *dsRef `json:"datasource"`
	LegendFormat string `json:"legendFormat"`
}

type dashPanel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Datasource  *dsRef          `json:"datasource"`
	GridPos     gridPos         `json:"gridPos"`
	Targets     []dashTarget    `json:"targets"`
	Panels      []dashPanel     `json:"panels"`
	Options     json.RawMessage `json:"options"`
}

type dashVariable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	Datasource *dsRef `json:"datasource"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
}

type dashboardJSON struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	SchemaVersion int         `json:"schemaVersion"`
	Panels        []dashPanel `json:"panels"`
	Templating    struct {
		List []dashVariable `json:"list"`
	} `json:"templating"`
}

func loadDashboard(file string) (dashboardJSON, error) {
	var d dashboardJSON
	data, err := os.ReadFile(file)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("%s: %w", file, err)
	}
	return d, nil
}

// flattenPanels lists every panel, rows and the panels of collapsed rows
// included, in dashboard order.
func flattenPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flattenPanels(p.Panels)...)
	}
	return out
}

// PanelQuery is one PromQL query of the dashboard, with its template
// variables still in place ($instance, $__rate_interval, ...).
type PanelQuery struct {
	Panel string // panel title
	RefID string
	Expr  string
}

// DashboardQueries extracts every (panel title, query) pair of a dashboard
// file. The end-to-end test that runs each panel's query against a
// Prometheus that scraped a real agent reuses it, with ExpandVariables.
func DashboardQueries(file string) ([]PanelQuery, error) {
	d, err := loadDashboard(file)
	if err != nil {
		return nil, err
	}
	var out []PanelQuery
	for _, p := range flattenPanels(d.Panels) {
		for _, tg := range p.Targets {
			out = append(out, PanelQuery{Panel: p.Title, RefID: tg.RefID, Expr: tg.Expr})
		}
	}
	return out, nil
}

// ExampleVariables are values for the dashboard's variables that make
// every query valid and match any host and jurisdiction; Grafana's own
// $__ variables get durations.
var ExampleVariables = map[string]string{
	"datasource":      "prometheus",
	"instance":        ".+",
	"jurisdiction":    ".*",
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "1h",
}

var templateVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)`)

// ExpandVariables replaces Grafana template variables ($x, ${x}, ${x:fmt},
// [[x]]) with the values in vars, and fails on a variable it does not know,
// as Grafana would leave it in the query and Prometheus would reject it.
func ExpandVariables(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := templateVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := templateVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown template variables %v in %q", missing, expr)
	}
	return out, nil
}

func TestExpandVariables(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: `rate(x{instance=~"$instance"}[$__rate_interval])`, want: `rate(x{instance=~".+"}[1m])`},
		{in: `x{instance=~"${instance}"} offset ${__range}`, want: `x{instance=~".+"} offset 1h`},
		{in: `x{a=~"${jurisdiction:regex}"}`, want: `x{a=~".*"}`},
		{in: `x{a=~"[[instance]]"}`, want: `x{a=~".+"}`},
		{in: `x{a="$nosuch"}`, err: "unknown template variables [nosuch]"},
	}
	for _, tt := range tests {
		got, err := ExpandVariables(tt.in, ExampleVariables)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ExpandVariables(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ExpandVariables(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

const datasourceUID = "${datasource}"

// wantRows are the dashboard's rows, as deploy/grafana/README.md describes
// them.
var wantRows = []string{
	"Overview", "World map", "Flagged traffic", "Top ASNs and organisations",
	"Egress versus ingress", "New countries", "Paths", "Agent health",
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

	vars := map[string]dashVariable{}
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
	var occupied []dashPanel
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
			t.Errorf("panel %q: bad gridPos %+v", p.Title, g)
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

func overlap(a, b gridPos) bool {
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
