package policy

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
)

const vendorPolicy = `
jurisdictions:
  - name: sanctioned
    countries: [RU]
vendors:
  - name: distrusted
    description: Equipment makers under national-security restrictions
    vendors: ["(?i)huawei", "(?i)\\bzte\\b"]
    exceptions:
      - mac: 00:e0:fc:12:34:56
        reason: lab switch, approved 2026-03
      - prefix: "30:fb:b8"
        reason: access points under the 2025 contract
  - name: made-in-cn
    countries: [CN]
  - name: eyes
    countries: ["@five_eyes"]
`

func device(mac, vendor, country string) enrich.Device {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return enrich.Device{MAC: [6]byte(hw), HasMAC: true, Vendor: vendor, VendorCountry: country}
}

func TestEvaluateDevice(t *testing.T) {
	p := mustParse(t, vendorPolicy)
	ru := &geo.Location{Class: geo.ClassPublic, Country: "RU", RegisteredCountry: "RU", ASN: 64999, ASOrg: "Other"}
	de := &geo.Location{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64998, ASOrg: "Other"}
	private := enrich.Device{MAC: [6]byte{0xda, 0xa1, 0x19, 0, 0, 1}, HasMAC: true, Private: true}
	for _, tc := range []struct {
		name string
		loc  *geo.Location
		dev  enrich.Device
		want Verdict
	}{
		{"vendor name", de, device("00:e0:fc:00:00:01", "HUAWEI TECHNOLOGIES CO.,LTD", "CN"),
			Verdict{Device: "distrusted", DeviceMatchedBy: MatchedVendor}},
		{"word boundary in the expression", de, device("00:00:00:00:00:01", "ZTE Corporation", "CN"),
			Verdict{Device: "distrusted", DeviceMatchedBy: MatchedVendor}},
		{"vendor country, the second rule", de, device("00:00:00:00:00:02", "Xiaomi Communications Co Ltd", "CN"),
			Verdict{Device: "made-in-cn", DeviceMatchedBy: MatchedVendorCountry}},
		{"a country group", de, device("00:00:00:00:00:03", "Nokia", "CA"),
			Verdict{Device: "eyes", DeviceMatchedBy: MatchedVendorCountry}},
		{"both sides flagged", ru, device("00:e0:fc:00:00:01", "HUAWEI TECHNOLOGIES CO.,LTD", "CN"),
			Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedCountry, Device: "distrusted", DeviceMatchedBy: MatchedVendor}},
		{"remote only", ru, device("00:00:00:00:00:04", "Fancy GmbH", "DE"),
			Verdict{Jurisdiction: "sanctioned", MatchedBy: MatchedCountry}},
		// An exception of the first matching rule ends the search: the
		// device is allowed, not judged by the next rule.
		{"one device excepted", de, device("00:e0:fc:12:34:56", "HUAWEI TECHNOLOGIES CO.,LTD", "CN"),
			Verdict{DeviceExcepted: "lab switch, approved 2026-03"}},
		{"a prefix excepted", de, device("30:fb:b8:01:02:03", "HUAWEI TECHNOLOGIES CO.,LTD", "CN"),
			Verdict{DeviceExcepted: "access points under the 2025 contract"}},
		{"unknown vendor", de, device("00:00:00:00:00:05", "", ""), Verdict{}},
		{"randomised MAC", de, private, Verdict{}},
		{"no MAC", de, enrich.Device{}, Verdict{}},
	} {
		f := enrich.Facts{Remote: netip.MustParseAddrPort("203.0.113.5:443"), Location: tc.loc, Device: tc.dev}
		if got := p.Evaluate(&f); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if got := strings.Join(p.VendorRules(), ","); got != "distrusted,made-in-cn,eyes" {
		t.Errorf("VendorRules = %s", got)
	}
	for f, want := range map[Field]string{MatchedVendor: "vendor", MatchedVendorCountry: "vendor_country"} {
		if f.String() != want {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), want)
		}
	}
}

func TestVendorProblems(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"no name", "vendors:\n  - vendors: [x]\n", "line 2: vendors rule has no name"},
		{"bad name", "vendors:\n  - name: Bad Name\n    vendors: [x]\n", `line 2: vendors rule name "Bad Name" must use only a-z, 0-9, _ and -`},
		{"matches nothing", "vendors:\n  - name: x\n", `line 2: vendors rule "x" matches nothing: give vendors, countries or both`},
		{"bad expression", "vendors:\n  - name: x\n    vendors: ['(']\n", `line 3: vendors rule "x": vendors: "(" is not a regular expression`},
		{"empty expression", "vendors:\n  - name: x\n    vendors: ['']\n", `line 3: vendors rule "x": vendors: an empty expression would match every vendor`},
		{"bad country", "vendors:\n  - name: x\n    countries: [XX]\n", `line 3: vendors rule "x": countries: "XX" is not an ISO 3166-1 alpha-2 country code`},
		{"duplicate", "vendors:\n  - name: x\n    countries: [CN]\n  - name: x\n    countries: [RU]\n", `line 4: vendors rule "x" is defined twice (first at line 2)`},
		{"bad mac", "vendors:\n  - name: x\n    countries: [CN]\n    exceptions:\n      - mac: 00:e0\n        reason: r\n", `line 5: vendors exception: "00:e0" is not a MAC address`},
		{"bad prefix", "vendors:\n  - name: x\n    countries: [CN]\n    exceptions:\n      - prefix: 00e0f\n        reason: r\n", `line 5: vendors exception: "00e0f" is not an IEEE prefix`},
		{"both", "vendors:\n  - name: x\n    countries: [CN]\n    exceptions:\n      - {mac: '00:e0:fc:00:00:01', prefix: 00e0fc, reason: r}\n", "line 5: vendors exception has both mac and prefix"},
		{"no reason", "vendors:\n  - name: x\n    countries: [CN]\n    exceptions:\n      - prefix: 00e0fc\n", "line 5: vendors exception needs a reason"},
		{"unknown field", "vendors:\n  - name: x\n    vendor: [huawei]\n", `line 3: unknown field "vendor" in a vendors rule; did you mean "vendors"?`},
		{"not a list", "vendors: huawei\n", "line 1: vendors must be a list"},
	} {
		_, err := Parse([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant a problem containing %q", tc.name, err, tc.want)
		}
	}
}
