package deploy

// Tests for everything under deploy/: the Prometheus rules and their unit
// tests, the Grafana dashboard, the Dockerfile, the compose stack, the
// Kubernetes manifests and the systemd unit. Where the real tool is on the
// machine (promtool, amtool, kubectl, systemd-analyze, hadolint) the test
// runs it; where it is not, that test is skipped with the package to install,
// and the checks that need no tool still run.
//
// Generated files (the PrometheusRule and the copies the kustomize base
// needs) are rewritten from their sources with
//
//	go test -run 'TestPrometheusRuleInSync|TestKubernetesCopiesInSync' -update

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the generated files from their sources instead of comparing them")

// Paths, relative to deploy/ (the test's working directory).
const (
	rulesFile        = "prometheus/rules.yml"
	alertsFile       = "prometheus/alerts.yml"
	runbookFile      = "prometheus/runbook.md"
	ruleTestsGlob    = "prometheus/tests/*.yml"
	dashboardFile    = "grafana/jurismon.json"
	dockerfile       = "Dockerfile"
	composeDir       = "compose"
	kubernetesDir    = "kubernetes"
	prometheusRuleK8 = "kubernetes/prometheusrule.yaml"
	policyExample    = "config/example.yml"
	systemdUnit      = "systemd/jurismon.service"
	systemdEnv       = "systemd/jurismon.env.example"

	runbookURLBase = "https://github.com/jurismon/jurismon/blob/main/deploy/prometheus/runbook.md#"
)

// promqlParser is Prometheus's own parser, with its default functions.
var promqlParser = parser.NewParser(parser.Options{})

// metricLabels is the metric contract of the agent (issues 3 and 5): every
// metric a rule or a panel may read, with the labels it may be filtered on.
// A query that names anything else is a typo or a metric that does not
// exist. instance and job come from Prometheus and are allowed everywhere.
var metricLabels = map[string][]string{
	"jurismon_traffic_bytes_total":                          {"direction", "country"},
	"jurismon_traffic_packets_total":                        {"direction", "country"},
	"jurismon_flows_total":                                  {"direction", "country"},
	"jurismon_flagged_bytes_total":                          {"direction", "jurisdiction", "country", "asn", "as_org", "matched_by"},
	"jurismon_flagged_packets_total":                        {"direction", "jurisdiction", "country", "asn", "as_org", "matched_by"},
	"jurismon_flagged_flows_total":                          {"direction", "jurisdiction", "country", "asn", "as_org", "matched_by"},
	"jurismon_flagged_last_seen_timestamp_seconds":          {"jurisdiction", "country"},
	"jurismon_traffic_asn_bytes_total":                      {"direction", "asn", "as_org"},
	"jurismon_location_conflicts_total":                     {"kind"},
	"jurismon_lookups_unknown_total":                        {},
	"jurismon_capture_packets_total":                        {"interface"},
	"jurismon_capture_drops_total":                          {"interface", "stage"},
	"jurismon_decode_errors_total":                          {"reason"},
	"jurismon_geo_cache_requests_total":                     {"result"},
	"jurismon_flow_table_entries":                           {},
	"jurismon_flow_table_evictions_total":                   {},
	"jurismon_tunnels":                                      {"protocol", "country", "jurisdiction"},
	"jurismon_tunnels_started_total":                        {"protocol", "country", "jurisdiction"},
	"jurismon_tunnel_bytes_total":                           {"protocol", "direction", "country", "jurisdiction"},
	"jurismon_tunnel_inventory_untracked_total":             {},
	"jurismon_geo_database_info":                            {"database", "type", "source"},
	"jurismon_geo_database_build_timestamp_seconds":         {"database"},
	"jurismon_config_last_reload_successful":                {},
	"jurismon_config_last_reload_success_timestamp_seconds": {},
	"jurismon_build_info":                                   {"version", "revision", "branch", "goversion", "goos", "goarch", "tags"},
	"up":                                                    {},
	"jurismon_path_hops":                                    {"target"},
	"jurismon_path_rtt_seconds":                             {"target"},
	"jurismon_path_transit":                                 {"target", "country", "jurisdiction"},
	"jurismon_path_flagged_transit":                         {"target", "jurisdiction"},
	"jurismon_path_changes_total":                           {"target"},
	"jurismon_path_probes_total":                            {"result"},
	"jurismon_path_implausible_hops_total":                  {"country"},
	"jurismon_rtt_seconds_bucket":                           {"country", "jurisdiction", "le"},
	"jurismon_rtt_seconds_sum":                              {"country", "jurisdiction"},
	"jurismon_rtt_seconds_count":                            {"country", "jurisdiction"},
	"jurismon_route_hopcount_changes_total":                 {"country"},
	"jurismon_device_bytes_total":                           {"vendor", "direction", "country", "jurisdiction"},
	"jurismon_devices":                                      {"vendor_country", "flagged"},
	"jurismon_devices_new_total":                            {"vendor_country", "flagged"},
}

