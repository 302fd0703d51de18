package macvendor

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/policy"
)

const inventoryPolicy = `
jurisdictions:
  - name: sanctioned
    countries: [RU]
vendors:
  - name: distrusted
    vendors: ["(?i)huawei"]
`

// gateway is the MAC of the router: the destination of every frame the
// local devices send to remote addresses, and the source of the replies.
var gateway = [6]byte{0xf4, 0xbd, 0x9e, 0x00, 0x00, 0x01} // Cisco

type lab struct {
	t    *testing.T
	acct *flow.Accountant
	inv  *Inventory
	evs  []flow.Event
}

func newLab(t *testing.T, grouping flow.Grouping) *lab {
	t.Helper()
	src, err := Open(writeRegistry(t, testFiles), nil)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(inventoryPolicy))
	if err != nil {
		t.Fatal(err)
	}
	env := flow.NewEnv(geotest.Resolver(t), pol, true)
	env.Enrichers = append(env.Enrichers, Enricher{Source: src})
	l := &lab{t: t, inv: NewInventory(InventoryOptions{Policy: env.Policy, Now: func() time.Time { return time.Unix(10, 0) }})}
	cfg := flow.DefaultConfig()
	cfg.Grouping = grouping
	l.acct = flow.NewAccountant(env, cfg, l.inv, flow.FlaggedFunc(func(ev *flow.Event) {
		c := *ev
		f := *ev.Facts
		c.Facts, c.Location = &f, f.Location
		l.evs = append(l.evs, c)
	}))
	return l
}

// send accounts one UDP packet of ipLen bytes at second s between a local
// device (mac, local) and a remote address; out says which way.
func (l *lab) send(s int64, mac [6]byte, local, remote string, out bool, ipLen uint32) {
	p := capture.Packet{
		Timestamp: s * int64(time.Second), IPLen: ipLen, Proto: 17, TTL: 64, HasMAC: true,
		Src: netip.MustParseAddr(local), Dst: netip.MustParseAddr(remote), SrcPort: 40000, DstPort: 443,
		SrcMAC: mac, DstMAC: gateway,
	}
	if !out {
		p.Src, p.Dst, p.SrcPort, p.DstPort, p.SrcMAC, p.DstMAC = p.Dst, p.Src, p.DstPort, p.SrcPort, gateway, mac
	}
	l.acct.Add(&p)
}

