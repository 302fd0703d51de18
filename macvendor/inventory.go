package macvendor

import (
	"cmp"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// Inventory records the local devices that the flows show: for each MAC,
// its vendor, the addresses it used, when it was seen, its bytes each way
// and the remote countries and jurisdictions it talked to. It is a flow
// observer (started flows make a device seen, ended ones add their bytes),
// bounded in devices (the least recently seen is evicted, and counted) and
// in what each device keeps.
type Inventory struct {
	max    int
	window time.Duration
	now    func() time.Time
	policy func() *policy.Policy

	mu      sync.Mutex
	devices map[[6]byte]*device
	head    *device // most recently seen
	tail    *device
	newBy   map[newKey]uint64 // devices first seen, by vendor country and flagged

	evicted atomic.Uint64
}

// Per-device bounds: a device that talks to every country on earth keeps
// its first maxRemotes countries and counts the rest under "other".
const (
	maxAddrs   = 8
	maxRemotes = 32
	otherKey   = "other"
)

type device struct {
	mac                  [6]byte
	vendor, country      string
	private, eui         bool
	rule                 string // the vendors rule that flagged it, or ""
	first, last          int64
	bytesTo, bytesFrom   uint64
	packetsTo, packetsFr uint64
	flows                uint64
	addrs                []netip.Addr // most recent first
	remotes              []remote
	prev, next           *device
}

type remote struct {
	country, jurisdiction string
	bytes                 uint64
	flows                 uint64
}

type newKey struct {
	country string
	flagged bool
}

// InventoryOptions size an Inventory.
type InventoryOptions struct {
	// Policy returns the policy in force, whose vendors rules say whether
	// a device is flagged (nil: none is).
	Policy     func() *policy.Policy
	MaxDevices int           // default 4096
	Window     time.Duration // devices seen within it count in jurismon_devices; default 15m
	Now        func() time.Time
}

// NewInventory returns an empty inventory.
func NewInventory(o InventoryOptions) *Inventory {
	if o.MaxDevices <= 0 {
		o.MaxDevices = 4096
	}
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Inventory{max: o.MaxDevices, window: o.Window, now: o.Now, policy: o.Policy,
		devices: map[[6]byte]*device{}, newBy: map[newKey]uint64{}}
}

// ObserveStarted makes the flow's local device seen (flow.StartObserver).
func (inv *Inventory) ObserveStarted(f *enrich.Facts, v policy.Verdict, at int64) {
	if !f.Device.HasMAC {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	d := inv.get(&f.Device, at)
	d.flows++
	d.addAddr(f.Local.Addr())
	d.remote(f.Location, v.Jurisdiction).flows++
}

// ObserveEnded adds an ended flow's bytes to its local device
// (flow.EndObserver).
func (inv *Inventory) ObserveEnded(ev *flow.Event) {
	f := ev.Facts
	if f == nil || !f.Device.HasMAC || ev.Transit {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	d := inv.get(&f.Device, ev.Last)
	d.bytesTo += ev.BytesTo
	d.bytesFrom += ev.BytesFrom
	d.packetsTo += ev.PacketsTo
	d.packetsFr += ev.PacketsFrom
	d.remote(f.Location, ev.Verdict.Jurisdiction).bytes += ev.BytesTo + ev.BytesFrom
}

// get returns the device of dev, making it the most recently seen, and
// creates it (evicting the least recently seen past the cap) if new. The
// vendors rules judge the device itself, whatever flow it is seen in (its
// multicast chatter included), so that the policy in force decides.
func (inv *Inventory) get(dev *enrich.Device, at int64) *device {
	rule := ""
	if inv.policy != nil {
		rule, _, _ = inv.policy().DeviceRule(dev)
	}
	d, ok := inv.devices[dev.MAC]
	if !ok {
		if len(inv.devices) >= inv.max {
			old := inv.tail
			inv.unlink(old)
			delete(inv.devices, old.mac)
			inv.evicted.Add(1)
		}
		d = &device{mac: dev.MAC, vendor: dev.Vendor, country: dev.VendorCountry, private: dev.Private, eui: dev.FromEUI64, first: at, last: at}
		inv.devices[dev.MAC] = d
		inv.newBy[newKey{dev.VendorCountry, rule != ""}]++
	} else {
		inv.unlink(d)
	}
	inv.pushFront(d)
	if at > d.last {
		d.last = at
	}
	d.rule = rule
	return d
}

func (inv *Inventory) unlink(d *device) {
	if d.prev != nil {
		d.prev.next = d.next
	} else {
		inv.head = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else {
		inv.tail = d.prev
	}
	d.prev, d.next = nil, nil
}

func (inv *Inventory) pushFront(d *device) {
	d.next = inv.head
	if inv.head != nil {
		inv.head.prev = d
	}
	inv.head = d
	if inv.tail == nil {
		inv.tail = d
	}
}

func (d *device) addAddr(a netip.Addr) {
	if !a.IsValid() || a.IsUnspecified() {
		return // "::" is the source of duplicate address detection and group reports: no address of the device
	}
	if i := slices.Index(d.addrs, a); i >= 0 {
		copy(d.addrs[1:i+1], d.addrs[:i])
		d.addrs[0] = a
		return
	}
	if len(d.addrs) < maxAddrs {
		d.addrs = append(d.addrs, netip.Addr{})
	}
	copy(d.addrs[1:], d.addrs)
	d.addrs[0] = a
}

// remote returns the device's record of a remote country and jurisdiction.
func (d *device) remote(loc *geo.Location, jurisdiction string) *remote {
	country := ""
	if loc != nil {
		country = loc.Country
		if loc.Class != geo.ClassPublic {
			country = loc.Class.String()
		}
	}
	for i := range d.remotes {
		if r := &d.remotes[i]; r.country == country && r.jurisdiction == jurisdiction {
			return r
		}
	}
	if len(d.remotes) >= maxRemotes-1 {
		for i := range d.remotes {
			if d.remotes[i].country == otherKey {
				return &d.remotes[i]
			}
		}
		country, jurisdiction = otherKey, ""
	}
	d.remotes = append(d.remotes, remote{country: country, jurisdiction: jurisdiction})
	return &d.remotes[len(d.remotes)-1]
}

// Device is one device as the API shows it. The JSON names are a stable
// interface: add fields, never rename them.
type Device struct {
	MAC           string         `json:"mac"`
	Vendor        string         `json:"vendor"`         // "" when the registry has none (see private)
	VendorCountry string         `json:"vendor_country"` // the registrant's country, "" when unknown
	Private       bool           `json:"private"`        // a locally administered (randomised) MAC: no vendor
	FromEUI64     bool           `json:"from_eui64"`     // read from an EUI-64 IPv6 address, not from a frame
	Addresses     []string       `json:"addresses"`      // most recent first, at most 8
	FirstSeen     time.Time      `json:"first_seen"`
	LastSeen      time.Time      `json:"last_seen"`
	BytesTo       uint64         `json:"bytes_to"`   // sent by the device, in flows that ended
	BytesFrom     uint64         `json:"bytes_from"` // received by it, in flows that ended
	PacketsTo     uint64         `json:"packets_to"`
	PacketsFrom   uint64         `json:"packets_from"`
	Flows         uint64         `json:"flows"`
	Remotes       []DeviceRemote `json:"remotes"`
	Flagged       bool           `json:"flagged"`
	VendorRule    string         `json:"vendor_rule"` // the vendors rule that flagged it
}

// DeviceRemote is a country (or special-purpose class) and jurisdiction a
// device talked to.
type DeviceRemote struct {
	Country      string `json:"country"`
	Jurisdiction string `json:"jurisdiction"`
	Bytes        uint64 `json:"bytes"`
	Flows        uint64 `json:"flows"`
}

// Devices returns the devices, most recently seen first.
func (inv *Inventory) Devices() []Device {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]Device, 0, len(inv.devices))
	for d := inv.head; d != nil; d = d.next {
		dv := Device{
			MAC: macString(d.mac), Vendor: d.vendor, VendorCountry: d.country, Private: d.private, FromEUI64: d.eui,
			Addresses: make([]string, len(d.addrs)),
			FirstSeen: time.Unix(0, d.first).UTC(), LastSeen: time.Unix(0, d.last).UTC(),
			BytesTo: d.bytesTo, BytesFrom: d.bytesFrom, PacketsTo: d.packetsTo, PacketsFrom: d.packetsFr, Flows: d.flows,
			Remotes: make([]DeviceRemote, len(d.remotes)),
			Flagged: d.rule != "", VendorRule: d.rule,
		}
		for i, a := range d.addrs {
			dv.Addresses[i] = a.String()
		}
		for i, r := range d.remotes {
			dv.Remotes[i] = DeviceRemote{Country: r.country, Jurisdiction: r.jurisdiction, Bytes: r.bytes, Flows: r.flows}
		}
		slices.SortStableFunc(dv.Remotes, func(a, b DeviceRemote) int { return cmp.Compare(b.Bytes, a.Bytes) })
		out = append(out, dv)
	}
	return out
}

// Handler serves GET /api/v1/devices: {"devices": [...]}, most recently
// seen first.
func (inv *Inventory) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Devices []Device `json:"devices"`
		}{inv.Devices()})
	})
}

func macString(m [6]byte) string { return net.HardwareAddr(m[:]).String() }
