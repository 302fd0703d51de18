// Package collect receives flow records from routers and switches
// (NetFlow v5, v9, IPFIX, sFlow v5) over UDP and hands them to flow
// workers as flow.Record increments: the same enrichers, policy, metrics
// and events as captured packets.
//
// goflow2's decoders read what is rare (templates, options templates,
// sFlow datagrams, and the NetFlow v5 reference in the tests); the data
// records of NetFlow v9 and IPFIX, and NetFlow v5's, are read by the
// collector from templates compiled to offsets, so that a record of a
// known template costs no allocation.
package collect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/sflow"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/flow"
)

// RecordHandler takes the decoded records: a *flow.Worker.
type RecordHandler interface{ HandleRecord(*flow.Record) }

// Reason counts what went wrong with a datagram or a record, or how a
// record was accounted.
type Reason uint8

const (
	// Malformed datagrams: cut short, lengths or counts that do not add up.
	Malformed Reason = iota
	// UnknownVersion datagrams: neither NetFlow v5, v9, IPFIX nor sFlow v5.
	UnknownVersion
	// TemplateMissing data sets: their template was not (yet) announced,
	// so their records cannot be read.
	TemplateMissing
	// TemplateRefused templates: past the per-exporter cap (a flood).
	TemplateRefused
	// ExporterRefused datagrams: from exporters past the exporter cap.
	ExporterRefused
	// SamplingUnknown records: no rate announced, accounted with the default.
	SamplingUnknown
	// SamplingAbsurd records: the announced rate is above the maximum and
	// was ignored (the default or the override was used).
	SamplingAbsurd
	// NoAddress records: without source and destination addresses of one family.
	NoAddress
	// ClockSkew records: dated after their arrival (the exporter's clock is
	// ahead), accounted as if they had just ended.
	ClockSkew
	// NumReasons is the number of reasons.
	NumReasons
)

var reasonNames = [NumReasons]string{"malformed", "unknown_version", "template_missing", "template_refused",
	"exporter_refused", "sampling_unknown", "sampling_absurd", "no_address", "clock_skew"}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "invalid"
}

// Decoder decodes the datagrams of one worker. Not safe for concurrent
// use: each worker goroutine owns one, with its flow.Worker.
type Decoder struct {
	cfg   *Config
	tmpl  *templates
	out   RecordHandler
	stats *workerStats

	cache map[netip.Addr]*exporterState // this worker's exporters
	now   int64                         // the datagram's arrival
	rec   flow.Record
	vals  values
	pkt   capture.Packet
	dec   *capture.Decoder
	sf    sflow.Packet
	buf   bytes.Buffer
}

// exporterState is what one worker knows of one exporter.
type exporterState struct {
	cfg  *ExporterConfig // nil when not configured
	tmpl *exporterTemplates
	c    *exporterCounters
}

func newDecoder(cfg *Config, t *templates, stats *workerStats, out RecordHandler) *Decoder {
	return &Decoder{cfg: cfg, tmpl: t, out: out, stats: stats, cache: make(map[netip.Addr]*exporterState), dec: capture.NewDecoder()}
}

func (d *Decoder) exporter(a netip.Addr) *exporterState {
	if e, ok := d.cache[a]; ok {
		return e
	}
	cfg := d.cfg.exporter(a)
	label := a.String()
	if cfg != nil && cfg.Name != "" {
		label = cfg.Name
	}
	e := &exporterState{cfg: cfg}
	if e.tmpl = d.tmpl.exporter(a); e.tmpl == nil {
		label = otherLabel
	}
	e.c = d.stats.exporter(label)
	if e.tmpl != nil {
		// Past the exporter cap the state is not cached: it would grow
		// the map with every spoofed address.
		d.cache[a] = e
	}
	return e
}

// otherLabel is the exporter and interface label of what is past the caps.
const otherLabel = "other"