var (
	huawei   = [6]byte{0x30, 0xfb, 0xb8, 0x01, 0x02, 0x03}
	nokia    = [6]byte{0x40, 0x55, 0x82, 0x00, 0x00, 0x01}
	random   = [6]byte{0xda, 0xa1, 0x19, 0x00, 0x00, 0x01}
	unlisted = [6]byte{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
)

func TestInventoryThroughTheAccountant(t *testing.T) {
	l := newLab(t, flow.ByDevice)
	// The Huawei device talks to Germany (not flagged) and Russia
	// (flagged): a flagged vendor's device talking to a flagged
	// jurisdiction, and one talking elsewhere.
	l.send(1, huawei, "10.0.0.2", "192.0.2.10", true, 100)   // DE
	l.send(1, huawei, "10.0.0.2", "192.0.2.10", false, 1000) // DE replies
	l.send(2, huawei, "10.0.0.2", "192.0.2.200", true, 200)  // RU
	// The Nokia device talks to Russia: the remote alone is flagged.
	l.send(3, nokia, "10.0.0.3", "192.0.2.201", true, 300)
	// A randomised MAC, and a vendor the registry does not know.
	l.send(4, random, "10.0.0.4", "198.51.100.1", true, 400)
	l.send(5, unlisted, "10.0.0.5", "198.51.100.2", true, 500)
	// EUI-64: the MAC is in the IPv6 address, the frame's is the router's
	// (a device beyond the segment).
	l.send(6, gateway, "fd00::32fb:b8ff:fe0a:b0c", "2001:db8:2::1", true, 600)
	// A Huawei device seen only in its multicast group reports: flagged in
	// the inventory (the rule judges the device), but no flagged flow.
	l.send(7, [6]byte{0x30, 0xfb, 0xb8, 0x0d, 0x0e, 0x0f}, "fe80::1", "ff02::16", true, 76)
	l.acct.Flush()

	// Flagged-flow events: the device-flagged flows and the RU flow.
	type ev struct {
		remote, jurisdiction, device, vendor string
	}
	var got []ev
	for _, e := range l.evs {
		got = append(got, ev{e.Remote.Addr().String(), e.Verdict.Jurisdiction, e.Verdict.Device, e.Facts.Device.Vendor})
	}
	want := []ev{
		{"192.0.2.10", "", "distrusted", "HUAWEI TECHNOLOGIES CO.,LTD"},
		{"192.0.2.200", "sanctioned", "distrusted", "HUAWEI TECHNOLOGIES CO.,LTD"},
		{"192.0.2.201", "sanctioned", "", "Nokia"},
		{"2001:db8:2::1", "sanctioned", "distrusted", "HUAWEI TECHNOLOGIES CO.,LTD"},
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if e := l.evs[3]; !e.Facts.Device.FromEUI64 || e.Facts.Device.MAC != [6]byte{0x30, 0xfb, 0xb8, 0x0a, 0x0b, 0x0c} {
		t.Errorf("EUI-64 device: %+v", e.Facts.Device)
	}

	// ByDevice aggregates: one per device and verdict.
	type row struct {
		mac, vendor, country, rule, jurisdiction string
		private                                  bool
		bytes                                    uint64
	}
	rows := map[row]bool{}
	for _, g := range l.acct.Aggregates() {
		k := g.Key
		mac := ""
		if k.HasMAC {
			mac = macString(k.MAC)
		}
		rows[row{mac, k.Vendor, k.VendorCountry, k.DeviceRule, k.Jurisdiction, k.DevicePrivate, g.Bytes[0].Load() + g.Bytes[1].Load()}] = true
	}
	for _, r := range []row{
		{"30:fb:b8:01:02:03", "HUAWEI TECHNOLOGIES CO.,LTD", "CN", "distrusted", "", false, 1100},
		{"30:fb:b8:01:02:03", "HUAWEI TECHNOLOGIES CO.,LTD", "CN", "distrusted", "sanctioned", false, 200},
		{"40:55:82:00:00:01", "Nokia", "CA", "", "sanctioned", false, 300},
		{"da:a1:19:00:00:01", "", "", "", "", true, 400},
		{"00:00:5e:00:53:01", "", "", "", "", false, 500},
		{"30:fb:b8:0a:0b:0c", "HUAWEI TECHNOLOGIES CO.,LTD", "CN", "distrusted", "sanctioned", false, 600},
		{"30:fb:b8:0d:0e:0f", "HUAWEI TECHNOLOGIES CO.,LTD", "CN", "", "", false, 76},
	} {
		if !rows[r] {
			t.Errorf("no aggregate %+v in %+v", r, rows)
		}
	}
	if len(rows) != 7 {
		t.Errorf("%d aggregates, want 7: %+v", len(rows), rows)
	}

	// The inventory: devices most recently seen first, bytes of ended flows.
	devs := l.inv.Devices()
	if len(devs) != 6 {
		t.Fatalf("%d devices, want 6: %+v", len(devs), devs)
	}
	byMAC := map[string]Device{}
	for _, d := range devs {
		byMAC[d.MAC] = d
	}
	hw := byMAC["30:fb:b8:01:02:03"]
	if hw.Vendor != "HUAWEI TECHNOLOGIES CO.,LTD" || hw.VendorCountry != "CN" || !hw.Flagged || hw.VendorRule != "distrusted" ||
		hw.BytesTo != 300 || hw.BytesFrom != 1000 || hw.Flows != 2 || len(hw.Addresses) != 1 || hw.Addresses[0] != "10.0.0.2" {
		t.Errorf("huawei device: %+v", hw)
	}
	if len(hw.Remotes) != 2 || hw.Remotes[0] != (DeviceRemote{Country: "DE", Bytes: 1100, Flows: 1}) ||
		hw.Remotes[1] != (DeviceRemote{Country: "RU", Jurisdiction: "sanctioned", Bytes: 200, Flows: 1}) {
		t.Errorf("huawei remotes: %+v", hw.Remotes)
	}
	if d := byMAC["da:a1:19:00:00:01"]; !d.Private || d.Vendor != "" || d.Flagged {
		t.Errorf("randomised device: %+v", d)
	}
	if d := byMAC["30:fb:b8:0a:0b:0c"]; !d.FromEUI64 || d.Addresses[0] != "fd00::32fb:b8ff:fe0a:b0c" {
		t.Errorf("EUI-64 device: %+v", d)
	}
	if _, ok := byMAC[macString(gateway)]; ok {
		t.Error("the router, seen only as the frames' other end, is in the inventory")
	}

	// The API serves the same list.
	rec := httptest.NewRecorder()
	l.inv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/devices", nil))
	var body struct{ Devices []Device }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Devices) != 6 || body.Devices[0].MAC != devs[0].MAC {
		t.Errorf("API: %v %s", err, rec.Body.String())
	}

	if d := byMAC["30:fb:b8:0d:0e:0f"]; !d.Flagged || d.VendorRule != "distrusted" || len(d.Addresses) != 1 {
		t.Errorf("device seen in multicast only: %+v", d)
	}

	// Metrics: every device was seen at second 1..7, inside the window
	// of 15 minutes that ends at second 10.
	want2 := `
# HELP jurismon_device_inventory_devices Devices held in the inventory (bounded by --vendors.max-devices).
# TYPE jurismon_device_inventory_devices gauge
jurismon_device_inventory_devices 6
# HELP jurismon_device_inventory_evictions_total Devices evicted from the full inventory, least recently seen first.
# TYPE jurismon_device_inventory_evictions_total counter
jurismon_device_inventory_evictions_total 0
# HELP jurismon_devices Local devices seen within the inventory window, by their maker's country and whether a vendors rule flags them.
# TYPE jurismon_devices gauge
jurismon_devices{flagged="false",vendor_country=""} 2
jurismon_devices{flagged="false",vendor_country="CA"} 1
jurismon_devices{flagged="true",vendor_country="CN"} 3
# HELP jurismon_devices_new_total Local devices seen for the first time (or again after eviction from the inventory), by maker's country and flagged.
# TYPE jurismon_devices_new_total counter
jurismon_devices_new_total{flagged="false",vendor_country=""} 2
jurismon_devices_new_total{flagged="false",vendor_country="CA"} 1
jurismon_devices_new_total{flagged="true",vendor_country="CN"} 3
`
	if err := testutil.CollectAndCompare(l.inv.Collector(), strings.NewReader(want2)); err != nil {
		t.Error(err)
	}
}

func TestInventoryBounded(t *testing.T) {
	inv := NewInventory(InventoryOptions{MaxDevices: 3})
	l := newLab(t, flow.ByLocation)
	l.inv = inv
	env := flow.NewEnv(geotest.Resolver(t), nil, true)
	src, err := Open(writeRegistry(t, testFiles), nil)
	if err != nil {
		t.Fatal(err)
	}
	env.Enrichers = append(env.Enrichers, Enricher{Source: src})
	l.acct = flow.NewAccountant(env, flow.DefaultConfig(), inv)
	// A device flooding source MACs (and one device talking to far more
	// countries than a device keeps).
	for i := range 10 {
		mac := [6]byte{0x00, 0x00, 0x5e, 0x00, 0x53, byte(i)}
		l.send(int64(i+1), mac, netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}).String(), "198.51.100.1", true, 100)
	}
	devs := inv.Devices()
	if len(devs) != 3 || devs[0].MAC != "00:00:5e:00:53:09" || devs[2].MAC != "00:00:5e:00:53:07" {
		t.Errorf("devices after the flood: %+v", devs)
	}
	if inv.evicted.Load() != 7 {
		t.Errorf("%d evicted, want 7", inv.evicted.Load())
	}
	d := &device{}
	for i := range 100 {
		d.addAddr(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
		d.remote(nil, strings.Repeat("j", i%50)).flows++
	}
	if len(d.addrs) != maxAddrs || d.addrs[0] != netip.AddrFrom4([4]byte{10, 0, 0, 99}) {
		t.Errorf("addresses: %v", d.addrs)
	}
	if len(d.remotes) != maxRemotes || d.remotes[maxRemotes-1].country != otherKey {
		t.Errorf("%d remotes, the last %+v", len(d.remotes), d.remotes[len(d.remotes)-1])
	}
}
