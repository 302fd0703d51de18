package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// The runbook relies on the flagged-flow event log: every deployment must
// write it where the runbook reads it.
func TestDeploymentsWriteEvents(t *testing.T) {
	// systemd: a file in the unit's LogsDirectory, writable under
	// ProtectSystem=strict.
	data, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(data))
	if err != nil {
		t.Fatal(err)
	}
	svc := u["Service"]
	const eventsFile = "/var/log/jurismon/events.jsonl"
	if !slices.Contains(svc["Environment"], "JURISMON_EVENTS_FILE="+eventsFile) {
		t.Errorf("[Service] Environment %q: want JURISMON_EVENTS_FILE=%s", svc["Environment"], eventsFile)
	}
	if logs := svc["LogsDirectory"]; len(logs) != 1 || filepath.Join("/var/log", logs[0]) != filepath.Dir(eventsFile) {
		t.Errorf("LogsDirectory %q does not make %s writable", logs, filepath.Dir(eventsFile))
	}
	// The environment file comes after Environment= and may override it.
	if slices.Index(strings.Split(string(data), "\n"), "Environment=JURISMON_EVENTS_FILE="+eventsFile) > slices.IndexFunc(strings.Split(string(data), "\n"), func(l string) bool { return strings.HasPrefix(l, "EnvironmentFile=") }) {
		t.Error("Environment=JURISMON_EVENTS_FILE must come before EnvironmentFile=")
	}

	// compose: stdout.
	agent := loadCompose(t).Services["jurismon"]
	if !slices.Contains(agent.Command, "--events.file=-") {
		t.Errorf("compose agent command %q: want --events.file=- (events on stdout)", agent.Command)
	}

	// Kubernetes: stdout.
	raw, err := os.ReadFile(filepath.Join(kubernetesDir, "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(raw, &ds); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name == "jurismon" {
			found = true
			if !slices.Contains(c.Args, "--events.file=-") {
				t.Errorf("DaemonSet container args %q: want --events.file=-", c.Args)
			}
		}
	}
	if !found {
		t.Error("no jurismon container in the DaemonSet")
	}
}

// runbookJQ matches the runbook's jq commands that read the event log: on
// the file, or on container logs.
var runbookJQ = regexp.MustCompile("`(?:(docker compose logs [^|`]*|kubectl [^|`]*) \\| )?jq (-c|-cR) '([^']*)'( /var/log/jurismon/events\\.jsonl)?`")

// The runbook's event-log commands, run with jq on what each deployment
// writes: the file holds event lines only; a container's log interleaves the
// agent's logfmt lines (stderr) with the event lines (stdout).
func TestRunbookEventCommands(t *testing.T) {
	jq := lookPathOrSkip(t, "jq", "apt-get install jq")
	data, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	events, err := os.ReadFile("../events/testdata/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// The jurisdiction of the first golden event, and how many share it.
	jur := regexp.MustCompile(`"jurisdiction":"([^"]+)"`).FindSubmatch(events)[1]
	want := bytes.Count(events, append(append([]byte(`"jurisdiction":"`), jur...), '"'))
	logLines := []byte(`time=2026-01-02T03:04:05Z level=INFO source=run.go:1 msg="jurismon started" version=1` + "\n" +
		`time=2026-01-02T03:04:06Z level=WARN source=live_linux.go:1 msg="capture stopped" interface=eth0` + "\n")
	mixed := append(append(slices.Clone(logLines), events...), logLines...)

	text := regexp.MustCompile(`\n\s*`).ReplaceAllString(string(data), " ")
	kinds := map[string]bool{}
	for _, m := range runbookJQ.FindAllStringSubmatch(text, -1) {
		source, flags, expr, file := m[1], m[2], m[3], m[4]
		expr = strings.ReplaceAll(expr, "JURISDICTION", string(jur))
		var in []byte
		switch {
		case file != "":
			kinds["file"], in = true, events
		case strings.HasPrefix(source, "docker compose"):
			kinds["compose"], in = true, mixed
		case strings.HasPrefix(source, "kubectl"):
			kinds["kubernetes"], in = true, mixed
		default:
			continue // a jq on the HTTP API: tested against a real agent in cmd/jurismon
		}
		cmd := exec.Command(jq, flags, expr)
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", m[0], err, out)
			continue
		}
		if got := bytes.Count(out, []byte("\n")); got != want {
			t.Errorf("%s: %d events out, want %d:\n%s", m[0], got, want, out)
		}
	}
	for _, k := range []string{"file", "compose", "kubernetes"} {
		if !kinds[k] {
			t.Errorf("the runbook has no jq command reading the %s event log", k)
		}
	}
}
