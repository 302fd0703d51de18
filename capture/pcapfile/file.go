package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/jurismon/jurismon/capture"
)

// Errors a FileSource wraps, so that callers can tell a file that is not a
// capture at all from one that is damaged. A file cut short wraps
// io.ErrUnexpectedEOF instead.
var (
	ErrUnknownFormat = errors.New("not a pcap or pcapng file")
	ErrCorrupt       = errors.New("corrupt capture file")
)

// streamBufSize is the read buffer for large files, gzip and non-regular
// inputs: big enough that refills (and the copy of a partial record they
// imply) are rare, small enough to stay in the L2 cache beside the flow
// state (analyze on a 1 GB pcap: 256 KiB and 128 KiB were 1-2% faster than
// 1 MiB, 64 KiB slower). It is a variable so that tests can force refills
// and growth with a tiny buffer. A record larger than the buffer grows it.
var streamBufSize = 256 << 10

const (
	// maxBlockLen bounds the pcapng blocks the reader holds in memory
	// whole (section and interface headers, packet blocks with options).
	// Other blocks are skipped without being buffered, whatever their size.
	maxBlockLen = 16 << 20
)

const (
	formatPcap = iota + 1
	formatPcapNg
)

// mapMaxSize is the largest file OpenFile maps. A mapping costs a page
// fault per 16 pages, a page-table entry per 4 KiB page set up and torn
// down, and TLB misses (expensive in a VM) that read(2) does not pay: it
// copies through the kernel's huge-page direct map into a buffer that stays
// in the cache. On a 1 GB pcap read once from the page cache, the mapped
// reader took 55 ns a packet and the buffered one 37
// (JURISMON_BENCH_PCAP=FILE go test ./capture -bench 'ReadPcap$/jurismon'),
// and analyze as a whole 15% less time. Mapping wins only for files small
// enough to stay in the CPU caches.
const mapMaxSize = 16 << 20

// FileSource reads frames from a pcap or pcapng file or stream. A small
// regular, uncompressed file is memory-mapped and frames are sub-slices of
// the mapping; larger files, gzip files, pipes and other streams go through
// one reusable buffer. Either way Next allocates nothing.
//
// A FileSource is not safe for concurrent use.
type FileSource struct {
	name   string
	format int
	gz     bool

	in input

	// Resources to release on Close; any may be nil.
	file   *os.File
	mapped []byte
	gzr    *gzip.Reader
	count  *countingReader // bytes taken from the underlying stream
	total  int64           // size of the underlying file, 0 if unknown

	err error // sticky: once Next fails, it keeps failing the same way

	pcap pcapState
	ng   ngState
}

var _ capture.Source = (*FileSource)(nil)

// OpenFile opens a pcap or pcapng file, plain or gzip-compressed. The format
// is detected from the file's magic number, never from its name. A regular
// uncompressed file of up to mapMaxSize is memory-mapped (read-only, with
// sequential read-ahead advice); anything else is read through a buffer.
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	s := &FileSource{name: path, file: f}
	if st.Mode().IsRegular() {
		s.total = st.Size()
	}
	if st.Mode().IsRegular() && st.Size() <= mapMaxSize {
		if data, ok := mapFile(f, st.Size()); ok {
			// A compressed file cannot be used in place: drop the mapping
			// and decompress through the stream path.
			if isGzip(data) {
				unmapFile(data)
			} else {
				s.mapped = data
				s.in = input{buf: data, end: len(data)}
				if err := s.detect(); err != nil {
					s.Close()
					return nil, err
				}
				return s, nil
			}
		}
	}
	if err := s.openStream(f); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// NewReader reads a pcap or pcapng capture, plain or gzip-compressed, from