// Decode accounts the records of one datagram from the exporter at from.
// now (Unix ns) dates records whose exporter gives no time.
func (d *Decoder) Decode(from netip.Addr, data []byte, now int64) {
	e := d.exporter(from.Unmap())
	c := e.c
	d.now = now
	c.datagrams.Store(c.datagrams.Load() + 1)
	c.last.Store(now)
	if e.tmpl == nil {
		c.count(ExporterRefused)
		return
	}
	if len(data) < 4 {
		c.count(Malformed)
		return
	}
	switch binary.BigEndian.Uint16(data) {
	case 5:
		d.netflow5(e, data)
	case 9:
		d.netflow9(e, data)
	case 10:
		d.ipfix(e, data, now)
	case 0:
		if binary.BigEndian.Uint32(data) == 5 {
			d.sflow5(e, data, now)
			return
		}
		c.count(UnknownVersion)
	default:
		c.count(UnknownVersion)
	}
}

// emit accounts the record in d.vals.
func (d *Decoder) emit(e *exporterState, first, last int64, announced uint64) {
	v := &d.vals
	c := e.c
	if !v.src.IsValid() || !v.dst.IsValid() || v.src.Is4() != v.dst.Is4() {
		c.count(NoAddress)
		return
	}
	if last > d.now+maxAhead {
		// A record from the future would move the worker's clock ahead and
		// end every other exporter's flows: it ends now instead.
		c.count(ClockSkew)
		first, last = d.now-min(last-first, int64(time.Hour)), d.now
	}
	rate := d.rate(e, announced)
	d.rec = flow.Record{
		First: first, Last: last,
		Src: netip.AddrPortFrom(v.src, v.srcPort), Dst: netip.AddrPortFrom(v.dst, v.dstPort),
		Proto: v.proto, Bytes: v.bytes, Packets: v.packets, SamplingRate: rate,
		Sides: e.cfg.sides(v.in, v.out),
	}
	d.out.HandleRecord(&d.rec)
	bytes, packets := v.bytes*uint64(rate), v.packets*uint64(rate)
	c.records.Store(c.records.Load() + 1)
	c.bytes.Store(c.bytes.Load() + bytes)
	c.packets.Store(c.packets.Load() + packets)
	if v.in != 0 {
		i := d.stats.iface(c, e.cfg, v.in)
		i.bytes[0].Store(i.bytes[0].Load() + bytes)
		i.packets[0].Store(i.packets[0].Load() + packets)
	}
	if v.out != 0 {
		i := d.stats.iface(c, e.cfg, v.out)
		i.bytes[1].Store(i.bytes[1].Load() + bytes)
		i.packets[1].Store(i.packets[1].Load() + packets)
	}
}

// maxAhead is how far past its arrival a record may end: the exporter's
// clock and the collector's are rarely exactly in step.
const maxAhead = int64(10 * time.Second)

// rate picks the sampling rate of a record: the configured override, else
// the exporter's (when believable), else the default.
func (d *Decoder) rate(e *exporterState, announced uint64) uint32 {
	c := e.c
	r := d.cfg.DefaultSamplingRate
	switch {
	case e.cfg != nil && e.cfg.SamplingRate > 0:
		r = e.cfg.SamplingRate
	case announced == 0:
		c.count(SamplingUnknown)
	case announced > uint64(d.cfg.MaxSamplingRate):
		c.count(SamplingAbsurd)
	default:
		r = uint32(announced)
	}
	c.rate.Store(r)
	return r
}

// NetFlow v5: a 24-byte header and 48-byte records.
const (
	v5Header = 24
	v5Record = 48
)

