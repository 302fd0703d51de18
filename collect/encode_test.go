package collect

import (
	"encoding/binary"
	"net/netip"
)

// Test encoders of the four formats, written from the RFCs (3954, 7011)
// and the sFlow v5 specification, to feed the decoder datagrams whose
// every field the test chose.

type testRecord struct {
	src, dst        netip.Addr
	sport, dport    uint16
	proto           uint8
	bytes, packets  uint32
	in, out         uint16
	firstMs, lastMs uint64 // uptime (v5, v9) or Unix ms (IPFIX)
	samplerID       uint8  // 0: none in the template
}

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// v5 builds a NetFlow v5 datagram.
func v5(uptime, secs uint32, sampling uint16, rs ...testRecord) []byte {
	b := be16(nil, 5)
	b = be16(b, uint16(len(rs)))
	b = be32(b, uptime)
	b = be32(b, secs)
	b = be32(b, 0)
	b = be32(b, 1)
	b = append(b, 0, 0)
	b = be16(b, sampling)
	for _, r := range rs {
		b = append(b, r.src.AsSlice()...)
		b = append(b, r.dst.AsSlice()...)
		b = be32(b, 0)
		b = be16(b, r.in)
		b = be16(b, r.out)
		b = be32(b, r.packets)
		b = be32(b, r.bytes)
		b = be32(b, uint32(r.firstMs))
		b = be32(b, uint32(r.lastMs))
		b = be16(b, r.sport)
		b = be16(b, r.dport)
		b = append(b, 0, 0x10, r.proto, 0)
		b = be32(b, 0)
		b = append(b, 24, 24, 0, 0)
	}
	return b
}

// A template: field type and length pairs.
type tfield struct{ typ, length uint16 }

func v4Template(ipfix, sampler bool) []tfield {
	f := []tfield{{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 4}, {2, 4}, {10, 2}, {14, 2}}
	if ipfix {
		f = append(f, tfield{152, 8}, tfield{153, 8})
	} else {
		f = append(f, tfield{22, 4}, tfield{21, 4})
	}
	if sampler {
		f = append(f, tfield{48, 1})
	}
	return f
}

func v6Template(ipfix bool) []tfield {
	f := v4Template(ipfix, false)
	f[0], f[1] = tfield{27, 16}, tfield{28, 16}
	return f
}

func templateSet(setID, id uint16, fields []tfield) []byte {
	b := be16(nil, id)
	b = be16(b, uint16(len(fields)))
	for _, f := range fields {
		b = be16(b, f.typ)
		b = be16(b, f.length)
	}
	return set(setID, b)
}

func set(id uint16, body []byte) []byte {
	b := be16(nil, id)
	b = be16(b, uint16(4+len(body)))
	return append(b, body...)
}

func dataSet(id uint16, ipfix bool, sampler bool, rs ...testRecord) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, r.src.AsSlice()...)
		b = append(b, r.dst.AsSlice()...)
		b = be16(b, r.sport)
		b = be16(b, r.dport)
		b = append(b, r.proto)
		b = be32(b, r.bytes)
		b = be32(b, r.packets)
		b = be16(b, r.in)
		b = be16(b, r.out)
		if ipfix {
			b = binary.BigEndian.AppendUint64(b, r.firstMs)
			b = binary.BigEndian.AppendUint64(b, r.lastMs)
		} else {
			b = be32(b, uint32(r.firstMs))
			b = be32(b, uint32(r.lastMs))
		}
		if sampler {
			b = append(b, r.samplerID)
		}
	}
	return set(id, b)
}

// v9 builds a NetFlow v9 datagram of flow sets.
func v9(uptime, secs, domain uint32, sets ...[]byte) []byte {
	b := be16(nil, 9)
	b = be16(b, uint16(len(sets)))
	b = be32(b, uptime)
	b = be32(b, secs)
	b = be32(b, 1)
	b = be32(b, domain)
	for _, s := range sets {
		b = append(b, s...)
	}
	return b
}