// a stream such as standard input, with the same detection as OpenFile. The
// Source it returns is a *FileSource; its Progress reports the bytes taken
// from r and a total of 0 (unknown). Closing it does not close r.
func NewReader(r io.Reader) (capture.Source, error) {
	s := &FileSource{name: "stream"}
	if err := s.openStream(r); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openStream sets the source up to read r through a buffer, unwrapping gzip
// if the stream starts with its magic.
func (s *FileSource) openStream(r io.Reader) error {
	s.count = &countingReader{r: r}
	s.in = input{buf: make([]byte, streamBufSize), r: s.count, ahead: math.MaxInt}
	if err := s.in.fill(2); err != nil && err != io.ErrUnexpectedEOF {
		return s.headerErr(err, "file", 2)
	}
	if isGzip(s.in.buf[s.in.pos:s.in.end]) {
		// gzip.NewReader reads its header at once; give it the bytes
		// already buffered followed by the rest of the stream.
		head := bytes.Clone(s.in.buf[s.in.pos:s.in.end])
		zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(head), s.count))
		if err != nil {
			return fmt.Errorf("capture: %s: reading gzip header: %w", s.name, err)
		}
		s.gz, s.gzr = true, zr
		s.in = input{buf: s.in.buf, r: zr, ahead: math.MaxInt}
	}
	return s.detect()
}

// detect reads the magic number at the start of the (decompressed) input
// and parses the format's file header.
func (s *FileSource) detect() error {
	if err := s.in.fill(4); err != nil {
		return s.headerErr(err, "file", 4)
	}
	b := s.in.buf[s.in.pos:]
	switch magic := binary.LittleEndian.Uint32(b); magic {
	case ngBlockSHB:
		s.format = formatPcapNg
		return s.openNg()
	case pcapMagicMicro, pcapMagicNano, pcapMagicKuznetsov,
		swap32(pcapMagicMicro), swap32(pcapMagicNano), swap32(pcapMagicKuznetsov):
		s.format = formatPcap
		return s.openPcap(magic)
	default:
		return fmt.Errorf("capture: %s: unknown magic number % x: %w", s.name, b[:4], ErrUnknownFormat)
	}
}

// headerErr explains why a header of need bytes could not be read.
func (s *FileSource) headerErr(err error, what string, need int) error {
	have := s.in.end - s.in.pos
	switch {
	case err == io.EOF && what == "file":
		return fmt.Errorf("capture: %s: empty file: %w", s.name, ErrUnknownFormat)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("capture: %s: truncated %s header (%d of %d bytes): %w", s.name, what, have, need, io.ErrUnexpectedEOF)
	default:
		return fmt.Errorf("capture: %s: reading %s header: %w", s.name, what, err)
	}
}

// Next fills f with the next frame. It returns io.EOF after the last one.
// f.Data aliases the source's buffer (or the file mapping) and is valid
// only until the next call to Next or Close.
func (s *FileSource) Next(f *capture.Frame) error {
	if s.err != nil {
		return s.err
	}
	var err error
	if s.format == formatPcap {
		err = s.nextPcap(f)
	} else {
		err = s.nextNg(f)
	}
	if err != nil {
		s.err = err
	}
	return err
}

// Progress reports how many bytes of the underlying file have been consumed
// and the file's size, for a progress line. For a gzip file both count
// compressed bytes. total is 0 when the size is unknown (a pipe).
func (s *FileSource) Progress() (done, total int64) {
	if s.mapped != nil {
		return int64(s.in.pos), s.total
	}
	if s.count != nil {
		return s.count.n, s.total
	}
	return 0, s.total
}

// Format names the detected format: "pcap" or "pcapng", with ".gz"
// appended when the input was gzip-compressed.
func (s *FileSource) Format() string {
	name := "pcap"
	if s.format == formatPcapNg {
		name = "pcapng"
	}
	if s.gz {
		name += ".gz"
	}
	return name
}

var errClosed = errors.New("capture: source closed")

// Close releases the mapping and the file. Frames returned earlier must no
// longer be used: with a mapped file, touching them after Close faults.
func (s *FileSource) Close() error {
	var err error
	if s.gzr != nil {
		s.gzr.Close()
		s.gzr = nil
	}
	if s.mapped != nil {
		err = unmapFile(s.mapped)
		s.mapped = nil
	}
	if s.file != nil {
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
		s.file = nil
	}
	s.in = input{}
	s.err = errClosed
	return err
}

