package collect

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jurismon/jurismon/flow"
)

// records keeps what the decoder hands over.
type records []flow.Record

func (r *records) HandleRecord(x *flow.Record) { *r = append(*r, *x) }

var (
	exporterA = netip.MustParseAddr("192.0.2.1")
	exporterB = netip.MustParseAddr("2001:db8::1")
	local     = netip.MustParseAddr("10.0.0.1")
	remoteRU  = netip.MustParseAddr("192.0.2.129")
	remote4   = netip.MustParseAddr("198.51.100.7")
	remote6   = netip.MustParseAddr("2001:db8:2::1")
	local6    = netip.MustParseAddr("fd00::1")
)

func newTestDecoder(t testing.TB, cfg *Config) (*Decoder, *records) {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.init(); err != nil {
		t.Fatal(err)
	}
	var out records
	return newDecoder(cfg, newTemplates(0, 0), newWorkerStats(0), &out), &out
}

func reasons(d *Decoder, label string) map[string]uint64 {
	out := map[string]uint64{}
	if c := d.stats.byLabel[label]; c != nil {
		for r := range NumReasons {
			if n := c.reasons[r].Load(); n > 0 {
				out[r.String()] = n
			}
		}
	}
	return out
}

const (
	secs  = 1767322800 // 2026-01-02T03:00:00Z
	sec   = int64(time.Second)
	milli = int64(time.Millisecond)
)

var now = int64(secs+100) * sec