func (d *Decoder) netflow5(e *exporterState, b []byte) {
	if len(b) < v5Header {
		e.c.count(Malformed)
		return
	}
	count := int(binary.BigEndian.Uint16(b[2:]))
	uptime := int64(binary.BigEndian.Uint32(b[4:]))
	boot := int64(binary.BigEndian.Uint32(b[8:]))*1e9 + int64(binary.BigEndian.Uint32(b[12:])) - uptime*1e6
	sampling := uint64(binary.BigEndian.Uint16(b[22:]) & 0x3fff)
	if len(b) != v5Header+count*v5Record {
		e.c.count(Malformed)
		count = min(count, (len(b)-v5Header)/v5Record)
	}
	for i := range count {
		r := b[v5Header+i*v5Record : v5Header+(i+1)*v5Record]
		d.vals = values{
			src:     netip.AddrFrom4([4]byte(r[0:4])),
			dst:     netip.AddrFrom4([4]byte(r[4:8])),
			in:      uint32(binary.BigEndian.Uint16(r[12:])),
			out:     uint32(binary.BigEndian.Uint16(r[14:])),
			packets: uint64(binary.BigEndian.Uint32(r[16:])),
			bytes:   uint64(binary.BigEndian.Uint32(r[20:])),
			srcPort: binary.BigEndian.Uint16(r[32:]),
			dstPort: binary.BigEndian.Uint16(r[34:]),
			proto:   r[38],
		}
		first := boot + int64(binary.BigEndian.Uint32(r[24:]))*1e6
		last := boot + int64(binary.BigEndian.Uint32(r[28:]))*1e6
		d.emit(e, first, last, sampling)
	}
}

// netflow9 walks a NetFlow v9 datagram: a 20-byte header, then flow sets.
func (d *Decoder) netflow9(e *exporterState, b []byte) {
	if len(b) < 20 {
		e.c.count(Malformed)
		return
	}
	uptime := int64(binary.BigEndian.Uint32(b[4:]))
	secs := int64(binary.BigEndian.Uint32(b[8:]))
	h := header{version: 9, domain: binary.BigEndian.Uint32(b[16:]), boot: secs*1e9 - uptime*1e6, export: secs * 1e9}
	d.sets(e, &h, b[20:])
}

// ipfix walks an IPFIX message: a 16-byte header, then sets.
func (d *Decoder) ipfix(e *exporterState, b []byte, now int64) {
	if len(b) < 16 {
		e.c.count(Malformed)
		return
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < 16 || n > len(b) {
		e.c.count(Malformed)
		return
	}
	h := header{version: 10, domain: binary.BigEndian.Uint32(b[12:]), export: int64(binary.BigEndian.Uint32(b[4:])) * 1e9}
	if h.export == 0 {
		h.export = now
	}
	d.sets(e, &h, b[16:n])
}

type header struct {
	version uint16
	domain  uint32
	boot    int64 // NetFlow v9: Unix ns at the exporter's uptime 0
	export  int64
}

// sets walks the flow sets (v9) or sets (IPFIX) of a datagram.
func (d *Decoder) sets(e *exporterState, h *header, b []byte) {
	for len(b) > 0 {
		if len(b) < 4 {
			e.c.count(Malformed)
			return
		}
		id := binary.BigEndian.Uint16(b)
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			e.c.count(Malformed)
			return
		}
		body := b[4:n]
		b = b[n:]
		switch {
		case id >= 256:
			d.data(e, h, id, body)
		case h.version == 9 && id <= 1, h.version == 10 && (id == 2 || id == 3):
			d.templateSet(e, h, id, body)
		default:
			// Reserved set IDs: skipped, as RFC 7011 says.
		}
	}
}

