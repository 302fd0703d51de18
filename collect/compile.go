package collect

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// kind is what the record path does with a template field.
type kind uint8

const (
	kNone kind = iota
	kBytes
	kPackets
	kProto
	kSrcPort
	kDstPort
	kSrc4
	kDst4
	kSrc6
	kDst6
	kIn
	kOut
	kFirstUp // FIRST_SWITCHED: system uptime, ms
	kLastUp
	kStartSec // flowStartSeconds
	kEndSec
	kStartMs // flowStartMilliseconds
	kEndMs
	kSampling  // samplingInterval, FLOW_SAMPLER_RANDOM_INTERVAL, samplingPacketInterval
	kSpace     // samplingPacketSpace: the rate is (interval+space)/interval
	kSamplerID // FLOW_SAMPLER_ID, selectorId
	kSysInit   // systemInitTimeMilliseconds
)

// kinds maps the information elements (NetFlow v9 field types, IANA IPFIX
// element IDs without an enterprise number) the collector reads.
var kinds = map[uint16]kind{
	1: kBytes, 2: kPackets, 4: kProto, 7: kSrcPort, 11: kDstPort,
	8: kSrc4, 12: kDst4, 27: kSrc6, 28: kDst6, 10: kIn, 14: kOut,
	22: kFirstUp, 21: kLastUp, 150: kStartSec, 151: kEndSec, 152: kStartMs, 153: kEndMs,
	34: kSampling, 50: kSampling, 305: kSampling, 306: kSpace,
	48: kSamplerID, 302: kSamplerID, 160: kSysInit,
}

// cfield is one field of a compiled template.
type cfield struct {
	off    uint16 // offset in the record (fixed-size templates)
	length uint16 // 0xffff: variable (IPFIX)
	kind   kind
}

// compiled is a template as the record path reads it.
type compiled struct {
	options bool
	fields  []cfield // every field in order (scopes first)
	used    []cfield // the fields with a kind, for fixed-size records
	size    int      // record size; 0 when some field is variable
	minSize int      // smallest record: the fixed fields and a length byte per variable one
	orig    []netflow.Field
}

var errBadTemplate = errors.New("template without fields or with a zero-length record")

func compile(tmpl any) (*compiled, error) {
	c := &compiled{}
	var fields []netflow.Field
	switch t := tmpl.(type) {
	case netflow.TemplateRecord:
		fields = t.Fields
	case netflow.NFv9OptionsTemplateRecord:
		c.options = true
		// NetFlow v9 scopes are scope types (system, interface, …), not
		// field types: they are skipped.
		for _, f := range t.Scopes {
			c.add(f, false)
		}
		fields = t.Options
	case netflow.IPFIXOptionsTemplateRecord:
		c.options = true
		fields = append(slices.Clip(t.Scopes), t.Options...)
	default:
		return nil, errBadTemplate
	}
	for _, f := range fields {
		c.add(f, true)
	}
	if c.minSize == 0 {
		return nil, errBadTemplate
	}
	fixed := true
	for _, f := range c.fields {
		if f.length == 0xffff {
			fixed = false
		}
	}
	if fixed {
		c.size = c.minSize
		for _, f := range c.fields {
			if f.kind != kNone {
				c.used = append(c.used, f)
			}
		}
	}
	return c, nil
}

func (c *compiled) add(f netflow.Field, ie bool) {
	cf := cfield{length: f.Length}
	if ie && !f.PenProvided {
		cf.kind = kinds[f.Type]
	}
	if f.Length == 0xffff {
		c.minSize++
	} else {
		cf.off = uint16(c.minSize)
		c.minSize += int(f.Length)
	}
	c.fields = append(c.fields, cf)
	c.orig = append(c.orig, f)
}

func (c *compiled) equal(o *compiled) bool {
	return c.options == o.options && slices.Equal(c.orig, o.orig)
}

// fields of one decoded record.
type values struct {
	bytes, packets          uint64
	proto                   uint8
	srcPort, dstPort        uint16
	src, dst                netip.Addr
	in, out                 uint32
	firstUp, lastUp         uint64
	hasUp                   bool
	start, end              int64 // Unix ns, 0 when absent
	sampling, space, sample uint64
	hasSampler              bool
	sysInit                 int64
}

// record reads one record of c from b at off and returns its length, or 0
// when b is too short.
func (c *compiled) record(b []byte, off int, v *values) int {
	*v = values{}
	if c.size > 0 {
		if off+c.size > len(b) {
			return 0
		}
		r := b[off : off+c.size]
		for _, f := range c.used {
			v.set(f.kind, r[f.off:int(f.off)+int(f.length)])
		}
		return c.size
	}
	at := off
	for _, f := range c.fields {
		n := int(f.length)
		if f.length == 0xffff {
			if at >= len(b) {
				return 0
			}
			n = int(b[at])
			at++
			if n == 0xff {
				if at+2 > len(b) {
					return 0
				}
				n = int(binary.BigEndian.Uint16(b[at:]))
				at += 2
			}
		}
		if at+n > len(b) {
			return 0
		}
		if f.kind != kNone {
			v.set(f.kind, b[at:at+n])
		}
		at += n
	}
	if at == off {
		return 0
	}
	return at - off
}

// uintBE reads an unsigned big-endian integer of 1 to 8 bytes (IPFIX
// reduced-size encoding); longer fields read as 0.
func uintBE(b []byte) uint64 {
	if len(b) > 8 {
		return 0
	}
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

func (v *values) set(k kind, b []byte) {
	switch k {
	case kBytes:
		v.bytes = uintBE(b)
	case kPackets:
		v.packets = uintBE(b)
	case kProto:
		v.proto = uint8(uintBE(b))
	case kSrcPort:
		v.srcPort = uint16(uintBE(b))
	case kDstPort:
		v.dstPort = uint16(uintBE(b))
	case kSrc4:
		if len(b) == 4 {
			v.src = netip.AddrFrom4([4]byte(b))
		}
	case kDst4:
		if len(b) == 4 {
			v.dst = netip.AddrFrom4([4]byte(b))
		}
	case kSrc6:
		if len(b) == 16 {
			v.src = netip.AddrFrom16([16]byte(b))
		}
	case kDst6:
		if len(b) == 16 {
			v.dst = netip.AddrFrom16([16]byte(b))
		}
	case kIn:
		v.in = uint32(uintBE(b))
	case kOut:
		v.out = uint32(uintBE(b))
	case kFirstUp:
		v.firstUp, v.hasUp = uintBE(b), true
	case kLastUp:
		v.lastUp, v.hasUp = uintBE(b), true
	case kStartSec:
		v.start = int64(uintBE(b)) * 1e9
	case kEndSec:
		v.end = int64(uintBE(b)) * 1e9
	case kStartMs:
		v.start = int64(uintBE(b)) * 1e6
	case kEndMs:
		v.end = int64(uintBE(b)) * 1e6
	case kSampling:
		v.sampling = uintBE(b)
	case kSpace:
		v.space = uintBE(b)
	case kSamplerID:
		v.sample, v.hasSampler = uintBE(b), true
	case kSysInit:
		v.sysInit = int64(uintBE(b)) * 1e6
	}
}

// rate is the sampling rate the values announce (0: none).
func (v *values) rate() uint64 {
	if v.sampling == 0 {
		return 0
	}
	if v.space > 0 {
		// PSAMP systematic count-based: interval packets taken, space skipped.
		return (v.sampling + v.space) / v.sampling
	}
	return v.sampling
}
