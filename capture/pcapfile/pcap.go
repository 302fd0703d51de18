package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jurismon/jurismon/capture"
)

// pcap magic numbers as read little-endian from the first four bytes; the
// byte-swapped values mean the file was written big-endian.
const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	// Alexey Kuznetsov's patched libpcap: microseconds, and 8 more bytes
	// (ifindex, protocol, packet type) in every record header. tcpdump
	// still reads these, so we do too.
	pcapMagicKuznetsov = 0xa1b2cd34
)

const pcapFileHeaderLen = 24

type pcapState struct {
	bigEndian bool
	fracMul   int64 // nanoseconds per unit of the timestamp fraction
	recHdr    int   // record header length: 16, or 24 for Kuznetsov files
	link      capture.LinkType
	snaplen   uint32
}

// openPcap parses the 24-byte file header. magic is its first four bytes
// read little-endian.
func (s *FileSource) openPcap(magic uint32) error {
	if err := s.in.fill(pcapFileHeaderLen); err != nil {
		return s.headerErr(err, "pcap file", pcapFileHeaderLen)
	}
	p := &s.pcap
	p.bigEndian = magic != pcapMagicMicro && magic != pcapMagicNano && magic != pcapMagicKuznetsov
	if p.bigEndian {
		magic = swap32(magic)
	}
	p.fracMul, p.recHdr = 1000, 16
	switch magic {
	case pcapMagicNano:
		p.fracMul = 1
	case pcapMagicKuznetsov:
		p.recHdr = 24
	}
	h := s.in.buf[s.in.pos : s.in.pos+pcapFileHeaderLen]
	order := p.order()
	if major := order.Uint16(h[4:]); major != 2 {
		return fmt.Errorf("capture: %s: unsupported pcap version %d.%d: %w", s.name, major, order.Uint16(h[6:]), ErrCorrupt)
	}
	p.snaplen = order.Uint32(h[16:])
	// The upper bits of the link-type field carry FCS information
	// (tcpdump.org's pcap format draft); the link type is the low 16.
	p.link = capture.LinkType(order.Uint32(h[20:]))
	s.in.pos += pcapFileHeaderLen
	return nil
}

func (p *pcapState) order() binary.ByteOrder {
	if p.bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// nextPcap reads one record. It is the hot loop of every analysis of a
// pcap file: no interface calls, and the header bytes are read once.
func (s *FileSource) nextPcap(f *capture.Frame) error {
	in := &s.in
	p := &s.pcap
	hl := p.recHdr
	if in.pos >= in.ahead {
		in.readAhead()
	}
	if in.end-in.pos < hl {
		if err := in.fill(hl); err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return s.recordErr(err, hl)
		}
	}
	h := in.buf[in.pos : in.pos+16]
	var sec, frac, capLen, wireLen uint32
	if p.bigEndian {
		sec = binary.BigEndian.Uint32(h[0:])
		frac = binary.BigEndian.Uint32(h[4:])
		capLen = binary.BigEndian.Uint32(h[8:])
		wireLen = binary.BigEndian.Uint32(h[12:])
	} else {
		sec = binary.LittleEndian.Uint32(h[0:])
		frac = binary.LittleEndian.Uint32(h[4:])
		capLen = binary.LittleEndian.Uint32(h[8:])
		wireLen = binary.LittleEndian.Uint32(h[12:])
	}
	if capLen > capture.MaxSnapLen {
		return fmt.Errorf("capture: %s: record at offset %d: captured length %d exceeds the limit of %d: %w",
			s.name, in.offset(), capLen, capture.MaxSnapLen, ErrCorrupt)
	}
	n := hl + int(capLen)
	if in.end-in.pos < n {
		if err := in.fill(n); err != nil {
			return s.recordErr(err, n)
		}
	}
	end := in.pos + n
	f.Data = in.buf[in.pos+hl : end : end]
	f.Timestamp = int64(sec)*1e9 + int64(frac)*p.fracMul
	f.WireLen = wireLen
	f.Link = p.link
	f.Interface = 0
	in.pos = end
	return nil
}

// recordErr explains why a record of need bytes at the current offset
// could not be read.
func (s *FileSource) recordErr(err error, need int) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("capture: %s: record at offset %d: truncated (%d of %d bytes): %w",
			s.name, s.in.offset(), s.in.end-s.in.pos, need, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("capture: %s: record at offset %d: %w", s.name, s.in.offset(), err)
}
