package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

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
