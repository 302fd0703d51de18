package collect

import (
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
)

// NewDecoder returns a decoder of its own (templates, counters) handing
// its records to out: for captures of exported datagrams (analyze
// --flow-records), where no Collector runs.
func NewDecoder(cfg *Config, out RecordHandler) *Decoder {
	if cfg == nil {
		cfg, _ = LoadConfig("")
	}
	return newDecoder(cfg, newTemplates(0, 0), newWorkerStats(0), out)
}

// Frame decodes a captured frame holding a flow datagram (UDP, from its
// exporter's address), dated by the capture. It reports whether the frame
// was a UDP datagram; a capture of exported flows is not on the packet
// path, so gopacket's layers read it.
func (d *Decoder) Frame(f *capture.Frame) bool {
	p := gopacket.NewPacket(f.Data, layers.LinkType(f.Link), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	udp, ok := p.TransportLayer().(*layers.UDP)
	if !ok || p.NetworkLayer() == nil {
		return false
	}
	src, ok := netip.AddrFromSlice(p.NetworkLayer().NetworkFlow().Src().Raw())
	if !ok {
		return false
	}
	d.Decode(src, udp.Payload, f.Timestamp)
	return true
}

// Counts returns what the decoder counted, summed over its exporters:
// records accounted, and datagrams, sets or records by reason.
func (d *Decoder) Counts() (records uint64, reasons [NumReasons]uint64) {
	for _, c := range d.stats.list {
		records += c.records.Load()
		for r := range NumReasons {
			reasons[r] += c.reasons[r].Load()
		}
	}
	return records, reasons
}
