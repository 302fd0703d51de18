package deploy

// Tests for everything under deploy/, one file per artefact: the Prometheus
// rules and their unit tests (prometheus_test.go), the Grafana dashboard
// (grafana_test.go), the Dockerfile (docker_test.go), the compose stack
// (compose_test.go), the Kubernetes manifests (kubernetes_test.go) and the
// systemd unit (systemd_test.go); this file holds what they share. Where the real tool is on the
// machine (promtool, amtool, kubectl, systemd-analyze, hadolint) the test
// runs it; where it is not, that test is skipped with the package to install,
// and the checks that need no tool still run.
//
// Generated files (the PrometheusRule and the copies the kustomize base
// needs) are rewritten from their sources with
//
//	go test -run 'TestPrometheusRuleInSync|TestKubernetesCopiesInSync' -update

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
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
	"jurismon_capture_up":                                   {"interface"},
	"jurismon_capture_restarts_total":                       {"interface"},
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
	"jurismon_watched_domain_violations_total":              {"domain", "country"},
	"jurismon_watched_domain_country":                       {"domain", "country"},
	// jurismon collect (issue 15).
	"jurismon_collector_last_datagram_timestamp_seconds": {"exporter"},
	"jurismon_collector_errors_total":                    {"exporter", "reason"},
	"jurismon_collector_received_datagrams_total":        {"worker"},
	"jurismon_collector_dropped_datagrams_total":         {"worker"},
	"jurismon_collector_bytes_total":                     {"exporter"},
	"jurismon_collector_interface_bytes_total":           {"exporter", "interface", "direction"},
}

// ---------------------------------------------------------------------------
// Prometheus rules

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
