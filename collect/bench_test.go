package collect

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/policy"
)

// benchFlows is the number of distinct flows the benchmark datagrams
// cycle through: all known to the flow table after the first round.
const benchFlows = 4096

// benchDatagrams returns datagrams of 30 records each (a full NetFlow v5
// datagram; 1400-byte v9/IPFIX ones hold a similar number) over
// benchFlows flows between local hosts and the test database's countries.
func benchDatagrams(format string) (setup []byte, dgs [][]byte) {
	remotes := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.129"),
		netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.9")}
	var rs []testRecord
	for i := range benchFlows {
		rs = append(rs, testRecord{
			src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), dst: remotes[i%len(remotes)],
			sport: uint16(30000 + i), dport: 443, proto: 6, bytes: 1500, packets: 1, in: 1, out: 2,
			firstMs: 1000, lastMs: 2000,
		})
	}
	for i := 0; i < len(rs); i += 30 {
		batch := rs[i:min(i+30, len(rs))]
		switch format {
		case "v5":
			dgs = append(dgs, v5(100_000, secs, 0, batch...))
		case "v9":
			dgs = append(dgs, v9(100_000, secs, 1, dataSet(256, false, false, batch...)))
		case "ipfix":
			for j := range batch {
				batch[j].firstMs, batch[j].lastMs = uint64(secs)*1000, uint64(secs)*1000+500
			}
			dgs = append(dgs, ipfixMsg(secs, 1, dataSet(256, true, false, batch...)))
		}
	}
	switch format {
	case "v9":
		setup = v9(100_000, secs, 1, templateSet(0, 256, v4Template(false, false)))
	case "ipfix":
		setup = ipfixMsg(secs, 1, templateSet(2, 256, v4Template(true, false)))
	}
	return setup, dgs
}

type discard struct{ n int }

func (d *discard) HandleRecord(*flow.Record) { d.n++ }

// BenchmarkDecode is the record path without accounting: one op is one
// record.
func BenchmarkDecode(b *testing.B) {
	for _, format := range []string{"v5", "v9", "ipfix"} {
		b.Run(format, func(b *testing.B) {
			benchRecords(b, format, &discard{})
		})
	}
}

// BenchmarkCollect is the record path into a flow.Worker with the test
// databases and a policy: decode, find the known flow, count. One op is
// one record.
func BenchmarkCollect(b *testing.B) {
	pol, err := policy.Parse([]byte("jurisdictions:\n  - name: sanctioned\n    countries: [RU]\n"))
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{"v5", "v9", "ipfix"} {
		b.Run(format, func(b *testing.B) {
			cfg := flow.DefaultConfig()
			cfg.Grouping = flow.ByMetrics
			cfg.NoHosts = true
			w := flow.NewWorker(flow.NewAccountant(flow.NewEnv(geotest.Resolver(b), pol, true), cfg), false)
			benchRecords(b, format, w)
		})
	}
}

func benchRecords(b *testing.B, format string, out RecordHandler) {
	cfg := &Config{}
	if err := cfg.init(); err != nil {
		b.Fatal(err)
	}
	d := newDecoder(cfg, newTemplates(0, 0), newWorkerStats(0), out)
	setup, dgs := benchDatagrams(format)
	if setup != nil {
		d.Decode(exporterA, setup, now)
	}
	for _, dg := range dgs { // every flow known, every exporter state made
		d.Decode(exporterA, dg, now)
	}
	perDatagram := 30
	b.ReportAllocs()
	b.ResetTimer()
	records := 0
	for i := 0; records < b.N; i++ {
		d.Decode(exporterA, dgs[i%len(dgs)], now)
		records += perDatagram
	}
	b.StopTimer()
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	if r := reasons(d, exporterA.String()); r["malformed"]+r["template_missing"] != 0 {
		b.Fatalf("reasons = %v", r)
	}
}

// Once the templates and flows are known, a record costs no allocation.
func TestRecordPathAllocs(t *testing.T) {
	pol, err := policy.Parse([]byte("jurisdictions:\n  - name: sanctioned\n    countries: [RU]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"v5", "v9", "ipfix"} {
		cfg := flow.DefaultConfig()
		cfg.Grouping = flow.ByMetrics
		w := flow.NewWorker(flow.NewAccountant(flow.NewEnv(geotest.Resolver(t), pol, true), cfg), false)
		c := &Config{}
		if err := c.init(); err != nil {
			t.Fatal(err)
		}
		d := newDecoder(c, newTemplates(0, 0), newWorkerStats(0), w)
		setup, dgs := benchDatagrams(format)
		if setup != nil {
			d.Decode(exporterA, setup, now)
		}
		for _, dg := range dgs {
			d.Decode(exporterA, dg, now)
		}
		i := 0
		if n := testing.AllocsPerRun(200, func() { d.Decode(exporterA, dgs[i%len(dgs)], now); i++ }); n != 0 {
			t.Errorf("%s: %v allocations per datagram of known flows, want 0", format, n)
		}
	}
}

// BenchmarkUDP sends NetFlow v9 datagrams over the loopback to a
// Collector with one worker as fast as one sender can, and reports the
// records accounted per second and the datagrams dropped on a full
// queue (the kernel's own drops, on a full socket buffer, are the
// difference between sent and received).
func BenchmarkUDP(b *testing.B) {
	pol, err := policy.Parse([]byte("jurisdictions:\n  - name: sanctioned\n    countries: [RU]\n"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := flow.DefaultConfig()
	cfg.Grouping = flow.ByMetrics
	cfg.NoHosts = true
	w := flow.NewWorker(flow.NewAccountant(flow.NewEnv(geotest.Resolver(b), pol, true), cfg), false)
	c, err := New(Options{Listen: []string{"127.0.0.1:0"}, ReadBuffer: 8 << 20}, []*flow.Worker{w})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(c.Addrs()[0]))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	setup, dgs := benchDatagrams("v9")
	if _, err := conn.Write(setup); err != nil {
		b.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	b.ResetTimer()
	sent := 0
	for i := 0; sent*30 < b.N; i++ {
		if _, err := conn.Write(dgs[i%len(dgs)]); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	// Let the worker drain its queue before counting.
	for prev := uint64(0); ; {
		time.Sleep(20 * time.Millisecond)
		n := c.stats[0].received.Load()
		if n == prev {
			break
		}
		prev = n
	}
	b.StopTimer()
	cancel()
	<-done
	s := c.stats[0]
	var records uint64
	for _, e := range s.list {
		records += e.records.Load()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(s.dropped.Load())/float64(sent), "queue-drops/datagram")
	b.ReportMetric(float64(uint64(sent+1)-s.received.Load())/float64(sent), "kernel-drops/datagram")
}