// ---------------------------------------------------------------------------
// Prometheus rules

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// readYAMLStrict decodes one YAML document, refusing unknown fields.
func readYAMLStrict(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func loadRules(t *testing.T, file string) ruleFile {
	t.Helper()
	var rf ruleFile
	if err := readYAMLStrict(file, &rf); err != nil {
		t.Fatal(err)
	}
	if len(rf.Groups) == 0 {
		t.Fatalf("%s: no rule groups", file)
	}
	return rf
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	var out []rule
	for _, g := range loadRules(t, alertsFile).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestRuleFilesParse loads both rule files with Prometheus's own rule loader,
// which parses every expression and every annotation template.
func TestRuleFilesParse(t *testing.T) {
	for _, file := range []string{rulesFile, alertsFile} {
		t.Run(file, func(t *testing.T) {
			groups, errs := rulefmt.ParseFile(file, false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler))
			if len(errs) > 0 {
				t.Fatalf("rulefmt: %v", errors.Join(errs...))
			}
			if len(groups.Groups) == 0 {
				t.Fatal("no groups")
			}
		})
	}
}

var recordingRuleName = regexp.MustCompile(`^jurismon:[a-z0-9_]+:[a-z0-9_]+$`)

// TestRecordingRules checks the naming convention (level:metric:operations)
// and that every recording rule keeps instance and job.
func TestRecordingRules(t *testing.T) {
	for _, g := range loadRules(t, rulesFile).Groups {
		for _, r := range g.Rules {
			t.Run(r.Record, func(t *testing.T) {
				if r.Alert != "" || r.Record == "" {
					t.Fatalf("rules.yml holds recording rules only, got alert %q", r.Alert)
				}
				if !recordingRuleName.MatchString(r.Record) {
					t.Errorf("name %q does not follow jurismon:metric:operation", r.Record)
				}
				expr, err := promqlParser.ParseExpr(r.Expr)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkSelectors(expr, recordedNames(t)); err != nil {
					t.Error(err)
				}
				if err := checkKeepsHost(expr); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// checkKeepsHost reports aggregations that drop instance or job: an
// aggregation with "without", or with "by" lacking either.
func checkKeepsHost(expr parser.Expr) error {
	var errs []error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		agg, ok := node.(*parser.AggregateExpr)
		if !ok {
			return nil
		}
		if agg.Without || !slices.Contains(agg.Grouping, "instance") || !slices.Contains(agg.Grouping, "job") {
			errs = append(errs, fmt.Errorf("%s drops instance or job", agg))
		}
		return nil
	})
	return errors.Join(errs...)
}

// recordedNames lists the series the recording rules produce, which the
// alerts may read like metrics.
func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, g := range loadRules(t, rulesFile).Groups {
		for _, r := range g.Rules {
			names[r.Record] = true
		}
	}
	return names
}

// checkSelectors walks expr and reports every selector that names a metric
// outside the contract, or filters on a label the metric does not have.
func checkSelectors(expr parser.Expr, recorded map[string]bool) error {
	var errs []error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			errs = append(errs, fmt.Errorf("selector %s has no metric name", vs))
			return nil
		}
		if recorded[name] {
			return nil // recorded series keep the labels of their by clause.
		}
		allowed, ok := metricLabels[name]
		if !ok {
			errs = append(errs, fmt.Errorf("metric %q is not in the agent's metric contract", name))
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel || m.Name == "instance" || m.Name == "job" {
				continue
			}
			if !slices.Contains(allowed, m.Name) {
				errs = append(errs, fmt.Errorf("metric %q has no label %q (has %v)", name, m.Name, allowed))
			}
		}
		return nil
	})
	return errors.Join(errs...)
}

var severities = []string{"info", "warning", "critical"}

// TestAlertConventions checks what every alert must carry: a severity, a
// summary, a description and a runbook URL whose section exists.
func TestAlertConventions(t *testing.T) {
	runbook, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(runbook))
	recorded := recordedNames(t)
	seen := map[string]bool{}
	for _, r := range alertRules(t) {
		t.Run(r.Alert, func(t *testing.T) {
			if seen[r.Alert] {
				t.Fatalf("alert %s defined twice", r.Alert)
			}
			seen[r.Alert] = true
			if !slices.Contains(severities, r.Labels["severity"]) {
				t.Errorf("severity %q, want one of %v", r.Labels["severity"], severities)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("missing annotation %q", a)
				}
			}
			wantURL := runbookURLBase + strings.ToLower(r.Alert)
			if r.Annotations["runbook_url"] != wantURL {
				t.Errorf("runbook_url %q, want %q", r.Annotations["runbook_url"], wantURL)
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s has no section %q", runbookFile, "## "+r.Alert)
			}
			expr, err := promqlParser.ParseExpr(r.Expr)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkSelectors(expr, recorded); err != nil {
				t.Error(err)
			}
		})
	}
	if len(seen) == 0 {
		t.Fatal("no alerts")
	}
	// Every runbook section belongs to an alert: a renamed alert leaves no
	// orphan behind.
	for _, h := range markdownHeadings(string(runbook), "## ") {
		if !seen[h] {
			t.Errorf("runbook section %q matches no alert", h)
		}
	}
}

func markdownHeadings(md, prefix string) []string {
	var out []string
	for line := range strings.Lines(md) {
		if h, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			out = append(out, strings.TrimSpace(h))
		}
	}
	return out
}

// markdownAnchors gives the GitHub anchors of the level-2 headings (lower
// case; the alert names have no spaces or punctuation to translate).
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, h := range markdownHeadings(md, "## ") {
		out[strings.ToLower(h)] = true
	}
	return out
}

type ruleTestFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval string         `yaml:"evaluation_interval"`
	Tests              []ruleTestCase `yaml:"tests"`
}

type ruleTestCase struct {
	Interval    string           `yaml:"interval"`
	InputSeries []map[string]any `yaml:"input_series"`
	AlertTests  []struct {
		EvalTime  string           `yaml:"eval_time"`
		AlertName string           `yaml:"alertname"`
		ExpAlerts []map[string]any `yaml:"exp_alerts"`
	} `yaml:"alert_rule_test"`
	PromQLTests []map[string]any `yaml:"promql_expr_test"`
}

// TestEveryAlertHasUnitTests reads the promtool test files: each alert must
// be expected to fire at some evaluation and expected silent at another.
func TestEveryAlertHasUnitTests(t *testing.T) {
	files, err := filepath.Glob(ruleTestsGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule test files match %s (%v)", ruleTestsGlob, err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		var tf ruleTestFile
		if err := readYAMLStrict(f, &tf); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"../rules.yml", "../alerts.yml"} {
			if !slices.Contains(tf.RuleFiles, want) {
				t.Errorf("%s does not load %s", f, want)
			}
		}
		for _, tc := range tf.Tests {
			for _, at := range tc.AlertTests {
				if len(at.ExpAlerts) > 0 {
					fires[at.AlertName] = true
				} else {
					silent[at.AlertName] = true
				}
			}
		}
	}
	for _, r := range alertRules(t) {
		if !fires[r.Alert] {
			t.Errorf("%s: no test case where it fires", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no test case where it stays silent", r.Alert)
		}
	}
}

// lookPathOrSkip returns the path of tool, or skips the test saying what
// to install.
func lookPathOrSkip(t *testing.T, tool, install string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("SKIP: %s not found (%s); this check did not run", tool, install)
	}
	return p
}

