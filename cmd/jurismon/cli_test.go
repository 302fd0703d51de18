package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

func TestStdinArgs(t *testing.T) {
	values := map[string]bool{"--events.file": true, "--format": true, "-i": true}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flag value is stdout", []string{"run", "--events.file", "-"}, []string{"run", "--events.file=-"}},
		{"joined flag value", []string{"run", "--events.file=-"}, []string{"run", "--events.file=-"}},
		{"short flag value", []string{"run", "-i", "-"}, []string{"run", "-i-"}},
		{"file argument is stdin", []string{"analyze", "-"}, []string{"analyze", "/dev/stdin"}},
		{"after a flag's value", []string{"analyze", "--format", "json", "-"}, []string{"analyze", "--format", "json", "/dev/stdin"}},
		{"after a boolean flag", []string{"analyze", "--fail-on-flagged", "-"}, []string{"analyze", "--fail-on-flagged", "/dev/stdin"}},
		{"after --", []string{"analyze", "--", "-"}, []string{"analyze", "--", "/dev/stdin"}},
		{"two in a row", []string{"analyze", "--format", "-", "-"}, []string{"analyze", "--format=-", "/dev/stdin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stdinArgs(tt.in, values); !slices.Equal(got, tt.want) {
				t.Errorf("stdinArgs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The real command line: "-" is standard output for --events.file and
// standard input for analyze's files.
func TestDashMeaning(t *testing.T) {
	c := newCLI(false)
	if _, err := c.parse([]string{"run", "--events.file", "-"}); err != nil {
		t.Fatal(err)
	}
	if c.runCmd.events.Path != "-" {
		t.Errorf("run --events.file -: path %q, want \"-\" (stdout)", c.runCmd.events.Path)
	}
	c = newCLI(false)
	if _, err := c.parse([]string{"analyze", "--format", "json", "-", "b.pcap"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/dev/stdin", "b.pcap"}; !slices.Equal(c.analyze.files, want) {
		t.Errorf("analyze files %q, want %q", c.analyze.files, want)
	}
}

// stdinArgs knows flags by name, whatever the command: a name must not be
// boolean in one command and take a value in another.
func TestValueFlagsUnambiguous(t *testing.T) {
	m := newCLI(false).app.Model()
	kind := map[string]bool{} // name → takes a value
	check := func(where string, fs []*kingpin.FlagModel) {
		for _, f := range fs {
			v := !f.IsBoolFlag()
			if prev, ok := kind[f.Name]; ok && prev != v {
				t.Errorf("%s: --%s is boolean in one command and takes a value in another", where, f.Name)
			}
			kind[f.Name] = v
		}
	}
	check("jurismon", m.Flags)
	for _, c := range m.Commands {
		check(c.Name, c.Flags)
	}
}

func TestLookupNotAnAddress(t *testing.T) {
	_, errOut, code := jurismon(t, "lookup", "notanip")
	if code != exitUsage {
		t.Errorf("exit code %d, want %d (usage)", code, exitUsage)
	}
	if !strings.Contains(errOut, `"notanip" is not an IP address`) {
		t.Errorf("stderr %q does not say what is wrong", errOut)
	}
}

// The man page's .TH line holds the version as one quoted word; the
// multi-line --version text would spill into the page as junk.
func TestManPage(t *testing.T) {
	out, errOut, code := jurismon(t, "--help-man")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, ".TH ") })
	if i < 0 {
		t.Fatalf("no .TH line in\n%s", out)
	}
	if th := lines[i]; strings.Count(th, `"`)%2 != 0 || strings.Contains(th, "build user") {
		t.Errorf(".TH line %q", th)
	}
	if next := lines[i+1]; !strings.HasPrefix(next, ".") {
		t.Errorf("the line after .TH is %q: the version spilled out of it", next)
	}
	if out, errOut, _ := jurismon(t, "--version"); !strings.Contains(out+errOut, "go version") {
		t.Errorf("--version lost its build details: %q", out+errOut)
	}
}
