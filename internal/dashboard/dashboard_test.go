package dashboard

import (
	"path/filepath"
	"strings"
	"testing"
)

// The cases of the two ExpandVariables that drifted apart (the deploy
// tests' and the lab test's), now one.
func TestExpandVariables(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: `rate(x{instance=~"$instance"}[$__rate_interval])`, want: `rate(x{instance=~".+"}[1m])`},
		{in: `x{instance=~"${instance}"}[7d] offset $__range`, want: `x{instance=~".+"}[7d] offset 1h`},
		{in: `x{instance=~"${instance}"} offset ${__range}`, want: `x{instance=~".+"} offset 1h`},
		{in: `x{j=~"${jurisdiction:regex}"}`, want: `x{j=~".*"}`},
		{in: `x{j=~"[[jurisdiction]]"}`, want: `x{j=~".*"}`},
		{in: `x{a=~"[[instance]]"}`, want: `x{a=~".+"}`},
		{in: `x{j=~"${jurisdiction:csv}"}`, err: "unknown template variables [${jurisdiction:csv}]"},
		{in: `x{a="$nosuch"}`, err: "unknown template variables [$nosuch]"},
	}
	for _, tt := range tests {
		got, err := ExpandVariables(tt.in, ExampleVariables)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ExpandVariables(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ExpandVariables(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got := RegexEscape("203.0.113.2:9746"); got != `203\\.0\\.113\\.2:9746` {
		t.Errorf("RegexEscape = %s", got)
	}
}

// TestJurismonDashboard reads the real dashboard: queries in collapsed rows
// are found, and every query variable is label_values.
func TestJurismonDashboard(t *testing.T) {
	d, err := Load(filepath.Join("..", "..", "deploy", "grafana", "jurismon.json"))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	vs, err := d.LabelValues()
	if err != nil {
		t.Fatal(err)
	}
	panels := 0
	for _, p := range Flatten(d.Panels) {
		panels += len(p.Targets)
	}
	if len(qs) == 0 || len(qs) != panels || len(vs) == 0 {
		t.Errorf("%d queries (%d targets in all panels), %d query variables", len(qs), panels, len(vs))
	}
	for _, v := range vs {
		if v.Selector == "" || v.Label == "" {
			t.Errorf("variable %+v", v)
		}
	}
}
