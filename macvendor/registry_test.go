package macvendor

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small registry in the IEEE format: one block of each size, an MA-S
// block inside the MA-L assignment 70B3D5 (as the IEEE really does), a
// quoted name with a comma, an address spread over two lines inside quotes,
// and lines that must be counted as malformed, not fatal.
const header = "Registry,Assignment,Organization Name,Organization Address\n"

var testFiles = map[string]string{
	"oui.csv": header +
		"MA-L,F4BD9E,\"Cisco Systems, Inc\",80 West Tasman Drive San Jose CA US 94568 \n" +
		"MA-L,30FBB8,\"HUAWEI TECHNOLOGIES CO.,LTD\",\"No.2 Xin Cheng Road, Room R6,Songshan Lake Technology Park Dongguan  CN 523808 \"\n" +
		"MA-L,70B3D5,IEEE Registration Authority,445 Hoes Lane Piscataway NJ US 08554 \n" +
		"MA-L,405582,Nokia,600 March Road Kanata Ontario CA K2K 2E6 \n" +
		"MA-L,ZZZZZZ,Bad Hex,Nowhere  US 1\n" + // malformed: not hex
		"MA-L,12345,Short,Nowhere  US 1\n" + // malformed: wrong length
		"XX-Y,123456,Unknown registry,Nowhere  US 1\n" + // malformed: registry
		"MA-L,ABCDEF\n", // malformed: too few fields
	"mam.csv": header +
		"MA-M,F4BD9E1,Inner Vendor GmbH,\"Strasse 1\nBerlin  DE 10115 \"\n" +
		"MA-M,741AE09,Private,\n",
	"oui36.csv": header +
		"MA-S,70B3D5F2F,TELEPLATFORMS,\"Polbina st., 3/1 Moscow  RU 109388 \"\n",
	"iab.csv": header +
		"IAB,0050C27D5,DEUTA-WERKE GmbH,Paffrather Strasse 140 Bergisch-Gladbach NRW DE 51465 \n",
}

func writeRegistry(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mac(t *testing.T, s string) [6]byte {
	t.Helper()
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		t.Fatalf("bad MAC %q: %v", s, err)
	}
	return [6]byte(hw)
}

func TestLookup(t *testing.T) {
	r, err := Load(writeRegistry(t, testFiles))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mac  string
		want Vendor
		ok   bool
	}{
		{"f4:bd:9e:00:11:22", Vendor{Name: "Cisco Systems, Inc", Country: "US", Registry: "MA-L", Prefix: "F4BD9E"}, true},
		// MA-M inside the MA-L: the longer prefix wins; the address spans two lines.
		{"f4:bd:9e:1a:bc:de", Vendor{Name: "Inner Vendor GmbH", Country: "DE", Registry: "MA-M", Prefix: "F4BD9E1"}, true},
		{"30:fb:b8:01:02:03", Vendor{Name: "HUAWEI TECHNOLOGIES CO.,LTD", Country: "CN", Registry: "MA-L", Prefix: "30FBB8"}, true},
		// The postal code comes after the country, in two tokens.
		{"40:55:82:00:00:01", Vendor{Name: "Nokia", Country: "CA", Registry: "MA-L", Prefix: "405582"}, true},
		// MA-S inside the IEEE's own MA-L.
		{"70:b3:d5:f2:f1:23", Vendor{Name: "TELEPLATFORMS", Country: "RU", Registry: "MA-S", Prefix: "70B3D5F2F"}, true},
		{"70:b3:d5:00:00:01", Vendor{Name: "IEEE Registration Authority", Country: "US", Registry: "MA-L", Prefix: "70B3D5"}, true},
		{"00:50:c2:7d:51:00", Vendor{Name: "DEUTA-WERKE GmbH", Country: "DE", Registry: "IAB", Prefix: "0050C27D5"}, true},
		// A registrant that asked to be listed as "Private", with no address.
		{"74:1a:e0:90:00:01", Vendor{Name: "Private", Registry: "MA-M", Prefix: "741AE09"}, true},
		// Not registered: a device of an unknown vendor.
		{"00:00:5e:00:53:01", Vendor{}, true},
		// Locally administered (randomised): private, not unknown.
		{"da:a1:19:00:00:01", Vendor{Private: true}, true},
		{"02:42:ac:11:00:02", Vendor{Private: true}, true},
		// Group addresses are never devices.
		{"01:00:5e:00:00:fb", Vendor{}, false},
		{"33:33:00:00:00:01", Vendor{}, false},
		{"ff:ff:ff:ff:ff:ff", Vendor{}, false},
		{"00:00:00:00:00:00", Vendor{}, false},
	} {
		got, ok := r.Lookup(mac(t, tc.mac))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v, %v", tc.mac, got, ok, tc.want, tc.ok)
		}
	}
	byName := map[string]FileInfo{}
	for _, f := range r.Files() {
		byName[filepath.Base(f.Path)] = f
	}
	for name, want := range map[string][2]int{"oui.csv": {4, 4}, "mam.csv": {2, 0}, "oui36.csv": {1, 0}, "iab.csv": {1, 0}} {
		f := byName[name]
		if f.Entries != want[0] || f.Malformed != want[1] {
			t.Errorf("%s: %d entries, %d malformed; want %d, %d", name, f.Entries, f.Malformed, want[0], want[1])
		}
		if f.ModTime.IsZero() {
			t.Errorf("%s: no modification time", name)
		}
	}
	if r.Len() != 8 {
		t.Errorf("Len = %d, want 8", r.Len())
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNoRegistry) {
		t.Errorf("empty directory: %v, want ErrNoRegistry", err)
	}
	dir := writeRegistry(t, map[string]string{"oui.csv": "<html>not a registry</html>\n"})
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "not an IEEE registry CSV file") || !strings.Contains(err.Error(), "oui.csv") {
		t.Errorf("bad header: %v", err)
	}
	dir = writeRegistry(t, map[string]string{"oui.csv": ""})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "empty file") {
		t.Errorf("empty file: %v", err)
	}
	// A file whose one line never ends is one malformed record.
	dir = writeRegistry(t, map[string]string{"oui.csv": header + strings.Repeat("x", 1<<20)})
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Files()[0]; f.Malformed != 1 || f.Entries != 0 {
		t.Errorf("long line: %+v", f)
	}
}