func TestDecode(t *testing.T) {
	rec := testRecord{src: local, dst: remoteRU, sport: 40000, dport: 443, proto: 6, bytes: 1500, packets: 3, in: 2, out: 1, firstMs: 10_000, lastMs: 12_000}
	rec6 := testRecord{src: remote6, dst: local6, sport: 443, dport: 6000, proto: 17, bytes: 900, packets: 2, in: 1, out: 2,
		firstMs: 5_000, lastMs: 5_500}
	ipfixRec := func(r testRecord, startMs, endMs uint64) []byte {
		r.firstMs, r.lastMs = startMs, endMs
		return dataSet(256, true, false, r)
	}
	samplerTmpl, samplerData := v9SamplerOptions(300, 7, 1000)
	ipfixOptsTmpl, ipfixOptsData := ipfixSamplingOptions(400, 5, 1, 99)
	bootNs := int64(secs)*sec - 100_000*milli // v9 uptime 100 s at secs

	tests := []struct {
		name      string
		cfg       *Config
		from      netip.Addr
		datagrams [][]byte
		want      []flow.Record
		reasons   map[string]uint64
	}{
		{
			name:      "netflow v5",
			from:      exporterA,
			datagrams: [][]byte{v5(100_000, secs, 0x4000|100, rec)},
			want: []flow.Record{{First: bootNs + 10*sec, Last: bootNs + 12*sec, Src: netip.AddrPortFrom(local, 40000), Dst: netip.AddrPortFrom(remoteRU, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 100}},
		},
		{
			name:      "netflow v5 unsampled: the default rate, counted",
			cfg:       &Config{DefaultSamplingRate: 10},
			from:      exporterA,
			datagrams: [][]byte{v5(100_000, secs, 0, rec)},
			want: []flow.Record{{First: bootNs + 10*sec, Last: bootNs + 12*sec, Src: netip.AddrPortFrom(local, 40000), Dst: netip.AddrPortFrom(remoteRU, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 10}},
			reasons: map[string]uint64{"sampling_unknown": 1},
		},
		{
			name: "netflow v9: data before its template is counted, then read",
			from: exporterA,
			datagrams: [][]byte{
				v9(100_000, secs, 1, dataSet(256, false, false, rec)),
				v9(100_000, secs, 1, templateSet(0, 256, v4Template(false, false)), dataSet(256, false, false, rec)),
				// The same template ID in another observation domain is another template.
				v9(100_000, secs, 2, dataSet(256, false, false, rec)),
			},
			want: []flow.Record{{First: bootNs + 10*sec, Last: bootNs + 12*sec, Src: netip.AddrPortFrom(local, 40000), Dst: netip.AddrPortFrom(remoteRU, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 1}},
			reasons: map[string]uint64{"template_missing": 2, "sampling_unknown": 1},
		},
		{
			name: "netflow v9 sampler options: the record's sampler ID picks the rate",
			from: exporterA,
			datagrams: [][]byte{
				v9(100_000, secs, 1, samplerTmpl, samplerData, templateSet(0, 257, v4Template(false, true))),
				v9(100_000, secs, 1, dataSet(257, false, true, func() testRecord { r := rec; r.samplerID = 7; return r }())),
			},
			want: []flow.Record{{First: bootNs + 10*sec, Last: bootNs + 12*sec, Src: netip.AddrPortFrom(local, 40000), Dst: netip.AddrPortFrom(remoteRU, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 1000}},
		},
		{
			name: "ipfix over ipv6 transport: v6 records, PSAMP interval and space",
			from: exporterB,
			datagrams: [][]byte{
				ipfixMsg(secs, 5, ipfixOptsTmpl, ipfixOptsData, templateSet(2, 256, v6Template(true))),
				ipfixMsg(secs, 5, ipfixRec(rec6, uint64(secs)*1000+10, uint64(secs)*1000+20)),
			},
			want: []flow.Record{{First: int64(secs)*sec + 10*milli, Last: int64(secs)*sec + 20*milli, Src: netip.AddrPortFrom(remote6, 443), Dst: netip.AddrPortFrom(local6, 6000),
				Proto: 17, Bytes: 900, Packets: 2, SamplingRate: 100}},
		},
		{
			name: "exporter override beats the announced rate",
			cfg:  &Config{Exporters: []ExporterConfig{{Address: exporterA, SamplingRate: 4}}},
			from: exporterA,
			datagrams: [][]byte{
				v5(100_000, secs, 0x4000|100, rec),
			},
			want: []flow.Record{{First: bootNs + 10*sec, Last: bootNs + 12*sec, Src: netip.AddrPortFrom(local, 40000), Dst: netip.AddrPortFrom(remoteRU, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 4}},
		},
		{
			name: "interface roles: entered on an external interface, the source is remote",
			cfg: &Config{Exporters: []ExporterConfig{{Address: exporterA, Interfaces: map[uint32]InterfaceConfig{
				2: {Name: "transit1", Role: RoleExternal}, 1: {Name: "lan"}}}}},
			from:      exporterA,
			datagrams: [][]byte{v5(100_000, secs, 0x4000|100, func() testRecord { r := rec; r.src, r.dst = remoteRU, remote4; return r }())},
			want: []flow.Record{{First: bootNs + 10*sec, Last: bootNs + 12*sec, Src: netip.AddrPortFrom(remoteRU, 40000), Dst: netip.AddrPortFrom(remote4, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 100, Sides: flow.SrcRemote}},
		},
		{
			name: "a record from the future ends at its arrival",
			from: exporterA,
			// uptime 100 s at secs, the record ends at uptime 10000 s: 9900 s after now-100 s
			datagrams: [][]byte{v5(100_000, secs, 0x4000|1, func() testRecord { r := rec; r.firstMs, r.lastMs = 9_999_000, 10_000_000; return r }())},
			want: []flow.Record{{First: now - sec, Last: now, Src: netip.AddrPortFrom(local, 40000), Dst: netip.AddrPortFrom(remoteRU, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 1}},
			reasons: map[string]uint64{"clock_skew": 1},
		},
		{
			name: "an absurd rate is counted and the default used",
			cfg:  &Config{MaxSamplingRate: 10000},
			from: exporterA,
			datagrams: [][]byte{
				v5(100_000, secs, 0x3fff, rec), // 16383
			},
			want: []flow.Record{{First: bootNs + 10*sec, Last: bootNs + 12*sec, Src: netip.AddrPortFrom(local, 40000), Dst: netip.AddrPortFrom(remoteRU, 443),
				Proto: 6, Bytes: 1500, Packets: 3, SamplingRate: 1}},
			reasons: map[string]uint64{"sampling_absurd": 1},
		},
		{
			name: "sflow: one packet per sample, IP bytes from the header",
			from: exporterA,
			datagrams: [][]byte{sflowDatagram(exporterA, sflowSample{rate: 512, in: 3, out: 4, frameLen: 1518,
				frame: ethIPv4(remoteRU, local, 53, 5000, 1500)})},
			want: []flow.Record{{First: now, Last: now, Src: netip.AddrPortFrom(remoteRU, 53), Dst: netip.AddrPortFrom(local, 5000),
				Proto: 17, Bytes: 1500, Packets: 1, SamplingRate: 512}},
		},
		{
			name: "bad input is counted",
			from: exporterA,
			datagrams: [][]byte{
				{0, 5},                              // short
				{0, 7, 0, 0},                        // unknown version
				v5(1, secs, 0, rec)[:40],            // cut record
				v9(1, secs, 1, []byte{1, 0, 0, 99}), // set longer than the datagram
				{0, 10, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // IPFIX length below its header
				{0, 0, 0, 5, 0, 0, 0, 9},                          // sFlow with a bad address type
			},
			reasons: map[string]uint64{"malformed": 5, "unknown_version": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, out := newTestDecoder(t, tt.cfg)
			for _, dg := range tt.datagrams {
				d.Decode(tt.from, dg, now)
			}
			if len(*out) != len(tt.want) {
				t.Fatalf("%d records, want %d: %+v", len(*out), len(tt.want), *out)
			}
			for i := range tt.want {
				if (*out)[i] != tt.want[i] {
					t.Errorf("record %d\n got %+v\nwant %+v", i, (*out)[i], tt.want[i])
				}
			}
			label := tt.from.String()
			got := reasons(d, label)
			if len(got) != len(tt.reasons) {
				t.Errorf("reasons = %v, want %v", got, tt.reasons)
			}
			for k, v := range tt.reasons {
				if got[k] != v {
					t.Errorf("reasons = %v, want %v", got, tt.reasons)
				}
			}
		})
	}
}

// The templates and rates survive a restart through the state file.
func TestStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	rec := testRecord{src: local, dst: remoteRU, sport: 1, dport: 2, proto: 17, bytes: 100, packets: 1, firstMs: 1000, lastMs: 2000, samplerID: 7}
	samplerTmpl, samplerData := v9SamplerOptions(300, 7, 50)
	d, _ := newTestDecoder(t, nil)
	d.Decode(exporterA, v9(10_000, secs, 1, samplerTmpl, samplerData, templateSet(0, 256, v4Template(false, true))), now)
	ipfixOptsTmpl, _ := ipfixSamplingOptions(400, 5, 1, 99)
	d.Decode(exporterB, ipfixMsg(secs, 5, ipfixOptsTmpl, templateSet(2, 256, v6Template(true))), now)
	if !d.tmpl.changed.Load() {
		t.Error("templates learnt but not marked changed")
	}
	if err := d.tmpl.save(path); err != nil {
		t.Fatal(err)
	}

	// A new process: the data arrives without its template.
	d2, out := newTestDecoder(t, nil)
	if err := d2.tmpl.load(path); err != nil {
		t.Fatal(err)
	}
	if ex, n := d2.tmpl.count(); ex != 2 || n != 4 {
		t.Errorf("loaded %d exporters, %d templates; want 2, 4", ex, n)
	}
	d2.Decode(exporterA, v9(10_000, secs, 1, dataSet(256, false, true, rec)), now)
	if len(*out) != 1 || (*out)[0].SamplingRate != 50 || (*out)[0].Bytes != 100 {
		t.Fatalf("records after restart = %+v, want one sampled 1 in 50", *out)
	}
	if r := reasons(d2, exporterA.String()); len(r) != 0 {
		t.Errorf("reasons = %v", r)
	}
	// A state file of another version, or garbage, is an error, not a panic.
	for _, bad := range []string{`{"version":99}`, `{`, `{"version":1,"exporters":[{"address":"192.0.2.1","templates":[{"id":256}]}]}`} {
		p := filepath.Join(t.TempDir(), "bad.json")
		if err := writeFile(p, bad); err != nil {
			t.Fatal(err)
		}
		if err := newTemplates(0, 0).load(p); err == nil {
			t.Errorf("load(%s) = nil, want an error", bad)
		}
	}
}

// Caps: templates per exporter, exporters, interfaces.
func TestCaps(t *testing.T) {
	cfg := &Config{}
	if err := cfg.init(); err != nil {
		t.Fatal(err)
	}
	var out records
	stats := newWorkerStats(2)
	d := newDecoder(cfg, newTemplates(2, 3), stats, &out)
	var sets [][]byte
	for id := uint16(256); id < 266; id++ {
		sets = append(sets, templateSet(0, id, v4Template(false, false)))
	}
	d.Decode(exporterA, v9(1, secs, 1, sets...), now)
	if r := reasons(d, exporterA.String()); r["template_refused"] != 7 {
		t.Errorf("reasons = %v, want 7 templates refused past 3", r)
	}
	d.Decode(exporterB, v5(1, secs, 0), now)
	d.Decode(netip.MustParseAddr("198.51.100.1"), v5(1, secs, 0), now)
	if r := reasons(d, otherLabel); r["exporter_refused"] != 1 {
		t.Errorf("reasons of other = %v, want 1 exporter refused past 2", r)
	}
	var rs []testRecord
	for i := range uint16(5) {
		rs = append(rs, testRecord{src: local, dst: remoteRU, proto: 17, bytes: 10, packets: 1, in: 10 + i, out: 0})
	}
	d.Decode(exporterA, v5(1, secs, 0, rs...), now)
	c := stats.byLabel[exporterA.String()]
	if len(c.ifList) != 3 || c.ifList[2].label != otherLabel || c.ifList[2].bytes[0].Load() != 30 {
		t.Errorf("interfaces = %d, want 2 and other with 30 bytes", len(c.ifList))
	}
}

func TestMetrics(t *testing.T) {
	cfg := &Config{Exporters: []ExporterConfig{{Address: exporterA, Name: "edge1", Interfaces: map[uint32]InterfaceConfig{2: {Name: "transit1", Role: RoleExternal}}}}}
	if err := cfg.init(); err != nil {
		t.Fatal(err)
	}
	var out records
	c := &Collector{tmpl: newTemplates(0, 0), stats: []*workerStats{newWorkerStats(0)}}
	d := newDecoder(cfg, c.tmpl, c.stats[0], &out)
	rec := testRecord{src: local, dst: remoteRU, proto: 17, bytes: 100, packets: 2, in: 2, out: 1}
	d.Decode(exporterA, v5(1, secs, 0x4000|10, rec, rec), now)
	d.Decode(exporterA, []byte{0, 42, 0, 0}, now)
	c.stats[0].received.Store(2)
	want := `
# HELP jurismon_collector_bytes_total IP bytes of the accounted records, scaled by the sampling rate, per exporter.
# TYPE jurismon_collector_bytes_total counter
jurismon_collector_bytes_total{exporter="edge1"} 2000
# HELP jurismon_collector_errors_total Datagrams, sets or records not (fully) accounted, or accounted with the default sampling rate, by reason.
# TYPE jurismon_collector_errors_total counter
jurismon_collector_errors_total{exporter="edge1",reason="clock_skew"} 0
jurismon_collector_errors_total{exporter="edge1",reason="exporter_refused"} 0
jurismon_collector_errors_total{exporter="edge1",reason="malformed"} 0
jurismon_collector_errors_total{exporter="edge1",reason="no_address"} 0
jurismon_collector_errors_total{exporter="edge1",reason="sampling_absurd"} 0
jurismon_collector_errors_total{exporter="edge1",reason="sampling_unknown"} 0
jurismon_collector_errors_total{exporter="edge1",reason="template_missing"} 0
jurismon_collector_errors_total{exporter="edge1",reason="template_refused"} 0
jurismon_collector_errors_total{exporter="edge1",reason="unknown_version"} 1
# HELP jurismon_collector_interface_bytes_total IP bytes (scaled) of the records that entered (direction="in") or left ("out") an exporter's interface, by SNMP index or configured name.
# TYPE jurismon_collector_interface_bytes_total counter
jurismon_collector_interface_bytes_total{direction="in",exporter="edge1",interface="1"} 0
jurismon_collector_interface_bytes_total{direction="in",exporter="edge1",interface="transit1"} 2000
jurismon_collector_interface_bytes_total{direction="out",exporter="edge1",interface="1"} 2000
jurismon_collector_interface_bytes_total{direction="out",exporter="edge1",interface="transit1"} 0
# HELP jurismon_collector_sampling_rate The sampling rate last used for an exporter's records (1 in N packets).
# TYPE jurismon_collector_sampling_rate gauge
jurismon_collector_sampling_rate{exporter="edge1"} 10
# HELP jurismon_collector_records_total Flow records accounted, per exporter.
# TYPE jurismon_collector_records_total counter
jurismon_collector_records_total{exporter="edge1"} 2
# HELP jurismon_collector_received_datagrams_total Datagrams read from the sockets of each worker.
# TYPE jurismon_collector_received_datagrams_total counter
jurismon_collector_received_datagrams_total{worker="0"} 2
`
	if err := testutil.CollectAndCompare(c.Metrics(), strings.NewReader(want),
		"jurismon_collector_bytes_total", "jurismon_collector_errors_total", "jurismon_collector_interface_bytes_total", "jurismon_collector_sampling_rate",
		"jurismon_collector_records_total", "jurismon_collector_received_datagrams_total"); err != nil {
		t.Error(err)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

func TestTemplatesFit(t *testing.T) {
	pen := be16(be16(nil, 300), 1)                               // template 300, one field
	pen = append(be16(be16(pen, 0x8000|1), 4), 0, 0, 0x71, 0x79) // enterprise field, PEN 29049
	tests := []struct {
		name string
		id   uint16
		body []byte
		want bool
	}{
		{"v9 template", 0, templateSet(0, 256, v4Template(false, false))[4:], true},
		{"ipfix template with an enterprise field", 2, pen, true},
		{"a count the set cannot hold", 0, []byte{1, 0, 0xff, 0xff, 0, 8, 0, 4}, false},
		{"ipfix enterprise field cut", 2, pen[:len(pen)-2], false},
		{"v9 options lengths past the set", 1, []byte{1, 44, 0, 4, 0xff, 0xf0, 0, 1, 0, 4}, false},
		{"v9 options", 1, func() []byte { tm, _ := v9SamplerOptions(300, 7, 1); return tm[4:] }(), true},
	}
	for _, tt := range tests {
		if got := templatesFit(tt.id, tt.body); got != tt.want {
			t.Errorf("%s: templatesFit = %v, want %v", tt.name, got, tt.want)
		}
	}
}
