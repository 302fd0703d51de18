package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"

	"github.com/jurismon/jurismon/capture"
)

// pcapng block types (IETF draft-ietf-opsawg-pcapng). The section header's
// type reads the same in both byte orders.
const (
	ngBlockSHB = 0x0a0d0d0a
	ngBlockIDB = 0x00000001
	ngBlockOPB = 0x00000002 // obsolete packet block
	ngBlockSPB = 0x00000003
	ngBlockEPB = 0x00000006

	ngByteOrderMagic = 0x1a2b3c4d

	ngOptEnd      = 0
	ngOptTSResol  = 9
	ngOptTSOffset = 14
)

type ngState struct {
	bigEndian bool
	ifaces    []ngIface // interfaces of the current section
	ifBase    int       // source-wide index of the section's first interface
	lastTS    int64     // for simple packet blocks, which carry no timestamp
}

// ngIface is what an interface description block tells about its packets.
type ngIface struct {
	link    capture.LinkType
	snaplen uint32
	// A timestamp is converted to nanoseconds by exactly one of: multiply
	// by mul (resolutions of 1 ns or coarser), divide by div (finer
	// decimal resolutions), or scale a 2^-shift fraction (binary ones).
	mul, div uint64
	shift    uint8
	offset   int64 // if_tsoffset, in nanoseconds
}

func (i *ngIface) nanos(ts uint64) int64 {
	var v uint64
	switch {
	case i.mul != 0:
		v = ts * i.mul
	case i.div != 0:
		v = ts / i.div
	default:
		// ts * 1e9 / 2^shift without losing the high bits of the product.
		hi, lo := bits.Mul64(ts, 1e9)
		if i.shift <= 64 {
			v = hi<<(64-i.shift) | lo>>i.shift
		} else {
			v = hi >> (i.shift - 64)
		}
	}
	return int64(v) + i.offset
}

