package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

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