func runTool(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtool runs Prometheus's own checks: the rule files, then their unit
// tests (every alert firing and not firing).
func TestPromtool(t *testing.T) {
	promtool := lookPathOrSkip(t, "promtool", "apt-get install prometheus")
	runTool(t, ".", promtool, "check", "rules", rulesFile, alertsFile)
	files, _ := filepath.Glob(ruleTestsGlob)
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i], _ = filepath.Rel("prometheus", f)
	}
	out := runTool(t, "prometheus", promtool, append([]string{"test", "rules"}, rel...)...)
	if n := strings.Count(out, "SUCCESS"); n != len(files) {
		t.Fatalf("promtool test rules: %d of %d files passed:\n%s", n, len(files), out)
	}
}

// prometheusRuleFromFiles builds the Kubernetes PrometheusRule that carries
// exactly the groups of rules.yml and alerts.yml.
func prometheusRuleFromFiles(t *testing.T) monitoringv1.PrometheusRule {
	t.Helper()
	pr := monitoringv1.PrometheusRule{}
	pr.APIVersion = "monitoring.coreos.com/v1"
	pr.Kind = "PrometheusRule"
	pr.Name = "jurismon"
	pr.Labels = map[string]string{"app.kubernetes.io/name": "jurismon"}
	for _, file := range []string{rulesFile, alertsFile} {
		for _, g := range loadRules(t, file).Groups {
			rg := monitoringv1.RuleGroup{Name: g.Name}
			if g.Interval != "" {
				d := monitoringv1.Duration(g.Interval)
				rg.Interval = &d
			}
			for _, r := range g.Rules {
				mr := monitoringv1.Rule{
					Record:      r.Record,
					Alert:       r.Alert,
					Expr:        intstr.FromString(r.Expr),
					Labels:      r.Labels,
					Annotations: r.Annotations,
				}
				if r.For != "" {
					d := monitoringv1.Duration(r.For)
					mr.For = &d
				}
				rg.Rules = append(rg.Rules, mr)
			}
			pr.Spec.Groups = append(pr.Spec.Groups, rg)
		}
	}
	return pr
}