// templateSet decodes a template or options template set with goflow2
// and stores its templates.
func (d *Decoder) templateSet(e *exporterState, h *header, id uint16, body []byte) {
	if !templatesFit(id, body) {
		// goflow2 sizes a template's field slice from its field count
		// before reading the fields: a count the set cannot hold would
		// make it allocate up to 786 kB for nothing.
		e.c.count(Malformed)
		return
	}
	d.buf.Reset()
	d.buf.Write(body)
	var tmpls []any
	var err error
	switch {
	case id == 0 || id == 2:
		var rs []netflow.TemplateRecord
		rs, err = netflow.DecodeTemplateSet(h.version, &d.buf)
		for _, r := range rs {
			tmpls = append(tmpls, r)
		}
	case id == 1:
		var rs []netflow.NFv9OptionsTemplateRecord
		rs, err = netflow.DecodeNFv9OptionsTemplateSet(&d.buf)
		for _, r := range rs {
			tmpls = append(tmpls, r)
		}
	default:
		var rs []netflow.IPFIXOptionsTemplateRecord
		rs, err = netflow.DecodeIPFIXOptionsTemplateSet(&d.buf)
		for _, r := range rs {
			tmpls = append(tmpls, r)
		}
	}
	if err != nil {
		e.c.count(Malformed)
	}
	for _, t := range tmpls {
		k := templateKey{version: h.version, domain: h.domain, id: templateID(t)}
		if k.id < 256 {
			e.c.count(Malformed)
			continue
		}
		changed, err := e.tmpl.add(k, t, d.tmpl.maxEach)
		switch {
		case errors.Is(err, errTemplateFlood):
			e.c.count(TemplateRefused)
		case err != nil:
			e.c.count(Malformed)
		case changed:
			d.tmpl.changed.Store(true)
		}
	}
}

// templatesFit reports whether every template record of a set claims no
// more fields than the set's bytes hold: 4 bytes a field, 8 with an IPFIX
// enterprise number.
func templatesFit(id uint16, b []byte) bool {
	for len(b) >= 4 {
		var fields int
		head := 4
		switch id {
		case 0, 2: // template ID, field count
			fields = int(binary.BigEndian.Uint16(b[2:]))
		case 1: // NetFlow v9 options: template ID, scope length, option length (bytes)
			if len(b) < 6 {
				return false
			}
			head = 6
			fields = (int(binary.BigEndian.Uint16(b[2:])) + int(binary.BigEndian.Uint16(b[4:]))) / 4
		case 3: // IPFIX options: template ID, field count, scope field count
			if len(b) < 6 {
				return false
			}
			head = 6
			fields = int(binary.BigEndian.Uint16(b[2:]))
		}
		if head+4*fields > len(b) {
			return false
		}
		at := head
		for range fields {
			if at+4 > len(b) {
				return false
			}
			if id >= 2 && b[at]&0x80 != 0 {
				at += 4 // enterprise number
			}
			at += 4
		}
		if at > len(b) {
			return false
		}
		b = b[at:]
	}
	return true
}

func templateID(t any) uint16 {
	switch t := t.(type) {
	case netflow.TemplateRecord:
		return t.TemplateId
	case netflow.NFv9OptionsTemplateRecord:
		return t.TemplateId
	case netflow.IPFIXOptionsTemplateRecord:
		return t.TemplateId
	}
	return 0
}

// data reads the records of a data set with its compiled template.
func (d *Decoder) data(e *exporterState, h *header, id uint16, b []byte) {
	c := e.tmpl.get(templateKey{version: h.version, domain: h.domain, id: id})
	if c == nil {
		e.c.count(TemplateMissing)
		return
	}
	v := &d.vals
	// Records until what is left is shorter than the smallest record:
	// padding (RFC 7011 3.3.1).
	for off := 0; len(b)-off >= c.minSize; {
		n := c.record(b, off, v)
		if n == 0 {
			e.c.count(Malformed)
			return
		}
		off += n
		if c.options {
			d.option(e, h)
			continue
		}
		first, last := h.export, h.export
		switch {
		case v.start != 0:
			first, last = v.start, max(v.end, v.start)
		case v.hasUp:
			boot := h.boot
			if h.version == 10 {
				boot = e.tmpl.sysInitTime(h.domain)
			}
			if boot != 0 {
				first, last = boot+int64(v.firstUp)*1e6, boot+int64(v.lastUp)*1e6
			}
		}
		announced := v.rate()
		if announced == 0 {
			announced = uint64(e.tmpl.rate(h.version, h.domain, v.sample, v.hasSampler))
		}
		d.emit(e, first, last, announced)
	}
}

