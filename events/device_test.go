package events

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// A flow flagged for its local device (a vendors rule) carries the device
// in its event; one without a known device carries none of its fields.
func TestDeviceFields(t *testing.T) {
	loc := &geo.Location{Class: geo.ClassPublic, Country: "DE", RegisteredCountry: "DE", ASN: 64500, ASOrg: "Example Carrier GmbH"}
	facts := enrich.Facts{Location: loc, Device: enrich.Device{
		MAC: [6]byte{0x30, 0xfb, 0xb8, 0x01, 0x02, 0x03}, HasMAC: true,
		Vendor: "HUAWEI TECHNOLOGIES CO.,LTD", VendorCountry: "CN",
	}}
	ev := flow.Event{
		Local:  netip.MustParseAddrPort("10.0.0.2:40000"),
		Remote: netip.MustParseAddrPort("192.0.2.10:443"),
		Proto:  6, Location: loc, Facts: &facts,
		Verdict: policy.Verdict{Device: "distrusted", DeviceMatchedBy: policy.MatchedVendor},
	}
	b, err := json.Marshal(FromFlow(&ev, time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"jurisdiction":""`, `"local_mac":"30:fb:b8:01:02:03"`, `"vendor":"HUAWEI TECHNOLOGIES CO.,LTD"`,
		`"vendor_country":"CN"`, `"vendor_rule":"distrusted"`, `"vendor_matched_by":"vendor"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("event %s lacks %s", b, want)
		}
	}
	ev.Facts, ev.Verdict = &enrich.Facts{Location: loc}, policy.Verdict{Jurisdiction: "x", MatchedBy: policy.MatchedCountry}
	b, _ = json.Marshal(FromFlow(&ev, time.Unix(0, 0)))
	if strings.Contains(string(b), "vendor") || strings.Contains(string(b), "local_mac") {
		t.Errorf("event without a device: %s", b)
	}
}