// ipfixMsg builds an IPFIX message of sets.
func ipfixMsg(export, domain uint32, sets ...[]byte) []byte {
	var body []byte
	for _, s := range sets {
		body = append(body, s...)
	}
	b := be16(nil, 10)
	b = be16(b, uint16(16+len(body)))
	b = be32(b, export)
	b = be32(b, 1)
	b = be32(b, domain)
	return append(b, body...)
}

// v9SamplerOptions is a v9 options template (scope: system) and its data:
// sampler id, and its interval.
func v9SamplerOptions(id uint16, sampler uint8, interval uint32) (tmpl, data []byte) {
	t := be16(nil, id)
	t = be16(t, 4)  // scope length: one field
	t = be16(t, 8)  // option length: two fields
	t = be16(t, 1)  // scope: system
	t = be16(t, 4)  //   4 bytes
	t = be16(t, 48) // FLOW_SAMPLER_ID
	t = be16(t, 1)
	t = be16(t, 34) // SAMPLING_INTERVAL
	t = be16(t, 4)
	d := be32(nil, 0)
	d = append(d, sampler)
	d = be32(d, interval)
	d = append(d, 0, 0, 0) // padding
	return set(1, t), set(id, d)
}

// ipfixSamplingOptions is an IPFIX options template scoped by the
// observation domain, with samplingPacketInterval/Space, and its data.
func ipfixSamplingOptions(id uint16, domain, interval, space uint32) (tmpl, data []byte) {
	t := be16(nil, id)
	t = be16(t, 3) // fields
	t = be16(t, 1) // scope fields
	t = be16(t, 149)
	t = be16(t, 4)
	t = be16(t, 305)
	t = be16(t, 4)
	t = be16(t, 306)
	t = be16(t, 4)
	d := be32(nil, domain)
	d = be32(d, interval)
	d = be32(d, space)
	return set(3, t), set(id, d)
}

// sflowDatagram builds an sFlow v5 datagram of flow samples, each with a
// raw header record of an Ethernet frame.
func sflowDatagram(agent netip.Addr, samples ...sflowSample) []byte {
	b := be32(nil, 5)
	b = be32(b, 1)
	b = append(b, agent.AsSlice()...)
	b = be32(b, 0) // sub agent
	b = be32(b, 1) // sequence
	b = be32(b, 1000)
	b = be32(b, uint32(len(samples)))
	for _, s := range samples {
		rec := be32(nil, 1) // header protocol: Ethernet
		rec = be32(rec, s.frameLen)
		rec = be32(rec, 4) // stripped (the FCS)
		rec = be32(rec, uint32(len(s.frame)))
		rec = append(rec, s.frame...)
		for len(rec)%4 != 0 {
			rec = append(rec, 0)
		}
		smp := be32(nil, 1)     // sequence
		smp = be32(smp, 3)      // source id
		smp = be32(smp, s.rate) // sampling rate
		smp = be32(smp, 100)    // pool
		smp = be32(smp, 0)      // drops
		smp = be32(smp, s.in)   // input
		smp = be32(smp, s.out)  // output
		smp = be32(smp, 1)      // records
		smp = be32(smp, 1)      // record format: raw packet header
		smp = be32(smp, uint32(len(rec)))
		smp = append(smp, rec...)
		b = be32(b, 1) // sample format: flow sample
		b = be32(b, uint32(len(smp)))
		b = append(b, smp...)
	}
	return b
}

type sflowSample struct {
	rate, in, out uint32
	frameLen      uint32
	frame         []byte
}

// ethIPv4 builds an Ethernet frame of an IPv4 UDP packet of ipLen bytes,
// cut to its headers.
func ethIPv4(src, dst netip.Addr, sport, dport uint16, ipLen uint16) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], ipLen)
	ip = append(ip, src.AsSlice()...)
	ip = append(ip, dst.AsSlice()...)
	b = append(b, ip...)
	b = be16(b, sport)
	b = be16(b, dport)
	b = be16(b, ipLen-20)
	b = be16(b, 0)
	return b
}