// option keeps what an options record says: a sampling rate (of a sampler
// or of the whole domain) and the IPFIX exporter's boot time.
func (d *Decoder) option(e *exporterState, h *header) {
	v := &d.vals
	if r := v.rate(); r != 0 {
		if r > uint64(d.cfg.MaxSamplingRate) {
			e.c.count(SamplingAbsurd)
		} else if e.tmpl.setRate(samplerKey{version: h.version, domain: h.domain, sampler: v.sample, scoped: v.hasSampler}, uint32(r)) {
			d.tmpl.changed.Store(true)
		}
		if !v.hasSampler {
			return
		}
		// A sampler's rate is also the domain's when it announces none.
		if e.tmpl.rate(h.version, h.domain, 0, false) == 0 && r <= uint64(d.cfg.MaxSamplingRate) {
			e.tmpl.setRate(samplerKey{version: h.version, domain: h.domain}, uint32(r))
		}
	}
	if v.sysInit != 0 {
		e.tmpl.setSysInit(h.domain, v.sysInit)
	}
}

// sflow5 decodes an sFlow v5 datagram with goflow2 and accounts its flow
// samples: one sampled packet each, its IP bytes from its header.
func (d *Decoder) sflow5(e *exporterState, b []byte, now int64) {
	d.buf.Reset()
	d.buf.Write(b)
	d.sf = sflow.Packet{}
	if err := sflow.DecodeMessageVersion(&d.buf, &d.sf); err != nil {
		e.c.count(Malformed)
		// What was decoded before the error is still accounted.
	}
	for _, s := range d.sf.Samples {
		var rate uint32
		var in, out uint32
		var recs []sflow.FlowRecord
		switch s := s.(type) {
		case sflow.FlowSample:
			rate, in, out, recs = s.SamplingRate, s.Input&0x3fffffff, s.Output&0x3fffffff, s.Records
		case sflow.ExpandedFlowSample:
			rate, in, out, recs = s.SamplingRate, s.InputIfValue, s.OutputIfValue, s.Records
		default:
			continue // counters and drops
		}
		described := false
		for _, r := range recs {
			if !d.sampled(r.Data) {
				continue
			}
			d.vals.in, d.vals.out = in, out
			d.emit(e, now, now, uint64(rate))
			described = true
			break // one packet per sample, whichever record describes it first
		}
		if !described {
			// No record of the sample gives an IP packet's addresses (a
			// non-IP frame, or a header cut inside the IP header).
			e.c.count(NoAddress)
		}
	}
}

// sampled fills d.vals from an sFlow flow record describing the sampled
// packet: its header, or its IPv4/IPv6 summary.
func (d *Decoder) sampled(r any) bool {
	v := &d.vals
	*v = values{packets: 1}
	switch r := r.(type) {
	case sflow.SampledHeader:
		var link capture.LinkType
		switch r.Protocol {
		case 1:
			link = capture.LinkEthernet
		case 11:
			link = capture.LinkIPv4
		case 12:
			link = capture.LinkIPv6
		default:
			return false
		}
		d.pkt = capture.Packet{}
		if d.dec.Decode(link, r.HeaderData, &d.pkt) != capture.Decoded {
			return false
		}
		p := &d.pkt
		v.src, v.dst, v.srcPort, v.dstPort, v.proto, v.bytes = p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, uint64(p.IPLen)
		return true
	case sflow.SampledIPv4:
		return d.sampledIP(&r.SampledIPBase)
	case sflow.SampledIPv6:
		return d.sampledIP(&r.SampledIPBase)
	}
	return false
}

func (d *Decoder) sampledIP(r *sflow.SampledIPBase) bool {
	v := &d.vals
	var ok bool
	if v.src, ok = netip.AddrFromSlice(r.SrcIP); !ok {
		return false
	}
	if v.dst, ok = netip.AddrFromSlice(r.DstIP); !ok {
		return false
	}
	v.srcPort, v.dstPort, v.proto, v.bytes = uint16(r.SrcPort), uint16(r.DstPort), uint8(r.Protocol), uint64(r.Length)
	return true
}