func (g *ngState) u16(b []byte) uint16 {
	if g.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (g *ngState) u32(b []byte) uint32 {
	if g.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (g *ngState) u64(b []byte) uint64 {
	if g.bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// openNg reads the first section header block, whose type is the file's
// magic number.
func (s *FileSource) openNg() error {
	return s.readSHB()
}

// nextNg reads blocks until the next packet. Enhanced packet blocks, nearly
// all of any real file, are handled first and inline.
func (s *FileSource) nextNg(f *capture.Frame) error {
	in := &s.in
	g := &s.ng
	for {
		if in.pos >= in.ahead {
			in.readAhead()
		}
		if in.end-in.pos < 12 {
			if err := in.fill(12); err != nil {
				if err == io.EOF {
					return io.EOF
				}
				return s.blockErr(err, 12)
			}
		}
		b := in.buf[in.pos:in.end]
		btype, blen := g.u32(b), g.u32(b[4:])
		switch btype {
		case ngBlockEPB, ngBlockOPB:
			if blen < 32 || blen > maxBlockLen || blen&3 != 0 {
				return s.badBlock("packet block has invalid length %d", blen)
			}
			if in.end-in.pos < int(blen) {
				if err := in.fill(int(blen)); err != nil {
					return s.blockErr(err, int(blen))
				}
				b = in.buf[in.pos:in.end]
			}
			b = b[:blen]
			if g.u32(b[blen-4:]) != blen {
				return s.badBlock("trailing block length %d does not match %d", g.u32(b[blen-4:]), blen)
			}
			var ifid uint32
			if btype == ngBlockEPB {
				ifid = g.u32(b[8:])
			} else {
				ifid = uint32(g.u16(b[8:]))
			}
			capLen, wireLen := g.u32(b[20:]), g.u32(b[24:])
			if capLen > blen-32 {
				return s.badBlock("captured length %d exceeds block length %d", capLen, blen)
			}
			if capLen > capture.MaxSnapLen {
				return s.badBlock("captured length %d exceeds the limit of %d", capLen, capture.MaxSnapLen)
			}
			if ifid >= uint32(len(g.ifaces)) {
				return s.badBlock("packet for interface %d, but the section describes %d", ifid, len(g.ifaces))
			}
			ifc := &g.ifaces[ifid]
			ts := ifc.nanos(uint64(g.u32(b[12:]))<<32 | uint64(g.u32(b[16:])))
			f.Data = b[28 : 28+capLen : 28+capLen]
			f.Timestamp = ts
			f.WireLen = wireLen
			f.Link = ifc.link
			f.Interface = g.ifBase + int(ifid)
			g.lastTS = ts
			in.pos += int(blen)
			return nil
		case ngBlockSPB:
			if err := s.readSPB(f, blen); err != nil {
				return err
			}
			return nil
		case ngBlockSHB:
			if err := s.readSHB(); err != nil {
				return err
			}
		case ngBlockIDB:
			if err := s.readIDB(blen); err != nil {
				return err
			}
		default:
			// Statistics, name resolution, decryption secrets, custom
			// and future blocks say nothing about packet headers.
			if blen < 12 || blen&3 != 0 {
				return s.badBlock("block of type %#x has invalid length %d", btype, blen)
			}
			off := in.offset()
			if err := in.skip(int64(blen)); err != nil {
				if err == io.ErrUnexpectedEOF {
					return fmt.Errorf("capture: %s: block at offset %d: truncated block of type %#x (%d bytes): %w",
						s.name, off, btype, blen, err)
				}
				return fmt.Errorf("capture: %s: block at offset %d: %w", s.name, off, err)
			}
		}
	}
}

// block makes the whole block of length blen at the current offset
// available and returns it, after checking its length fields.
func (s *FileSource) block(blen, minLen uint32, what string) ([]byte, error) {
	if blen < minLen || blen > maxBlockLen || blen&3 != 0 {
		return nil, s.badBlock("%s has invalid length %d", what, blen)
	}
	in := &s.in
	if err := in.fill(int(blen)); err != nil {
		return nil, s.blockErr(err, int(blen))
	}
	b := in.buf[in.pos : in.pos+int(blen)]
	if t := s.ng.u32(b[blen-4:]); t != blen {
		return nil, s.badBlock("trailing block length %d does not match %d", t, blen)
	}
	return b, nil
}

// readSHB starts a new section: its byte order applies to every block up
// to the next section header, and its interfaces replace the previous ones.
func (s *FileSource) readSHB() error {
	in := &s.in
	if err := in.fill(12); err != nil {
		return s.blockErr(err, 12)
	}
	g := &s.ng
	switch m := binary.LittleEndian.Uint32(in.buf[in.pos+8:]); m {
	case ngByteOrderMagic:
		g.bigEndian = false
	case swap32(ngByteOrderMagic):
		g.bigEndian = true
	default:
		return s.badBlock("section header has unknown byte-order magic %#08x", m)
	}
	b, err := s.block(g.u32(in.buf[in.pos+4:]), 28, "section header")
	if err != nil {
		return err
	}
	if major, minor := g.u16(b[12:]), g.u16(b[14:]); major != 1 {
		return s.badBlock("unsupported pcapng version %d.%d", major, minor)
	}
	g.ifBase += len(g.ifaces)
	g.ifaces = g.ifaces[:0]
	in.pos += len(b)
	return nil
}

// pow10[i] is 10^i, for decimal timestamp resolutions.
var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// readIDB adds an interface to the current section.
func (s *FileSource) readIDB(blen uint32) error {
	b, err := s.block(blen, 20, "interface description")
	if err != nil {
		return err
	}
	g := &s.ng
	ifc := ngIface{
		link:    capture.LinkType(g.u16(b[8:])),
		snaplen: g.u32(b[12:]),
		mul:     1000, // the default resolution is microseconds
	}
	opts := b[16 : len(b)-4]
	for len(opts) >= 4 {
		code, olen := g.u16(opts), int(g.u16(opts[2:]))
		if code == ngOptEnd {
			break
		}
		if 4+olen > len(opts) {
			return s.badBlock("interface option %d has length %d beyond the block", code, olen)
		}
		val := opts[4 : 4+olen]
		switch {
		case code == ngOptTSResol && olen >= 1:
			if err := ifc.setResolution(val[0]); err != nil {
				return s.badBlock("%v", err)
			}
		case code == ngOptTSOffset && olen >= 8:
			ifc.offset = int64(g.u64(val)) * 1e9
		}
		opts = opts[min(len(opts), 4+(olen+3)&^3):]
	}
	g.ifaces = append(g.ifaces, ifc)
	s.in.pos += len(b)
	return nil
}

// setResolution applies an if_tsresol value: the low seven bits are a
// negative exponent of 10, or of 2 when the top bit is set.
func (i *ngIface) setResolution(r uint8) error {
	e := r & 0x7f
	i.mul, i.div, i.shift = 0, 0, 0
	switch {
	case r&0x80 != 0 && e == 0:
		i.mul = 1e9
	case r&0x80 != 0:
		i.shift = e
	case e <= 9:
		i.mul = pow10[9-e]
	case e-9 < uint8(len(pow10)):
		i.div = pow10[e-9]
	default:
		return fmt.Errorf("timestamp resolution 10^-%d is not supported", e)
	}
	return nil
}

// readSPB returns the packet of a simple packet block. Such blocks belong to
// the section's first interface and carry no timestamp: the frame gets the
// previous packet's, so that time still moves forward for flow timeouts.
func (s *FileSource) readSPB(f *capture.Frame, blen uint32) error {
	b, err := s.block(blen, 16, "simple packet block")
	if err != nil {
		return err
	}
	g := &s.ng
	if len(g.ifaces) == 0 {
		return s.badBlock("simple packet block, but the section describes no interface")
	}
	ifc := &g.ifaces[0]
	wireLen := g.u32(b[8:])
	capLen := min(wireLen, blen-16)
	if ifc.snaplen != 0 {
		capLen = min(capLen, ifc.snaplen)
	}
	if capLen > capture.MaxSnapLen {
		return s.badBlock("captured length %d exceeds the limit of %d", capLen, capture.MaxSnapLen)
	}
	f.Data = b[12 : 12+capLen : 12+capLen]
	f.Timestamp = g.lastTS
	f.WireLen = wireLen
	f.Link = ifc.link
	f.Interface = g.ifBase
	s.in.pos += len(b)
	return nil
}

// badBlock reports a malformed block at the current offset.
func (s *FileSource) badBlock(format string, args ...any) error {
	return fmt.Errorf("capture: %s: block at offset %d: %s: %w", s.name, s.in.offset(), fmt.Sprintf(format, args...), ErrCorrupt)
}

// blockErr explains why a block of need bytes could not be read.
func (s *FileSource) blockErr(err error, need int) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("capture: %s: block at offset %d: truncated (%d of %d bytes): %w",
			s.name, s.in.offset(), s.in.end-s.in.pos, need, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("capture: %s: block at offset %d: %w", s.name, s.in.offset(), err)
}