func isGzip(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

func swap32(v uint32) uint32 {
	return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24
}

// input is a window onto the capture's bytes: the whole mapped file (r is
// nil), or a reusable buffer refilled from r.
type input struct {
	buf      []byte
	pos, end int   // unread bytes are buf[pos:end]
	base     int64 // stream offset of buf[0]
	r        io.Reader
	eof      bool
	rerr     error // a read error, reported once the data before it is used up

	// For a mapped file: the mapping up to touched has been read ahead,
	// and the next read-ahead is due when pos reaches ahead.
	touched, ahead int
	sink           byte
}

const (
	// readAheadDistance is how far ahead of the parser the mapping is
	// touched: far enough for the loads to complete, near enough for the
	// lines to still be in the L2 cache when the parser gets there.
	readAheadDistance = 256 << 10
	readAheadChunk    = 32 << 10
	cacheLine         = 64
)

// readAhead touches one byte per cache line of the mapping ahead of pos.
// Walking records is a chain of dependent loads (each record's length
// says where the next one starts), so on a mapping every record header
// would be a full memory latency; these loads are independent, so the CPU
// overlaps them, and the walk then finds its lines in the cache. This is
// what makes the mapping faster than read(2), which copies the file at
// memory bandwidth into a buffer that stays in the cache.
func (in *input) readAhead() {
	limit := min(in.pos+readAheadDistance, len(in.buf))
	var sink byte
	for in.touched < limit {
		end := min(in.touched+readAheadChunk, len(in.buf))
		b := in.buf[in.touched:end]
		for i := 0; i < len(b); i += cacheLine {
			sink += b[i]
		}
		in.touched = end
	}
	in.sink += sink
	if in.touched >= len(in.buf) {
		in.ahead = math.MaxInt
	} else {
		in.ahead = in.touched - readAheadDistance + readAheadChunk
	}
}

// offset is the stream offset of the next unread byte, for error messages.
func (in *input) offset() int64 {
	return in.base + int64(in.pos)
}

// fill makes at least n bytes available at buf[pos:]. It returns io.EOF if
// the input is exhausted with nothing left, io.ErrUnexpectedEOF if fewer
// than n bytes remain, or the underlying read error.
func (in *input) fill(n int) error {
	if in.end-in.pos >= n {
		return nil
	}
	if in.r == nil || in.eof || in.rerr != nil {
		return in.short()
	}
	if in.pos > 0 {
		copy(in.buf, in.buf[in.pos:in.end])
		in.base += int64(in.pos)
		in.end -= in.pos
		in.pos = 0
	}
	if n > len(in.buf) {
		buf := make([]byte, max(n, 2*len(in.buf)))
		copy(buf, in.buf[:in.end])
		in.buf = buf
	}
	for in.end < n {
		m, err := in.r.Read(in.buf[in.end:])
		in.end += m
		if err == io.EOF {
			in.eof = true
			break
		}
		if err != nil {
			in.rerr = err
			break
		}
	}
	if in.end >= n {
		return nil
	}
	return in.short()
}

// short reports why fewer bytes than wanted are available.
func (in *input) short() error {
	if in.rerr != nil {
		return in.rerr
	}
	if in.end == in.pos {
		return io.EOF
	}
	return io.ErrUnexpectedEOF
}

// skip discards n bytes without holding them in memory at once. It returns
// io.ErrUnexpectedEOF if the input ends first.
func (in *input) skip(n int64) error {
	if avail := int64(in.end - in.pos); n <= avail {
		in.pos += int(n)
		return nil
	}
	if in.r == nil {
		return io.ErrUnexpectedEOF
	}
	n -= int64(in.end - in.pos)
	in.base += int64(in.end)
	in.pos, in.end = 0, 0
	for n > 0 {
		if in.rerr != nil {
			return in.rerr
		}
		if in.eof {
			return io.ErrUnexpectedEOF
		}
		m, err := in.r.Read(in.buf[:min(int64(len(in.buf)), n)])
		n -= int64(m)
		in.base += int64(m)
		if err == io.EOF {
			in.eof = true
		} else if err != nil {
			in.rerr = err
		}
	}
	return nil
}

// countingReader counts the bytes read from the underlying stream, for
// Progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
