// Package dashboard reads a Grafana dashboard file as jurismon's tests need
// it: its panels and their PromQL queries, its query variables, and the
// expansion of template variables as Grafana does it before it sends a
// query. The deploy module's structure tests and the lab test that runs
// every panel against a real Prometheus share it, so that they cannot drift.
package dashboard

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Datasource is a panel's, target's or variable's data source reference.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// GridPos is a panel's place on the grid.
type GridPos struct {
	H, W, X, Y int
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	Datasource   *Datasource `json:"datasource"`
	LegendFormat string      `json:"legendFormat"`
}

// Panel is a panel; rows carry their panels inside (collapsed) or next to
// them (expanded).
type Panel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Datasource  *Datasource     `json:"datasource"`
	GridPos     GridPos         `json:"gridPos"`
	Targets     []Target        `json:"targets"`
	Panels      []Panel         `json:"panels"`
	Options     json.RawMessage `json:"options"`
}

// Variable is a template variable.
type Variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Query      any         `json:"query"` // a string, or {"query": ..., "refId": ...}
	Datasource *Datasource `json:"datasource"`
	Multi      bool        `json:"multi"`
	IncludeAll bool        `json:"includeAll"`
}

// Dashboard is a dashboard file.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Load reads a dashboard file.
func Load(file string) (Dashboard, error) {
	var d Dashboard
	data, err := os.ReadFile(file)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("%s: %w", file, err)
	}
	return d, nil
}

// Flatten lists every panel, rows and the panels of collapsed rows
// included, in dashboard order.
func Flatten(ps []Panel) []Panel {
	var out []Panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, Flatten(p.Panels)...)
	}
	return out
}

// Query is one PromQL query of a panel, with its template variables still
// in place ($instance, $__rate_interval, ...).
type Query struct {
	Panel string // panel title
	RefID string
	Expr  string
}

// Queries returns every panel query of d; a target without an expression
// is an error.
func (d *Dashboard) Queries() ([]Query, error) {
	var out []Query
	for _, p := range Flatten(d.Panels) {
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				return nil, fmt.Errorf("panel %q target %q has no expr", p.Title, tg.RefID)
			}
			out = append(out, Query{Panel: p.Title, RefID: tg.RefID, Expr: tg.Expr})
		}
	}
	return out, nil
}

// LabelValues is a query variable's label_values(selector, label).
type LabelValues struct {
	Name, Selector, Label string
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\((.+),\s*(\w+)\s*\)\s*$`)

// LabelValues returns every query variable of d; one that is not
// label_values(selector, label) is an error.
func (d *Dashboard) LabelValues() ([]LabelValues, error) {
	var out []LabelValues
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		sub := labelValuesRE.FindStringSubmatch(q)
		if sub == nil {
			return nil, fmt.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
		}
		out = append(out, LabelValues{Name: v.Name, Selector: sub[1], Label: sub[2]})
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

var templateVarRE = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)`)

// ExpandVariables substitutes Grafana's template variables ($x, ${x},
// ${x:regex}, [[x]]) with the values in vars, as Grafana does before it
// sends the query. A variable or format it does not know is an error, since
// Grafana would leave it in and Prometheus reject it.
func ExpandVariables(expr string, vars map[string]string) (string, error) {
	var bad []string
	out := templateVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := templateVarRE.FindStringSubmatch(m)
		name, format := sub[1]+sub[3]+sub[4], sub[2]
		v, ok := vars[name]
		if !ok || (format != "" && format != "regex") {
			bad = append(bad, m)
			return m
		}
		return v
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown template variables %v in %q", bad, expr)
	}
	return out, nil
}

// RegexEscape is how Grafana's Prometheus data source writes a selected
// value into a =~ matcher: regex metacharacters escaped, with the backslash
// itself escaped for the PromQL string.
func RegexEscape(v string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`)
}