// renderPrometheusRule writes the PrometheusRule in the same shape as the
// rule files (yaml.v3 keeps the field order and block style of the
// expressions), so the generated file stays readable and diffable.
func renderPrometheusRule(t *testing.T) []byte {
	t.Helper()
	type meta struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	}
	type spec struct {
		Groups []ruleGroup `yaml:"groups"`
	}
	doc := struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   meta   `yaml:"metadata"`
		Spec       spec   `yaml:"spec"`
	}{
		APIVersion: "monitoring.coreos.com/v1",
		Kind:       "PrometheusRule",
		Metadata:   meta{Name: "jurismon", Labels: map[string]string{"app.kubernetes.io/name": "jurismon"}},
	}
	for _, file := range []string{rulesFile, alertsFile} {
		doc.Spec.Groups = append(doc.Spec.Groups, loadRules(t, file).Groups...)
	}
	var buf bytes.Buffer
	buf.WriteString("# GENERATED from deploy/prometheus/rules.yml and alerts.yml: do not edit.\n")
	buf.WriteString("# Regenerate with: cd deploy && go test -run TestPrometheusRuleInSync -update\n")
	buf.WriteString("# Your Prometheus resource's ruleSelector must select this object.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPrometheusRuleInSync checks that the PrometheusRule carries the same
// rules as the plain rule files, decoding it strictly into the Prometheus
// Operator's own type.
func TestPrometheusRuleInSync(t *testing.T) {
	if *update {
		if err := os.WriteFile(prometheusRuleK8, renderPrometheusRule(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(prometheusRuleK8)
	if err != nil {
		t.Fatal(err)
	}
	var got monitoringv1.PrometheusRule
	if err := sigsyaml.UnmarshalStrict(data, &got); err != nil {
		t.Fatalf("%s: %v", prometheusRuleK8, err)
	}
	want := prometheusRuleFromFiles(t)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s differs from the rule files; run go test -run TestPrometheusRuleInSync -update", prometheusRuleK8)
	}
}

// ---------------------------------------------------------------------------
// Grafana dashboard

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
	"Egress versus ingress", "New countries", "Paths", "Agent health", "Devices and vendors", "Tunnels",
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

type dockerInstruction struct {
	Line int
	Cmd  string // upper case
	Args string
}

var dockerInstructions = []string{
	"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
	"LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}

// parseDockerfile splits a Dockerfile into instructions, joining
// continuation lines and dropping comments, which is all the structure the
// checks below need (BuildKit's parser would bring a large dependency).
func parseDockerfile(data string) ([]dockerInstruction, error) {
	var out []dockerInstruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`))
		cur.WriteByte(' ')
		if cont {
			continue
		}
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		cmd, args, _ := strings.Cut(text, " ")
		cmd = strings.ToUpper(cmd)
		if !slices.Contains(dockerInstructions, cmd) {
			return nil, fmt.Errorf("line %d: unknown instruction %q", start, cmd)
		}
		out = append(out, dockerInstruction{Line: start, Cmd: cmd, Args: strings.Join(strings.Fields(args), " ")})
	}
	if cur.Len() > 0 {
		return nil, errors.New("file ends inside a continued line")
	}
	return out, nil
}

func TestParseDockerfile(t *testing.T) {
	tests := []struct {
		name, in string
		want     []dockerInstruction
		err      string
	}{
		{name: "continuation", in: "# c\nFROM a AS b\nRUN x \\\n  && y\n", want: []dockerInstruction{{2, "FROM", "a AS b"}, {3, "RUN", "x && y"}}},
		{name: "comment inside continuation", in: "RUN a \\\n# note\n  b\n", want: []dockerInstruction{{1, "RUN", "a b"}}},
		{name: "unknown", in: "FORM a\n", err: `unknown instruction "FORM"`},
		{name: "dangling", in: "RUN a \\\n", err: "continued line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDockerfile(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := parseDockerfile(string(data))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]dockerInstruction
	for _, in := range ins {
		if in.Cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Fatalf("line %d: %s before the first FROM", in.Line, in.Cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build[0].Args, "golang:") || !strings.HasSuffix(build[0].Args, " AS build") {
		t.Errorf("build stage %q, want golang:... AS build", build[0].Args)
	}
	buildRuns := joinArgs(build, "RUN")
	for _, want := range []string{
		"CGO_ENABLED=0", "-trimpath", "go build",
		"-X github.com/prometheus/common/version.Version=${VERSION}",
		"-X github.com/prometheus/common/version.Revision=${REVISION}",
		"setcap cap_net_raw,cap_net_admin+ep", "libcap2-bin", "./cmd/jurismon",
	} {
		if !strings.Contains(buildRuns, want) {
			t.Errorf("build stage RUN lacks %q", want)
		}
	}
	if base := final[0].Args; base != "gcr.io/distroless/static-debian12:nonroot" && base != "scratch" {
		t.Errorf("final base %q, want distroless static nonroot or scratch", base)
	}
	if !strings.Contains(joinArgs(final, "COPY"), "--from=build /out/jurismon") {
		t.Error("final stage does not copy the binary from the build stage")
	}
	user := joinArgs(final, "USER")
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("final USER %q, want a non-root user", user)
	}
	if joinArgs(final, "EXPOSE") != "9746" {
		t.Errorf("EXPOSE %q, want 9746", joinArgs(final, "EXPOSE"))
	}
	hc := joinArgs(final, "HEALTHCHECK")
	_, hcCmd, ok := strings.Cut(hc, "CMD ")
	var hcArgs []string
	if !ok || json.Unmarshal([]byte(hcCmd), &hcArgs) != nil {
		t.Fatalf("HEALTHCHECK %q: want the exec form CMD [\"...\"] (distroless has no shell)", hc)
	}
	// Without --url, healthcheck checks http://127.0.0.1:9746/-/healthy
	// (https when the web configuration enables TLS).
	if i := slices.Index(hcArgs, "--url"); !slices.Equal(hcArgs[:min(2, len(hcArgs))], []string{"/usr/bin/jurismon", "healthcheck"}) ||
		i >= 0 && (i+1 >= len(hcArgs) || !strings.HasSuffix(hcArgs[i+1], "/-/healthy")) {
		t.Errorf("HEALTHCHECK %q: want jurismon healthcheck on /-/healthy", hcArgs)
	}
	var entry []string
	if err := json.Unmarshal([]byte(joinArgs(final, "ENTRYPOINT")), &entry); err != nil || entry[0] != "/usr/bin/jurismon" {
		t.Errorf("ENTRYPOINT %q, want the exec form running /usr/bin/jurismon", joinArgs(final, "ENTRYPOINT"))
	}
	// What the build copies must exist in the repository root, its context.
	for _, f := range []string{"../go.mod", "../go.sum", "../cmd/jurismon"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("build context lacks %s: %v", f, err)
		}
	}
}

func joinArgs(ins []dockerInstruction, cmd string) string {
	var parts []string
	for _, in := range ins {
		if in.Cmd == cmd {
			parts = append(parts, in.Args)
		}
	}
	return strings.Join(parts, "\n")
}

// TestDockerfileLint runs a real Dockerfile linter. hadolint has no Debian
// package and no Go module, so the linter used here is dockerfile-utils
// (the Dockerfile language service's linter, from npm), which reports
// malformed instructions, bad flags, ports and stage references; hadolint
// runs too where it is installed.
func TestDockerfileLint(t *testing.T) {
	t.Run("dockerfile-utils", func(t *testing.T) {
		lint := lookPathOrSkip(t, "dockerfile-utils", "npm install -g dockerfile-utils@0.16.3")
		if out := runTool(t, ".", lint, "lint", dockerfile); strings.TrimSpace(out) != "" {
			t.Errorf("dockerfile-utils lint:\n%s", out)
		}
	})
	t.Run("hadolint", func(t *testing.T) {
		hadolint := lookPathOrSkip(t, "hadolint", "no Debian package or Go module; a release binary from the hadolint project")
		runTool(t, ".", hadolint, dockerfile)
	})
}

// ---------------------------------------------------------------------------
// docker compose

type composeService struct {
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Image       string            `yaml:"image"`
	Restart     string            `yaml:"restart"`
	NetworkMode string            `yaml:"network_mode"`
	CapDrop     []string          `yaml:"cap_drop"`
	CapAdd      []string          `yaml:"cap_add"`
	ReadOnly    bool              `yaml:"read_only"`
	Tmpfs       []string          `yaml:"tmpfs"`
	Command     []string          `yaml:"command"`
	Volumes     []string          `yaml:"volumes"`
	EnvFile     []string          `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	ExtraHosts  []string          `yaml:"extra_hosts"`
	DependsOn   []string          `yaml:"depends_on"`
}

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// composeVar expands ${VAR:-default} the way compose does when VAR is
// unset, which is how the repository's files are meant to work as shipped.
var composeVar = regexp.MustCompile(`\$\{(\w+)(?::?-([^}]*))?\}`)

func composeDefault(s string) string {
	return composeVar.ReplaceAllString(s, "$2")
}

type composeMount struct {
	Source, Target string
	Bind           bool // a host path, not a named volume
}

func parseComposeVolume(spec string) (composeMount, error) {
	parts := strings.Split(composeDefault(spec), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return composeMount{}, fmt.Errorf("volume %q: want source:target[:mode]", spec)
	}
	if len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
		return composeMount{}, fmt.Errorf("volume %q: mode %q", spec, parts[2])
	}
	src := parts[0]
	return composeMount{Source: src, Target: parts[1], Bind: strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/")}, nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := readYAMLStrict(filepath.Join(composeDir, "docker-compose.yml"), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func mountsOf(t *testing.T, svc composeService) map[string]composeMount {
	t.Helper()
	out := map[string]composeMount{}
	for _, v := range svc.Volumes {
		m, err := parseComposeVolume(v)
		if err != nil {
			t.Fatal(err)
		}
		out[m.Target] = m
	}
	return out
}

func TestCompose(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"jurismon", "geoipupdate", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	for name, svc := range c.Services {
		t.Run(name, func(t *testing.T) {
			if svc.Image == "" {
				t.Error("no image")
			}
			if svc.Build != nil {
				df := filepath.Join(composeDir, svc.Build.Context, svc.Build.Dockerfile)
				if _, err := os.Stat(df); err != nil {
					t.Errorf("build: %v", err)
				}
			}
			for target, m := range mountsOf(t, svc) {
				if m.Bind {
					if _, err := os.Stat(filepath.Join(composeDir, m.Source)); err != nil {
						t.Errorf("mount %s: %v", target, err)
					}
				} else if _, ok := c.Volumes[m.Source]; !ok {
					t.Errorf("mount %s: volume %q not declared", target, m.Source)
				}
			}
			for _, p := range svc.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("port %q published on every address; bind it to 127.0.0.1", p)
				}
			}
			for _, dep := range svc.DependsOn {
				if _, ok := c.Services[dep]; !ok {
					t.Errorf("depends on unknown service %q", dep)
				}
			}
			for _, ef := range svc.EnvFile {
				// The real file holds credentials and is not committed: its
				// example must be.
				if _, err := os.Stat(filepath.Join(composeDir, ef+".example")); err != nil {
					t.Errorf("env_file %s has no example: %v", ef, err)
				}
			}
		})
	}

	agent := c.Services["jurismon"]
	if agent.NetworkMode != "host" {
		t.Errorf("agent network_mode %q, want host", agent.NetworkMode)
	}
	if !slices.Equal(agent.CapDrop, []string{"ALL"}) || !sameSet(agent.CapAdd, []string{"NET_RAW", "NET_ADMIN"}) {
		t.Errorf("agent capabilities drop %v add %v, want drop ALL add NET_RAW NET_ADMIN", agent.CapDrop, agent.CapAdd)
	}
	am := mountsOf(t, agent)
	if m := am["/etc/jurismon/policy.yml"]; !m.Bind {
		t.Error("agent: policy not mounted at /etc/jurismon/policy.yml")
	}
	if !slices.Contains(agent.Command, "--config=/etc/jurismon/policy.yml") {
		t.Errorf("agent command %q does not load the mounted policy", agent.Command)
	}
	gm := mountsOf(t, c.Services["geoipupdate"])
	if am["/usr/share/GeoIP"].Source == "" || am["/usr/share/GeoIP"] != gm["/usr/share/GeoIP"] {
		t.Errorf("agent and geoipupdate must share one volume at /usr/share/GeoIP: %+v, %+v", am["/usr/share/GeoIP"], gm["/usr/share/GeoIP"])
	}
	pm := mountsOf(t, c.Services["prometheus"])
	for _, rf := range []string{"rules.yml", "alerts.yml"} {
		m := pm["/etc/prometheus/rules/"+rf]
		if filepath.Clean(filepath.Join(composeDir, m.Source)) != filepath.Join("prometheus", rf) {
			t.Errorf("prometheus does not mount deploy/prometheus/%s: %+v", rf, m)
		}
	}
	grm := mountsOf(t, c.Services["grafana"])
	if filepath.Clean(filepath.Join(composeDir, grm["/etc/grafana/dashboards/jurismon.json"].Source)) != dashboardFile {
		t.Error("grafana does not mount the dashboard at /etc/grafana/dashboards/jurismon.json")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func TestComposeVolumeParsing(t *testing.T) {
	tests := []struct {
		in   string
		want composeMount
		err  string
	}{
		{in: "geoip:/usr/share/GeoIP:ro", want: composeMount{"geoip", "/usr/share/GeoIP", false}},
		{in: "./p.yml:/etc/p.yml", want: composeMount{"./p.yml", "/etc/p.yml", true}},
		{in: "${POLICY:-../config/example.yml}:/etc/jurismon/policy.yml:ro", want: composeMount{"../config/example.yml", "/etc/jurismon/policy.yml", true}},
		{in: "just-a-name", err: "want source:target"},
		{in: "a:/b:rx", err: `mode "rx"`},
	}
	for _, tt := range tests {
		got, err := parseComposeVolume(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestComposeEnvExample checks the geoipupdate example: the three variables
// geoipupdate requires, both editions jurismon reads, placeholder values.
func TestComposeEnvExample(t *testing.T) {
	env := readEnvFile(t, filepath.Join(composeDir, "geoipupdate.env.example"))
	for _, k := range []string{"GEOIPUPDATE_ACCOUNT_ID", "GEOIPUPDATE_LICENSE_KEY", "GEOIPUPDATE_EDITION_IDS"} {
		if env[k] == "" {
			t.Errorf("%s missing", k)
		}
	}
	if !sameSet(strings.Fields(env["GEOIPUPDATE_EDITION_IDS"]), []string{"GeoLite2-Country", "GeoLite2-ASN"}) {
		t.Errorf("GEOIPUPDATE_EDITION_IDS %q", env["GEOIPUPDATE_EDITION_IDS"])
	}
	if !strings.Contains(env["GEOIPUPDATE_LICENSE_KEY"], "REPLACE") {
		t.Errorf("the example licence key must be an obvious placeholder, got %q", env["GEOIPUPDATE_LICENSE_KEY"])
	}
}

func readEnvFile(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=value", file, line)
		}
		env[k] = strings.Trim(v, `"`)
	}
	return env
}

type promConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName string `yaml:"job_name"`
	} `yaml:"scrape_configs"`
	Alerting struct {
		Alertmanagers []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
}

// TestComposePrometheusConfig checks the compose Prometheus configuration
// against the compose file (rules where they are mounted, Alertmanager by
// its service name, the job name the alerts expect), then with promtool,
// on a copy whose rule_files point at the repository's rule files so that
// promtool checks them in place.
func TestComposePrometheusConfig(t *testing.T) {
	file := filepath.Join(composeDir, "prometheus.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var pc promConfig
	if err := yaml.Unmarshal(data, &pc); err != nil {
		t.Fatal(err)
	}
	c := loadCompose(t)
	for target := range mountsOf(t, c.Services["prometheus"]) {
		if !strings.HasPrefix(target, "/etc/prometheus/rules/") {
			continue
		}
		matched := false
		for _, g := range pc.RuleFiles {
			if ok, _ := path.Match(g, target); ok {
				matched = true
			}
		}
		if !matched {
			t.Errorf("rule file mounted at %s is not loaded by rule_files %v", target, pc.RuleFiles)
		}
	}
	jobs := map[string]bool{}
	for _, sc := range pc.ScrapeConfigs {
		jobs[sc.JobName] = true
	}
	if !jobs["jurismon"] {
		t.Error(`no scrape job "jurismon" (the agent alerts match job="jurismon")`)
	}
	for _, am := range pc.Alerting.Alertmanagers {
		for _, sc := range am.StaticConfigs {
			for _, tg := range sc.Targets {
				host, _, _ := strings.Cut(tg, ":")
				if _, ok := c.Services[host]; !ok {
					t.Errorf("alertmanager target %q is not a compose service", tg)
				}
			}
		}
	}

	promtool := lookPathOrSkip(t, "promtool", "apt-get install prometheus")
	abs, err := filepath.Abs("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	rewritten := strings.Replace(string(data), "/etc/prometheus/rules/*.yml", filepath.Join(abs, "*.yml"), 1)
	if rewritten == string(data) {
		t.Fatal("rule_files glob not found to rewrite")
	}
	tmp := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(tmp, []byte(rewritten), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, ".", promtool, "check", "config", tmp)
	if !strings.Contains(out, "SUCCESS: 2 rule files found") {
		t.Errorf("promtool did not load both rule files:\n%s", out)
	}
}

func TestComposeAlertmanagerConfig(t *testing.T) {
	file := filepath.Join(composeDir, "alertmanager.yml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Alert names in matchers must exist: a renamed alert would silently
	// escape its routing or inhibition.
	known := map[string]bool{}
	for _, r := range alertRules(t) {
		known[r.Alert] = true
	}
	for _, name := range regexp.MustCompile(`Jurismon\w+`).FindAllString(string(data), -1) {
		if !known[name] {
			t.Errorf("%s names unknown alert %s", file, name)
		}
	}
	amtool := lookPathOrSkip(t, "amtool", "apt-get install prometheus-alertmanager")
	runTool(t, ".", amtool, "check-config", file)
}

func TestGrafanaProvisioning(t *testing.T) {
	prov := filepath.Join(composeDir, "grafana", "provisioning")
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string         `yaml:"name"`
			UID       string         `yaml:"uid"`
			Type      string         `yaml:"type"`
			Access    string         `yaml:"access"`
			URL       string         `yaml:"url"`
			IsDefault bool           `yaml:"isDefault"`
			Editable  bool           `yaml:"editable"`
			JSONData  map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := readYAMLStrict(filepath.Join(prov, "datasources", "prometheus.yml"), &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources: %+v", ds)
	}
	d := ds.Datasources[0]
	c := loadCompose(t)
	host := strings.TrimPrefix(d.URL, "http://")
	host, _, _ = strings.Cut(host, ":")
	if d.Type != "prometheus" || !d.IsDefault || c.Services[host].Image == "" {
		t.Errorf("datasource %+v: want the default, of type prometheus, on a compose service", d)
	}

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := readYAMLStrict(filepath.Join(prov, "dashboards", "jurismon.yml"), &dp); err != nil {
		t.Fatal(err)
	}
	if dp.APIVersion != 1 || len(dp.Providers) != 1 || dp.Providers[0].Type != "file" {
		t.Fatalf("dashboard providers: %+v", dp)
	}
	gm := mountsOf(t, c.Services["grafana"])
	found := false
	for target, m := range gm {
		if path.Dir(target) == dp.Providers[0].Options.Path && strings.HasSuffix(m.Source, "jurismon.json") {
			found = true
		}
	}
	if !found {
		t.Errorf("no dashboard mounted in the provider's path %s", dp.Providers[0].Options.Path)
	}
	if gm["/etc/grafana/provisioning"].Source != "./grafana/provisioning" {
		t.Error("grafana does not mount the provisioning directory")
	}
}

// ---------------------------------------------------------------------------
// Kubernetes

type kustomization struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Namespace  string `yaml:"namespace"`
	Labels     []struct {
		Pairs            map[string]string `yaml:"pairs"`
		IncludeSelectors bool              `yaml:"includeSelectors"`
	} `yaml:"labels"`
	Resources []string `yaml:"resources"`
	Images    []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	} `yaml:"images"`
	ConfigMapGenerator []struct {
		Name    string   `yaml:"name"`
		Files   []string `yaml:"files"`
		Options struct {
			DisableNameSuffixHash bool              `yaml:"disableNameSuffixHash"`
			Labels                map[string]string `yaml:"labels"`
		} `yaml:"options"`
	} `yaml:"configMapGenerator"`
}

func loadKustomization(t *testing.T) kustomization {
	t.Helper()
	var k kustomization
	if err := readYAMLStrict(filepath.Join(kubernetesDir, "kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKustomizationListsEveryFile: every manifest in the directory is a
// resource (the example Secret excepted, on purpose), every resource and
// generator file exists, and nothing else lies around unused.
func TestKustomizationListsEveryFile(t *testing.T) {
	k := loadKustomization(t)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization header %q %q", k.APIVersion, k.Kind)
	}
	used := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		used[r] = true
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			_, src, ok := strings.Cut(f, "=")
			if !ok {
				src = f
			}
			used[src] = true
		}
	}
	for f := range used {
		if _, err := os.Stat(filepath.Join(kubernetesDir, f)); err != nil {
			t.Errorf("listed but missing: %v", err)
		}
	}
	entries, err := os.ReadDir(kubernetesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || used[e.Name()] || strings.HasSuffix(e.Name(), ".example.yaml") {
			continue
		}
		t.Errorf("%s is in %s but not in kustomization.yaml", e.Name(), kubernetesDir)
	}
}

// decodeManifest decodes one Kubernetes object strictly (unknown fields are
// errors) into its typed API struct.
func decodeManifest(doc []byte) (any, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := sigsyaml.Unmarshal(doc, &head); err != nil {
		return nil, err
	}
	var obj any
	switch head.APIVersion + "/" + head.Kind {
	case "v1/Namespace":
		obj = &corev1.Namespace{}
	case "v1/ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "v1/Service":
		obj = &corev1.Service{}
	case "v1/Secret":
		obj = &corev1.Secret{}
	case "v1/ConfigMap":
		obj = &corev1.ConfigMap{}
	case "apps/v1/DaemonSet":
		obj = &appsv1.DaemonSet{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		obj = &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		obj = &monitoringv1.PrometheusRule{}
	default:
		return nil, fmt.Errorf("no type known for %s %s", head.APIVersion, head.Kind)
	}
	if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", head.Kind, err)
	}
	return obj, nil
}

func splitYAMLDocs(data []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

type kubeObjects struct {
	daemonSet      *appsv1.DaemonSet
	service        *corev1.Service
	serviceMonitor *monitoringv1.ServiceMonitor
	secret         *corev1.Secret
	configMaps     map[string]*corev1.ConfigMap
}

func collectObjects(t *testing.T, objs []any) kubeObjects {
	t.Helper()
	k := kubeObjects{configMaps: map[string]*corev1.ConfigMap{}}
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.DaemonSet:
			k.daemonSet = v
		case *corev1.Service:
			k.service = v
		case *monitoringv1.ServiceMonitor:
			k.serviceMonitor = v
		case *corev1.Secret:
			k.secret = v
		case *corev1.ConfigMap:
			k.configMaps[v.Name] = v
		}
	}
	if k.daemonSet == nil || k.service == nil || k.serviceMonitor == nil {
		t.Fatal("DaemonSet, Service or ServiceMonitor missing")
	}
	return k
}

func TestKubernetesManifestsStrict(t *testing.T) {
	k := loadKustomization(t)
	files := append(slices.Clone(k.Resources), "geoipupdate-secret.example.yaml")
	var objs []any
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(kubernetesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		docs := splitYAMLDocs(data)
		if len(docs) == 0 {
			t.Errorf("%s: no object", f)
		}
		for _, doc := range docs {
			obj, err := decodeManifest(doc)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			objs = append(objs, obj)
		}
	}
	if t.Failed() {
		return
	}
	ko := collectObjects(t, objs)
	checkWorkload(t, ko, k)
}

// checkWorkload checks what the DaemonSet, Service, ServiceMonitor and
// Secret must agree on, and the agent's privileges.
func checkWorkload(t *testing.T, ko kubeObjects, k kustomization) {
	t.Helper()
	ds := ko.daemonSet
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v dnsPolicy %q, want true and ClusterFirstWithHostNet", spec.HostNetwork, spec.DNSPolicy)
	}
	if psc := spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod must run as a non-root user (runAsNonRoot, runAsUser != 0)")
	}
	selector := ds.Spec.Selector.MatchLabels
	for key, v := range selector {
		if ds.Spec.Template.Labels[key] != v {
			t.Errorf("selector %s=%s does not match the pod template", key, v)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	containers := map[string]corev1.Container{}
	for _, c := range spec.Containers {
		containers[c.Name] = c
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s: must drop ALL capabilities", c.Name)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("container %s: no %s request", c.Name, r)
			}
			if _, ok := c.Resources.Limits[r]; !ok {
				t.Errorf("container %s: no %s limit", c.Name, r)
			}
		}
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("container %s mounts unknown volume %q", c.Name, m.Name)
			}
		}
	}
	agent, ok := containers["jurismon"]
	if !ok {
		t.Fatal("no jurismon container")
	}
	var add []string
	for _, c := range agent.SecurityContext.Capabilities.Add {
		add = append(add, string(c))
	}
	if !sameSet(add, []string{"NET_RAW", "NET_ADMIN"}) {
		t.Errorf("agent adds capabilities %v, want exactly NET_RAW and NET_ADMIN", add)
	}
	ports := map[string]int32{}
	for _, p := range agent.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["metrics"] != 9746 {
		t.Errorf("agent port metrics = %d, want 9746", ports["metrics"])
	}
	for name, probe := range map[string]*corev1.Probe{"/-/healthy": agent.LivenessProbe, "/-/ready": agent.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port.StrVal != "metrics" {
			t.Errorf("probe on %s missing or not on the metrics port: %+v", name, probe)
		}
	}
	generated := map[string]bool{}
	for _, g := range k.ConfigMapGenerator {
		generated[g.Name] = true
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil && !generated[v.ConfigMap.Name] && ko.configMaps[v.ConfigMap.Name] == nil {
			t.Errorf("volume %s uses ConfigMap %q, which nothing generates", v.Name, v.ConfigMap.Name)
		}
	}

	// The agent and the updater share the GeoIP volume.
	updater, ok := containers["geoipupdate"]
	if !ok {
		t.Fatal("no geoipupdate container")
	}
	mountAt := func(c corev1.Container, dir string) string {
		for _, m := range c.VolumeMounts {
			if m.MountPath == dir {
				return m.Name
			}
		}
		return ""
	}
	if v := mountAt(agent, "/usr/share/GeoIP"); v == "" || v != mountAt(updater, "/usr/share/GeoIP") {
		t.Error("jurismon and geoipupdate must mount the same volume at /usr/share/GeoIP")
	}
	// Its credentials come from the Secret whose example ships with the base.
	env := map[string]corev1.EnvVar{}
	for _, e := range updater.Env {
		env[e.Name] = e
	}
	for _, name := range []string{"GEOIPUPDATE_ACCOUNT_ID", "GEOIPUPDATE_LICENSE_KEY"} {
		ref := env[name].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil {
			t.Errorf("%s must come from a Secret", name)
			continue
		}
		if ko.secret != nil && (ref.SecretKeyRef.Name != ko.secret.Name || ko.secret.StringData[ref.SecretKeyRef.Key] == "") {
			t.Errorf("%s refers to %s/%s, which the example Secret lacks", name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
		}
	}
	if !sameSet(strings.Fields(env["GEOIPUPDATE_EDITION_IDS"].Value), []string{"GeoLite2-Country", "GeoLite2-ASN"}) {
		t.Errorf("GEOIPUPDATE_EDITION_IDS %q", env["GEOIPUPDATE_EDITION_IDS"].Value)
	}

	// Service selects the pods; the ServiceMonitor selects the Service
	// and scrapes a port it has.
	for key, v := range ko.service.Spec.Selector {
		if ds.Spec.Template.Labels[key] != v {
			t.Errorf("Service selector %s=%s does not match the pods", key, v)
		}
	}
	svcPorts := map[string]bool{}
	for _, p := range ko.service.Spec.Ports {
		svcPorts[p.Name] = true
		if p.TargetPort != intstr.FromString("metrics") {
			t.Errorf("Service port %s targets %v, want the metrics port", p.Name, p.TargetPort)
		}
	}
	for key, v := range ko.serviceMonitor.Spec.Selector.MatchLabels {
		if ko.service.Labels[key] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not match the Service", key, v)
		}
	}
	for _, ep := range ko.serviceMonitor.Spec.Endpoints {
		if !svcPorts[ep.Port] || ep.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %s %s: want a Service port and /metrics", ep.Port, ep.Path)
		}
	}
	// The alerts match job="jurismon", which the operator takes from the
	// Service's name.
	if ko.service.Name != "jurismon" {
		t.Errorf("Service %q: the job label would not be jurismon", ko.service.Name)
	}
}

// TestKubernetesCopiesInSync: kustomize only reads files under the base's
// directory, so the policy and the dashboard are copies; they must not
// drift from their sources.
func TestKubernetesCopiesInSync(t *testing.T) {
	for copyName, src := range map[string]string{"policy.yml": policyExample, "jurismon.json": dashboardFile} {
		dst := filepath.Join(kubernetesDir, copyName)
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(dst, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s; run go test -run TestKubernetesCopiesInSync -update", dst, src)
		}
	}
}

// TestKubectlKustomize builds the base with kustomize (kubectl's built-in
// copy) and decodes every object of the output strictly: generated
// ConfigMaps, namespace and labels included.
func TestKubectlKustomize(t *testing.T) {
	kubectl := lookPathOrSkip(t, "kubectl", "kubectl, from the Kubernetes project's packages")
	out := runTool(t, ".", kubectl, "kustomize", kubernetesDir)
	var objs []any
	for _, doc := range splitYAMLDocs([]byte(out)) {
		obj, err := decodeManifest(doc)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj)
	}
	k := loadKustomization(t)
	ko := collectObjects(t, objs)
	checkWorkload(t, ko, k)
	if ko.daemonSet.Namespace != "jurismon" {
		t.Errorf("DaemonSet namespace %q", ko.daemonSet.Namespace)
	}
	dash := ko.configMaps["jurismon-grafana-dashboard"]
	if dash == nil || dash.Labels["grafana_dashboard"] != "1" || dash.Data["jurismon.json"] == "" {
		t.Error("no dashboard ConfigMap labelled grafana_dashboard=1 with jurismon.json")
	}
	// The policy ConfigMap gets a content hash in its name, and the
	// DaemonSet must refer to that name.
	var policyRef string
	for _, v := range ko.daemonSet.Spec.Template.Spec.Volumes {
		if v.Name == "policy" && v.ConfigMap != nil {
			policyRef = v.ConfigMap.Name
		}
	}
	if cm := ko.configMaps[policyRef]; cm == nil || !strings.HasPrefix(policyRef, "jurismon-policy-") || cm.Data["policy.yml"] == "" {
		t.Errorf("DaemonSet refers to policy ConfigMap %q, which the build does not hold", policyRef)
	}
}

// ---------------------------------------------------------------------------
// systemd

// parseUnit reads a systemd unit into section -> key -> values (a key may
// repeat).
func parseUnit(data string) (map[string]map[string][]string, error) {
	out := map[string]map[string][]string{}
	section := ""
	for n, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is not key=value in a section", n+1, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out, nil
}

func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(data))
	if err != nil {
		t.Fatal(err)
	}
	svc := u["Service"]
	want := map[string]string{
		"AmbientCapabilities":     "CAP_NET_RAW CAP_NET_ADMIN",
		"CapabilityBoundingSet":   "CAP_NET_RAW CAP_NET_ADMIN",
		"DynamicUser":             "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"PrivateTmp":              "yes",
		"RestrictAddressFamilies": "AF_PACKET AF_INET AF_INET6 AF_NETLINK AF_UNIX",
		"StateDirectory":          "jurismon",
		"LogsDirectory":           "jurismon",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"EnvironmentFile":         "-/etc/default/jurismon",
	}
	for k, v := range want {
		if got := svc[k]; len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if exec := svc["ExecStart"]; len(exec) != 1 || !strings.Contains(exec[0], "jurismon run $JURISMON_ARGS") {
		t.Errorf("ExecStart %q, want jurismon run $JURISMON_ARGS", exec)
	}
	if u["Install"]["WantedBy"] == nil {
		t.Error("no [Install] WantedBy")
	}
	env := readEnvFile(t, systemdEnv)
	if !strings.Contains(env["JURISMON_ARGS"], "--config=") {
		t.Errorf("%s: JURISMON_ARGS %q should show --config", systemdEnv, env["JURISMON_ARGS"])
	}
}

// TestSystemdAnalyzeVerify runs systemd's own checker. verify insists that
// ExecStart's binary exists, and no jurismon binary is installed here, so
// it checks a temporary copy of the unit whose ExecStart runs /bin/true;
// every other line is checked as shipped.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze := lookPathOrSkip(t, "systemd-analyze", "apt-get install systemd")
	data, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	stubbed := regexp.MustCompile(`(?m)^ExecStart=.*$`).ReplaceAllString(string(data), "ExecStart=/bin/true $JURISMON_ARGS")
	tmp := filepath.Join(t.TempDir(), "jurismon.service")
	if err := os.WriteFile(tmp, []byte(stubbed), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", tmp)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// ---------------------------------------------------------------------------
// Documentation

// TestReadmesDescribeEverything: deploy/README.md names every alert and
// every dashboard row, and grafana/README.md every row.
func TestReadmesDescribeEverything(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	grafana, err := os.ReadFile("grafana/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range alertRules(t) {
		if !bytes.Contains(readme, []byte(r.Alert)) {
			t.Errorf("README.md does not describe alert %s", r.Alert)
		}
	}
	for _, row := range wantRows {
		for name, doc := range map[string][]byte{"README.md": readme, "grafana/README.md": grafana} {
			if !bytes.Contains(doc, []byte(row)) {
				t.Errorf("%s does not describe the %q row", name, row)
			}
		}
	}
	// Relative links must lead somewhere.
	link := regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`)
	for name, doc := range map[string][]byte{"README.md": readme, "grafana/README.md": grafana, runbookFile: nil} {
		if doc == nil {
			doc, _ = os.ReadFile(name)
		}
		for _, m := range link.FindAllStringSubmatch(string(doc), -1) {
			target := filepath.Join(filepath.Dir(name), m[1])
			if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s links to missing %s", name, m[1])
			}
		}
	}
}
