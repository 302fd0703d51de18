package policy

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/enrich"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the current messages (review the diff)")

// TestBadFiles loads each testdata/bad/*.yml and compares the whole error
// with the .err file beside it.
func TestBadFiles(t *testing.T) {
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, e := range entries {
		name := e.Name()
		if base, ok := strings.CutSuffix(name, ".err"); ok {
			if _, err := os.Stat(filepath.Join("testdata/bad", base+".yml")); err != nil {
				t.Errorf("%s has no .yml beside it", name)
			}
			continue
		}
		base, ok := strings.CutSuffix(name, ".yml")
		if !ok {
			t.Errorf("unexpected file testdata/bad/%s", name)
			continue
		}
		cases++
		t.Run(base, func(t *testing.T) {
			path := filepath.Join("testdata/bad", name)
			p, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %v, want an error", path, p)
			}
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Errorf("Load(%s) error is a %T, want *policy.Error", path, err)
			}
			errPath := filepath.Join("testdata/bad", base+".err")
			if *update {
				if err := os.WriteFile(errPath, []byte(err.Error()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(errPath)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if got := err.Error(); got != strings.TrimSuffix(string(want), "\n") {
				t.Errorf("Load(%s) error:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
	if cases == 0 {
		t.Fatal("no cases in testdata/bad")
	}
}

// TestGoodFiles loads each testdata/good/*.yml; the table says what each
// must contain, and every file in the folder must be in the table.
func TestGoodFiles(t *testing.T) {
	want := map[string]struct {
		jurisdictions []string
		local         []string
	}{
		"null-sections.yml": {},
		"norway.yml":        {jurisdictions: []string{"nordic"}},
		"anchors.yml":       {jurisdictions: []string{"hosting", "hosting-again"}},
		"full.yml": {
			jurisdictions: []string{"sanctioned", "five_eyes", "telcos"},
			local:         []string{"10.20.0.0/16", "2001:db8:100::/48", "198.51.100.0/24"},
		},
	}
	entries, err := os.ReadDir("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		w, ok := want[e.Name()]
		if !ok {
			t.Errorf("testdata/good/%s is not in the table", e.Name())
			continue
		}
		delete(want, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			path := filepath.Join("testdata/good", e.Name())
			p, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Jurisdictions(); !slices.Equal(got, w.jurisdictions) && len(got)+len(w.jurisdictions) > 0 {
				t.Errorf("Jurisdictions() = %q, want %q", got, w.jurisdictions)
			}
			var local []string
			for _, n := range p.LocalNetworks() {
				local = append(local, n.String())
			}
			if !slices.Equal(local, w.local) {
				t.Errorf("LocalNetworks() = %q, want %q", local, w.local)
			}
		})
	}
	for name := range want {
		t.Errorf("testdata/good/%s is missing", name)
	}
}

func TestExampleParses(t *testing.T) {
	p, err := Load("../deploy/config/example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Jurisdictions()) == 0 {
		t.Error("the example defines no jurisdictions")
	}
	if len(p.LocalNetworks()) == 0 {
		t.Error("the example defines no local_networks")
	}
	if len(p.exceptCIDR) == 0 || len(p.exceptASN) == 0 {
		t.Errorf("the example should show both kinds of exception, has %d by CIDR and %d by ASN", len(p.exceptCIDR), len(p.exceptASN))
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "testdata/does-not-exist.yml") {
		t.Errorf("error %q does not name the file", err)
	}
}

// TestParseEmptyRefused: a file without content is refused (it would turn
// all flagging off, and a reload racing a non-atomic copy reads one), while
// an explicit empty policy flags nothing; Empty() is that one.
func TestParseEmptyRefused(t *testing.T) {
	for _, data := range []string{"", "\n", "# nothing\n", "---\n", "~\n", "  \n# a\n\n"} {
		p, err := Parse([]byte(data))
		if err == nil || err.Error() != errEmptyPolicy {
			t.Errorf("Parse(%q) = %v, %v; want the empty-policy error", data, p, err)
		}
	}
	for _, data := range []string{"jurisdictions: []\n", "{}\n", "jurisdictions:\nlocal_networks:\n"} {
		p, err := Parse([]byte(data))
		if err != nil {
			t.Errorf("Parse(%q): %v", data, err)
			continue
		}
		if len(p.Jurisdictions()) != 0 || len(p.LocalNetworks()) != 0 {
			t.Errorf("Parse(%q) is not empty: %v %v", data, p.Jurisdictions(), p.LocalNetworks())
		}
	}
	if len(Empty().Jurisdictions()) != 0 || Empty().Checksum() != mustParse(t, "jurisdictions: []\n").Checksum() {
		t.Error("Empty() is not the policy of \"jurisdictions: []\"")
	}
}

func TestChecksum(t *testing.T) {
	a := "jurisdictions: [{name: a, countries: [RU]}]\n"
	b := "jurisdictions: [{name: a, countries: [RU]}] # changed\n"
	first, again := mustParse(t, a), mustParse(t, a)
	if first.Checksum() != again.Checksum() {
		t.Error("the same file has two checksums")
	}
	if mustParse(t, a).Checksum() == mustParse(t, b).Checksum() {
		t.Error("different files have the same checksum")
	}
}

func TestCountryList(t *testing.T) {
	codes := strings.Fields(isoCountries)
	// 249 officially assigned ISO 3166-1 alpha-2 codes, plus XK.
	if len(codes) != 250 {
		t.Errorf("isoCountries has %d codes, want 250", len(codes))
	}
	if !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Error("isoCountries is not sorted or has duplicates")
	}
	for code := range misnamedCountries {
		if isCountry(code) {
			t.Errorf("misnamed code %s is in the ISO list", code)
		}
	}
	for _, c := range []string{"", "G", "GBR", "gb", "ZZ", "unknown", "A1"} {
		if isCountry(c) {
			t.Errorf("isCountry(%q) = true", c)
		}
	}
	// tzdata's iso3166.tab lists the officially assigned codes; compare
	// where the machine has it.
	if tab, err := os.ReadFile("/usr/share/zoneinfo/iso3166.tab"); err == nil {
		var tz []string
		for line := range strings.Lines(string(tab)) {
			if code, _, ok := strings.Cut(line, "\t"); ok && !strings.HasPrefix(code, "#") {
				tz = append(tz, code)
			}
		}
		ours := slices.DeleteFunc(slices.Clone(codes), func(c string) bool { return c == "XK" })
		slices.Sort(tz)
		if !slices.Equal(ours, tz) {
			t.Errorf("isoCountries differs from iso3166.tab:\nours %v\ntz   %v", ours, tz)
		}
	}
}

func TestGroups(t *testing.T) {
	sizes := map[string]int{"eu": 27, "eea": 30, "efta": 4, "five_eyes": 5, "nine_eyes": 9, "fourteen_eyes": 14}
	if got := Groups(); !slices.Equal(got, []string{"eea", "efta", "eu", "five_eyes", "fourteen_eyes", "nine_eyes"}) {
		t.Errorf("Groups() = %v", got)
	}
	for name, n := range sizes {
		members, ok := GroupMembers("@" + name)
		if !ok || len(members) != n {
			t.Errorf("group %s has %d members, want %d", name, len(members), n)
		}
		for _, c := range members {
			if !isCountry(c) {
				t.Errorf("group %s: %s is not a country code", name, c)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(members)))) != n {
			t.Errorf("group %s has duplicates", name)
		}
	}
	subset := func(small, big string) {
		s, _ := GroupMembers(small)
		b, _ := GroupMembers(big)
		for _, c := range s {
			if !slices.Contains(b, c) {
				t.Errorf("%s is in %s but not in %s", c, small, big)
			}
		}
	}
	subset("eu", "eea")
	subset("five_eyes", "nine_eyes")
	subset("nine_eyes", "fourteen_eyes")
	if m, _ := GroupMembers("eu"); slices.Contains(m, "GB") {
		t.Error("GB is in @eu")
	}
	// GroupMembers returns a copy: changing it must not change the policy.
	m, _ := GroupMembers("five_eyes")
	m[0] = "RU"
	if m2, _ := GroupMembers("five_eyes"); slices.Contains(m2, "RU") {
		t.Error("GroupMembers exposes the group's storage")
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"contries", "countries", 1}, {"asn", "asns", 1}, {"abc", "", 3}, {"kitten", "sitting", 3}} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func mustParse(t testing.TB, data string) *Policy {
	t.Helper()
	p, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse:\n%s\n%v", data, err)
	}
	return p
}

// FuzzParse checks that no input makes Parse panic, and that a policy that
// parses can evaluate any address.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".yml") {
				data, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(data)
			}
		}
	}
	f.Add([]byte(tunnelPolicy))
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::1"), {}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned both a policy and an error")
			}
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("error %v is a %T, want *Error", err, err)
			}
			if e.recovered {
				t.Fatalf("Parse panicked: %v", err)
			}
			return
		}
		for _, loc := range testLocations {
			for _, a := range addrs {
				v := evaluate(p, a, &loc)
				if v.Flagged() && !slices.Contains(p.Jurisdictions(), v.Jurisdiction) {
					t.Fatalf("verdict %+v names an unknown jurisdiction", v)
				}
				if v.Flagged() != (v.MatchedBy != MatchedNone) {
					t.Fatalf("verdict %+v: flagged and MatchedBy disagree", v)
				}
				ft := enrich.At(a, &loc)
				ft.Tunnel.Protocol = "wireguard"
				if tv := p.EvaluateTunnel(&ft); tv.Jurisdiction != "" && !slices.Contains(p.TunnelJurisdictions(), tv.Jurisdiction) ||
					tv.Flagged() && tv.Allowed != "" {
					t.Fatalf("tunnel verdict %+v", tv)
				}
			}
		}
	})
}