func TestFromEUI64(t *testing.T) {
	for _, tc := range []struct {
		addr string
		mac  string // "" when no MAC is embedded
	}{
		// fe80::f6bd:9eff:fe00:1122 carries f4:bd:9e:00:11:22 (U/L bit inverted).
		{"fe80::f6bd:9eff:fe00:1122", "f4:bd:9e:00:11:22"},
		{"2001:db8::32fb:b8ff:fe01:203", "30:fb:b8:01:02:03"},
		// A locally administered MAC gives an identifier without the U/L bit.
		{"2001:db8::d8a1:19ff:fe00:1", "da:a1:19:00:00:01"},
		{"2001:db8::1", ""},                   // no ff:fe
		{"2001:db8::a1b2:c3d4:e5f6:789", ""},  // privacy address
		{"192.0.2.1", ""},                     // IPv4
		{"::ffff:192.0.2.1", ""},              // IPv4-mapped
		{"2001:db8::0300:00ff:fe00:0000", ""}, // a group MAC is no device
		{"2001:db8::0200:00ff:fe00:0000", ""}, // all-zero MAC
	} {
		got, ok := FromEUI64(netip.MustParseAddr(tc.addr))
		if tc.mac == "" {
			if ok {
				t.Errorf("FromEUI64(%s) = %x, want none", tc.addr, got)
			}
			continue
		}
		if !ok || got != mac(t, tc.mac) {
			t.Errorf("FromEUI64(%s) = %x, %v; want %s", tc.addr, got, ok, tc.mac)
		}
	}
}

// TestDebianRegistry reads the real IEEE files of Debian's ieee-data
// package (installed by .ci/run) and looks up assignments that are stable
// across its releases.
func TestDebianRegistry(t *testing.T) {
	if _, err := os.Stat(filepath.Join(DefaultDir, "oui.csv")); err != nil {
		t.Skipf("Debian's ieee-data is not installed (%v): apt-get install ieee-data", err)
	}
	r, err := Load(DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Files()) != 4 {
		t.Errorf("files in use: %+v, want the four registries", r.Files())
	}
	total, malformed := 0, 0
	for _, f := range r.Files() {
		total += f.Entries
		malformed += f.Malformed
	}
	// ieee-data 20220827 lists about 46,000 assignments; every line parses.
	if total < 40000 {
		t.Errorf("only %d assignments read", total)
	}
	if malformed > total/1000 {
		t.Errorf("%d of %d lines malformed", malformed, total)
	}
	for _, tc := range []struct{ mac, name, country string }{
		{"00:00:0c:00:00:01", "Cisco Systems, Inc", "US"},
		{"00:e0:fc:00:00:01", "HUAWEI TECHNOLOGIES CO.,LTD", "CN"},
		{"00:50:c2:7d:50:00", "DEUTA-WERKE GmbH", "DE"}, // IAB
	} {
		v, ok := r.Lookup(mac(t, tc.mac))
		if !ok || v.Name != tc.name || v.Country != tc.country {
			t.Errorf("Lookup(%s) = %+v, want %s in %s", tc.mac, v, tc.name, tc.country)
		}
	}
	withCountry := 0
	for i := range r.orgs {
		if r.orgs[i].country != "" {
			withCountry++
		}
	}
	// "Private" listings have no address; nearly all others name a country.
	if withCountry < len(r.orgs)*9/10 {
		t.Errorf("only %d of %d assignments have a country", withCountry, len(r.orgs))
	}
}

func FuzzParse(f *testing.F) {
	for _, body := range testFiles {
		f.Add([]byte(body))
	}
	f.Add([]byte(header + "MA-L,\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(strings.NewReader(string(data)), "MA-L")
		if err != nil {
			return
		}
		var m [6]byte
		copy(m[:], data)
		m[0] &^= 0x03
		r.Lookup(m)
		fi := r.Files()[0]
		if fi.Entries != r.Len() {
			t.Fatalf("entries %d != Len %d", fi.Entries, r.Len())
		}
	})
}
