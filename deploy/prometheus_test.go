package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"
)

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
