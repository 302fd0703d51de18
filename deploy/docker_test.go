package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

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
