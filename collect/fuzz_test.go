package collect

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
)

// FuzzDecode feeds any datagram to a decoder that already knows a few
// templates: it must count, never panic, and hand over only records with
// two addresses of one family. NetFlow v5 datagrams that goflow2's decoder
// reads whole must give the same records.
func FuzzDecode(f *testing.F) {
	rec := testRecord{src: local, dst: remoteRU, sport: 40000, dport: 443, proto: 6, bytes: 1500, packets: 3, in: 2, out: 1, firstMs: 10_000, lastMs: 12_000}
	samplerTmpl, samplerData := v9SamplerOptions(300, 7, 1000)
	optsTmpl, optsData := ipfixSamplingOptions(400, 5, 1, 99)
	seeds := [][]byte{
		v5(100_000, secs, 0x4000|100, rec, rec),
		v9(100_000, secs, 1, templateSet(0, 256, v4Template(false, false)), dataSet(256, false, false, rec)),
		v9(100_000, secs, 1, samplerTmpl, samplerData, templateSet(0, 257, v4Template(false, true)), dataSet(257, false, true, rec)),
		ipfixMsg(secs, 5, optsTmpl, optsData, templateSet(2, 256, v6Template(true)), dataSet(256, true, false, rec)),
		ipfixMsg(secs, 5, templateSet(2, 258, []tfield{{8, 4}, {12, 4}, {1, 0xffff}, {2, 8}}), set(258, []byte{192, 0, 2, 1, 10, 0, 0, 1, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1})),
		sflowDatagram(exporterA, sflowSample{rate: 512, in: 3, out: 4, frameLen: 1518, frame: ethIPv4(remoteRU, local, 53, 5000, 1500)}),
		{0, 9, 0, 0},
		{0, 10, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, out := newTestDecoder(t, &Config{MaxSamplingRate: 1 << 16})
		for _, s := range seeds[1:4] { // templates known
			d.Decode(exporterA, s, now)
		}
		*out = (*out)[:0]
		d.Decode(exporterA, data, now)
		for _, r := range *out {
			if !r.Src.Addr().IsValid() || !r.Dst.Addr().IsValid() || r.Src.Addr().Is4() != r.Dst.Addr().Is4() {
				t.Fatalf("record with bad addresses: %+v", r)
			}
			if r.SamplingRate == 0 || r.SamplingRate > 1<<16 {
				t.Fatalf("record with sampling rate %d", r.SamplingRate)
			}
		}
		if len(data) >= v5Header && data[0] == 0 && data[1] == 5 {
			var p netflowlegacy.PacketNetFlowV5
			if netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(data), &p) == nil && len(data) == v5Header+len(p.Records)*v5Record {
				if len(p.Records) != len(*out) {
					t.Fatalf("%d records, goflow2 reads %d", len(*out), len(p.Records))
				}
				for i, g := range p.Records {
					r := (*out)[i]
					src := netip.AddrFrom4([4]byte{byte(g.SrcAddr >> 24), byte(g.SrcAddr >> 16), byte(g.SrcAddr >> 8), byte(g.SrcAddr)})
					if r.Src.Addr() != src || r.Src.Port() != g.SrcPort || r.Dst.Port() != g.DstPort || r.Proto != g.Proto ||
						r.Bytes != uint64(g.DOctets) || r.Packets != uint64(g.DPkts) {
						t.Fatalf("record %d = %+v, goflow2 reads %+v", i, r, g)
					}
				}
			}
		}
	})
}
