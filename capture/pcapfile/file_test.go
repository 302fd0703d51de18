package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/jurismon/jurismon/capture"
)

var updateFiles = flag.Bool("update-files", false, "rewrite the capture file fileFixtures in testdata/files")

// fileWantFrame is what a reader must return for one written packet.
type fileWantFrame struct {
	data  []byte
	ts    int64
	wire  uint32
	link  capture.LinkType
	iface int
}

// filePayload returns n deterministic pseudo-random bytes.
func filePayload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fileTestPackets is a mix of sizes: empty, tiny, minimum Ethernet, full
// Ethernet, jumbo, and one cut short by the snap length.
type fileTestPacket struct {
	data []byte
	wire int
	ts   time.Time
}

func fileTestPackets() []fileTestPacket {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	sizes := []struct{ capLen, wire int }{
		{60, 60}, {0, 0}, {1, 1}, {14, 14}, {1514, 1514}, {64, 1500}, {9000, 9000}, {342, 342},
	}
	var ps []fileTestPacket
	for i, sz := range sizes {
		ps = append(ps, fileTestPacket{
			data: filePayload(uint64(i), sz.capLen),
			wire: sz.wire,
			ts:   base.Add(time.Duration(i)*1_234_567_891 + time.Duration(i*i)*time.Nanosecond),
		})
	}
	return ps
}

// fileBuildPcapgo writes the test packets with pcapgo, in microseconds or
// nanoseconds.
func fileBuildPcapgo(t testing.TB, nanos bool, link layers.LinkType) ([]byte, []fileWantFrame) {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	var want []fileWantFrame
	for _, p := range fileTestPackets() {
		ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: p.wire}
		if err := w.WritePacket(ci, p.data); err != nil {
			t.Fatal(err)
		}
		ts := p.ts.UnixNano()
		if !nanos {
			ts -= ts % 1000
		}
		want = append(want, fileWantFrame{data: p.data, ts: ts, wire: uint32(p.wire), link: capture.LinkType(link)})
	}
	return buf.Bytes(), want
}

// fileBuildPcapManual writes a pcap file by hand, for what pcapgo cannot write:
// big-endian files and Kuznetsov's 24-byte record headers.
func fileBuildPcapManual(order fileByteOrder, magic uint32, link capture.LinkType) ([]byte, []fileWantFrame) {
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0) // thiszone
	b = order.AppendUint32(b, 0) // sigfigs
	b = order.AppendUint32(b, 262144)
	b = order.AppendUint32(b, uint32(link))
	var want []fileWantFrame
	for _, p := range fileTestPackets() {
		sec, ns := p.ts.Unix(), int64(p.ts.Nanosecond())
		frac := ns / 1000
		if magic == pcapMagicNano {
			frac = ns
		}
		b = order.AppendUint32(b, uint32(sec))
		b = order.AppendUint32(b, uint32(frac))
		b = order.AppendUint32(b, uint32(len(p.data)))
		b = order.AppendUint32(b, uint32(p.wire))
		if magic == pcapMagicKuznetsov {
			b = append(b, 1, 0, 0, 0, 0, 8, 0, 0) // ifindex, protocol, pkt_type, pad
		}
		b = append(b, p.data...)
		ts := sec * 1e9
		if magic == pcapMagicNano {
			ts += ns
		} else {
			ts += frac * 1000
		}
		want = append(want, fileWantFrame{data: p.data, ts: ts, wire: uint32(p.wire), link: link})
	}
	return b, want
}

// fileBuildPcapgoNg writes a pcapng file with pcapgo: one section, five
// interfaces of different link types, packets spread over them, and an
// interface statistics block that the reader must skip.
func fileBuildPcapgoNg(t testing.TB) ([]byte, []fileWantFrame) {
	var buf bytes.Buffer
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "jurismon tests", OS: "linux"}}
	links := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL, layers.LinkType(capture.LinkSLL2), layers.LinkTypeNull}
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: links[0], OS: "linux"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range links[1:] {
		id, err := w.AddInterface(pcapgo.NgInterface{Name: fmt.Sprintf("if%d", i+1), LinkType: l, SnapLength: 65535})
		if err != nil {
			t.Fatal(err)
		}
		if id != i+1 {
			t.Fatalf("AddInterface returned %d, want %d", id, i+1)
		}
	}
	var want []fileWantFrame
	for i, p := range fileTestPackets() {
		iface := i % len(links)
		ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: p.wire, InterfaceIndex: iface}
		if err := w.WritePacket(ci, p.data); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			stats := pcapgo.NgInterfaceStatistics{LastUpdate: p.ts, PacketsReceived: 4, PacketsDropped: 0}
			if err := w.WriteInterfaceStats(0, stats); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, fileWantFrame{data: p.data, ts: p.ts.UnixNano(), wire: uint32(p.wire), link: capture.LinkType(links[iface]), iface: iface})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), want
}

// fileNgBuilder writes pcapng blocks by hand, for what pcapgo cannot write:
// big-endian sections, several sections, other timestamp resolutions, and
// simple, obsolete and unknown blocks.
type fileNgBuilder struct {
	order fileByteOrder
	b     []byte
}

func (w *fileNgBuilder) block(typ uint32, body []byte) {
	body = append(body, make([]byte, (4-len(body)%4)%4)...)
	n := uint32(12 + len(body))
	w.b = w.order.AppendUint32(w.b, typ)
	w.b = w.order.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = w.order.AppendUint32(w.b, n)
}

func (w *fileNgBuilder) option(code uint16, val []byte) []byte {
	o := w.order.AppendUint16(nil, code)
	o = w.order.AppendUint16(o, uint16(len(val)))
	o = append(o, val...)
	return append(o, make([]byte, (4-len(val)%4)%4)...)
}

func (w *fileNgBuilder) shb(order fileByteOrder) {
	w.order = order
	body := order.AppendUint32(nil, ngByteOrderMagic)
	body = order.AppendUint16(body, 1)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint64(body, ^uint64(0)) // section length unknown
	body = append(body, w.option(4, []byte("jurismon tests"))...)
	body = append(body, w.option(0, nil)...)
	w.block(ngBlockSHB, body)
}

func (w *fileNgBuilder) idb(link capture.LinkType, snaplen uint32, opts ...[]byte) {
	body := w.order.AppendUint16(nil, uint16(link))
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	w.block(ngBlockIDB, body)
}

func (w *fileNgBuilder) epb(iface uint32, ts uint64, data []byte, wire uint32) {
	body := w.order.AppendUint32(nil, iface)
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, wire)
	body = append(body, data...)
	body = append(body, make([]byte, (4-len(data)%4)%4)...)
	body = append(body, w.option(1, []byte("a packet comment"))...)
	w.block(ngBlockEPB, body)
}

func (w *fileNgBuilder) opb(iface uint16, ts uint64, data []byte, wire uint32) {
	body := w.order.AppendUint16(nil, iface)
	body = w.order.AppendUint16(body, 0) // drops count
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, wire)
	body = append(body, data...)
	w.block(ngBlockOPB, body)
}

func (w *fileNgBuilder) spb(data []byte, wire uint32) {
	body := w.order.AppendUint32(nil, wire)
	w.block(ngBlockSPB, append(body, data...))
}

// fileBinaryNanos converts ticks of 2^-shift seconds to nanoseconds with
// arbitrary precision, independently of the reader's arithmetic.
func fileBinaryNanos(ticks uint64, shift uint) int64 {
	v := new(big.Int).SetUint64(ticks)
	v.Mul(v, big.NewInt(1e9))
	v.Rsh(v, shift)
	return v.Int64()
}

// fileBuildNgManual writes two sections, little-endian then big-endian, whose
// interfaces use microsecond, binary (2^-20, with a 100 s if_tsoffset),
// nanosecond and picosecond resolutions, with simple, obsolete and unknown
// blocks in between.
func fileBuildNgManual() ([]byte, []fileWantFrame) {
	w := &fileNgBuilder{}
	var want []fileWantFrame
	const sec = 1709294400 // 2024-03-01 12:00:00 UTC
	p := func(i, n int) []byte { return filePayload(uint64(100+i), n) }

	w.shb(binary.LittleEndian)
	w.idb(capture.LinkEthernet, 128) // no if_tsresol: microseconds
	w.idb(capture.LinkRaw, 0,
		w.option(ngOptTSResol, []byte{0x80 | 20}),
		w.option(ngOptTSOffset, binary.LittleEndian.AppendUint64(nil, 100)),
		w.option(ngOptEnd, nil))
	w.block(0x00000004, []byte{0, 0, 0, 0}) // empty name resolution block
	w.epb(0, sec*1e6+123456, p(0, 60), 60)
	want = append(want, fileWantFrame{p(0, 60), sec*1e9 + 123456000, 60, capture.LinkEthernet, 0})
	ticks := uint64(sec)<<20 | 777777
	w.epb(1, ticks, p(1, 41), 41)
	want = append(want, fileWantFrame{p(1, 41), fileBinaryNanos(ticks, 20) + 100e9, 41, capture.LinkRaw, 1})
	// The simple packet block holds min(wire length, snap length) bytes
	// and takes the previous packet's time.
	w.spb(p(2, 128), 1500)
	want = append(want, fileWantFrame{p(2, 128), fileBinaryNanos(ticks, 20) + 100e9, 1500, capture.LinkEthernet, 0})
	w.block(0x40000bad, []byte("a custom block the reader has never heard of"))
	w.opb(1, ticks+1<<19, p(3, 20), 20)
	want = append(want, fileWantFrame{p(3, 20), fileBinaryNanos(ticks+1<<19, 20) + 100e9, 20, capture.LinkRaw, 1})

	w.shb(binary.BigEndian)
	w.idb(capture.LinkSLL2, 0, w.option(ngOptTSResol, []byte{9}))
	w.idb(capture.LinkNull, 0, w.option(ngOptTSResol, []byte{12}))
	w.block(0x00000005, make([]byte, 12))       // interface statistics
	w.epb(1, 5e12+987654321012, p(4, 100), 100) // picoseconds overflow 64 bits after 213 days
	want = append(want, fileWantFrame{p(4, 100), 5e9 + 987654321, 100, capture.LinkNull, 3})
	w.epb(0, sec*1e9+5, p(5, 1514), 1514)
	want = append(want, fileWantFrame{p(5, 1514), sec*1e9 + 5, 1514, capture.LinkSLL2, 2})
	return w.b, want
}

type fileFixture struct {
	name   string // file name in testdata/files
	format string
	build  func(testing.TB) ([]byte, []fileWantFrame)
}

var fileFixtures = []fileFixture{
	{"le-micro.pcap", "pcap", func(t testing.TB) ([]byte, []fileWantFrame) {
		return fileBuildPcapgo(t, false, layers.LinkTypeEthernet)
	}},
	{"le-nano.pcap", "pcap", func(t testing.TB) ([]byte, []fileWantFrame) { return fileBuildPcapgo(t, true, layers.LinkTypeRaw) }},
	{"be-micro.pcap", "pcap", func(testing.TB) ([]byte, []fileWantFrame) {
		return fileBuildPcapManual(binary.BigEndian, pcapMagicMicro, capture.LinkSLL)
	}},
	{"be-nano.pcap", "pcap", func(testing.TB) ([]byte, []fileWantFrame) {
		return fileBuildPcapManual(binary.BigEndian, pcapMagicNano, capture.LinkNull)
	}},
	{"kuznetsov.pcap", "pcap", func(testing.TB) ([]byte, []fileWantFrame) {
		return fileBuildPcapManual(binary.LittleEndian, pcapMagicKuznetsov, capture.LinkEthernet)
	}},
	{"multi-interface.pcapng", "pcapng", fileBuildPcapgoNg},
	{"two-sections.pcapng", "pcapng", func(testing.TB) ([]byte, []fileWantFrame) { return fileBuildNgManual() }},
}

func fileGzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fileWriteFile(t testing.TB, path string, b []byte) string {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileReadAll reads frames until an error, copying each one since Data is only
// valid until the next call.
func fileReadAll(src capture.Source) ([]fileWantFrame, error) {
	var got []fileWantFrame
	var f capture.Frame
	for {
		err := src.Next(&f)
		if err != nil {
			return got, err
		}
		got = append(got, fileWantFrame{bytes.Clone(f.Data), f.Timestamp, f.WireLen, f.Link, f.Interface})
		if len(got) > 1e6 {
			return got, errors.New("runaway reader")
		}
	}
}

func fileCompareFrames(t *testing.T, got, want []fileWantFrame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.data, w.data) {
			t.Errorf("frame %d: data differs: got %d bytes %x..., want %d bytes", i, len(g.data), g.data[:min(8, len(g.data))], len(w.data))
		}
		if g.ts != w.ts {
			t.Errorf("frame %d: timestamp %d (%s), want %d (%s)", i, g.ts, time.Unix(0, g.ts).UTC(), w.ts, time.Unix(0, w.ts).UTC())
		}
		if g.wire != w.wire || g.link != w.link || g.iface != w.iface {
			t.Errorf("frame %d: wire %d link %d interface %d, want %d %d %d", i, g.wire, g.link, g.iface, w.wire, w.link, w.iface)
		}
	}
}

// fileWithStreamBuffer runs fn with a tiny stream buffer so that refills,
// partial records and buffer growth all happen on small files.
func fileWithStreamBuffer(size int, fn func()) {
	old := streamBufSize
	streamBufSize = size
	defer func() { streamBufSize = old }()
	fn()
}

// fileOpenModes are the ways a capture reaches the reader.
var fileOpenModes = []struct {
	name string
	gz   bool
	open func(t *testing.T, path string, data []byte) (capture.Source, error)
}{
	{"mmap", false, func(t *testing.T, path string, _ []byte) (capture.Source, error) {
		return OpenFile(path)
	}},
	{"gzip-file", true, func(t *testing.T, path string, data []byte) (capture.Source, error) {
		return OpenFile(fileWriteFile(t, path+".gz", fileGzipBytes(t, data)))
	}},
	{"stream-one-byte-reads", false, func(t *testing.T, _ string, data []byte) (capture.Source, error) {
		return NewReader(iotest.OneByteReader(bytes.NewReader(data)))
	}},
	{"stream-gzip", true, func(t *testing.T, _ string, data []byte) (capture.Source, error) {
		return NewReader(bytes.NewReader(fileGzipBytes(t, data)))
	}},
	{"fifo", false, func(t *testing.T, path string, data []byte) (capture.Source, error) {
		fifo := path + ".fifo"
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("no fifo: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err == nil {
				_, err = w.Write(data)
				w.Close()
			}
			done <- err
		}()
		t.Cleanup(func() {
			if err := <-done; err != nil {
				t.Errorf("writing fifo: %v", err)
			}
		})
		return OpenFile(fifo)
	}},
}

func TestReadFiles(t *testing.T) {
	for _, fx := range fileFixtures {
		data, want := fx.build(t)
		for _, mode := range fileOpenModes {
			t.Run(fx.name+"/"+mode.name, func(t *testing.T) {
				path := fileWriteFile(t, filepath.Join(t.TempDir(), fx.name), data)
				src, err := mode.open(t, path, data)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				got, err := fileReadAll(src)
				if err != io.EOF {
					t.Fatalf("after %d frames: got error %v, want io.EOF", len(got), err)
				}
				fileCompareFrames(t, got, want)
				if err := src.Next(&capture.Frame{}); err != io.EOF {
					t.Errorf("Next after the end: %v, want io.EOF again", err)
				}
				fs := src.(*FileSource)
				wantFormat := fx.format
				if mode.gz {
					wantFormat += ".gz"
				}
				if fs.Format() != wantFormat {
					t.Errorf("Format() = %q, want %q", fs.Format(), wantFormat)
				}
			})
		}
	}
}

// TestTinyStreamBuffer reads every fileFixture through a 16-byte initial
// buffer, which must grow to hold the 9000-byte frame.
func TestTinyStreamBuffer(t *testing.T) {
	fileWithStreamBuffer(16, func() {
		for _, fx := range fileFixtures {
			data, want := fx.build(t)
			for _, gz := range []bool{false, true} {
				in := data
				if gz {
					in = fileGzipBytes(t, data)
				}
				src, err := NewReader(bytes.NewReader(in))
				if err != nil {
					t.Fatalf("%s: %v", fx.name, err)
				}
				got, err := fileReadAll(src)
				if err != io.EOF {
					t.Fatalf("%s gzip=%v: %v", fx.name, gz, err)
				}
				t.Run(fmt.Sprintf("%s/gzip=%v", fx.name, gz), func(t *testing.T) { fileCompareFrames(t, got, want) })
				src.Close()
			}
		}
	})
}

// TestFixtureFiles checks that the committed files in testdata/files are
// what the builders write today (go test -run TestFixtureFiles -update-files
// rewrites them), and reads them as any other user would.
func TestFixtureFiles(t *testing.T) {
	for _, fx := range fileFixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, want := fx.build(t)
			path := filepath.Join("testdata", "files", fx.name)
			if *updateFiles {
				fileWriteFile(t, path, data)
			}
			disk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(disk, data) {
				t.Fatalf("%s is stale: run go test ./capture -run TestFixtureFiles -update-files", path)
			}
			src, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := fileReadAll(src)
			if err != io.EOF {
				t.Fatal(err)
			}
			fileCompareFrames(t, got, want)
		})
	}
}

func TestProgress(t *testing.T) {
	data, _ := fileBuildPcapgoNg(t)
	dir := t.TempDir()
	plain := fileWriteFile(t, filepath.Join(dir, "a.pcapng"), data)
	gz := fileWriteFile(t, filepath.Join(dir, "a.pcapng.gz"), fileGzipBytes(t, data))
	for _, path := range []string{plain, gz} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		src, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		done, total := src.Progress()
		if total != st.Size() || done < 0 || done > total {
			t.Errorf("%s: at start Progress() = %d, %d; want total %d", path, done, total, st.Size())
		}
		var f capture.Frame
		if err := src.Next(&f); err != nil {
			t.Fatal(err)
		}
		if d, _ := src.Progress(); d <= 0 {
			t.Errorf("%s: after one frame, done = %d", path, d)
		}
		if _, err := fileReadAll(src); err != io.EOF {
			t.Fatal(err)
		}
		if done, total := src.Progress(); done != total {
			t.Errorf("%s: at the end Progress() = %d, %d; want done == total", path, done, total)
		}
		src.Close()
	}
}

// TestNextDoesNotAllocate checks the promise that reading costs no
// allocation per frame, for every way a file is read.
func TestNextDoesNotAllocate(t *testing.T) {
	pcap, _ := fileBuildPcapgo(t, false, layers.LinkTypeEthernet)
	ng, _ := fileBuildNgManual()
	for _, tc := range []struct {
		name string
		data []byte
		gz   bool
	}{{"pcap", pcap, false}, {"pcap.gz", pcap, true}, {"pcapng", ng, false}, {"pcapng.gz", ng, true}} {
		t.Run(tc.name, func(t *testing.T) {
			// Repeat the file so that one open serves many reads.
			data := tc.data
			var big bytes.Buffer
			big.Write(data)
			if tc.name == "pcap" || tc.name == "pcap.gz" {
				for range 200 {
					big.Write(data[pcapFileHeaderLen:])
				}
			} else {
				for range 200 {
					big.Write(data)
				}
			}
			data = big.Bytes()
			if tc.gz {
				data = fileGzipBytes(t, data)
			}
			path := fileWriteFile(t, filepath.Join(t.TempDir(), "f"), data)
			src, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var f capture.Frame
			// The first reads may grow the buffer; measure after them.
			for range 20 {
				if err := src.Next(&f); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if err := src.Next(&f); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per frame, want 0", allocs)
			}
		})
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := OpenFile(filepath.Join(t.TempDir(), "nope.pcap"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestBadFiles(t *testing.T) {
	pcapHeader := func(order fileByteOrder, caplenLimit uint32) []byte {
		var b []byte
		b = order.AppendUint32(b, pcapMagicMicro)
		b = order.AppendUint16(b, 2)
		b = order.AppendUint16(b, 4)
		b = append(b, make([]byte, 8)...)
		b = order.AppendUint32(b, caplenLimit)
		return order.AppendUint32(b, uint32(capture.LinkEthernet))
	}
	record := func(b []byte, capLen, wire uint32, data []byte) []byte {
		b = binary.LittleEndian.AppendUint32(b, 1709294400)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, capLen)
		b = binary.LittleEndian.AppendUint32(b, wire)
		return append(b, data...)
	}
	good := record(pcapHeader(binary.LittleEndian, 65535), 40, 40, make([]byte, 40)) // next record at offset 80
	ngHead := func() *fileNgBuilder {
		w := &fileNgBuilder{}
		w.shb(binary.LittleEndian) // 52 bytes
		return w
	}
	ngWith := func(fn func(w *fileNgBuilder)) []byte {
		w := ngHead()
		fn(w)
		return w.b
	}
	ngGood := ngWith(func(w *fileNgBuilder) { w.idb(capture.LinkEthernet, 0); w.epb(0, 1, make([]byte, 60), 60) })

	tests := []struct {
		name   string
		data   []byte
		frames int    // good frames before the error
		want   string // exact error text; FILE stands for the file name
		is     error  // the sentinel the error wraps
	}{
		{"empty", nil, 0,
			"capture: FILE: empty file: not a pcap or pcapng file", ErrUnknownFormat},
		{"wrong magic", []byte("hello, world: not a capture"), 0,
			"capture: FILE: unknown magic number 68 65 6c 6c: not a pcap or pcapng file", ErrUnknownFormat},
		{"three bytes", []byte{0xd4, 0xc3, 0xb2}, 0,
			"capture: FILE: truncated file header (3 of 4 bytes): unexpected EOF", io.ErrUnexpectedEOF},
		{"truncated pcap header", pcapHeader(binary.LittleEndian, 65535)[:10], 0,
			"capture: FILE: truncated pcap file header (10 of 24 bytes): unexpected EOF", io.ErrUnexpectedEOF},
		{"pcap version 3", func() []byte {
			b := pcapHeader(binary.BigEndian, 65535)
			b[5] = 3
			return b
		}(), 0, "capture: FILE: unsupported pcap version 3.4: corrupt capture file", ErrCorrupt},
		{"truncated record", record(bytes.Clone(good), 60, 60, make([]byte, 20)), 1,
			"capture: FILE: record at offset 80: truncated (36 of 76 bytes): unexpected EOF", io.ErrUnexpectedEOF},
		{"truncated record header", append(bytes.Clone(good), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1,
			"capture: FILE: record at offset 80: truncated (10 of 16 bytes): unexpected EOF", io.ErrUnexpectedEOF},
		{"absurd caplen", record(bytes.Clone(good), 1<<24, 1<<24, make([]byte, 100)), 1,
			"capture: FILE: record at offset 80: captured length 16777216 exceeds the limit of 262144: corrupt capture file", ErrCorrupt},
		{"gzip of garbage", fileGzipBytes(t, []byte("this is not a capture file")), 0,
			"capture: FILE: unknown magic number 74 68 69 73: not a pcap or pcapng file", ErrUnknownFormat},
		{"garbage behind gzip magic", []byte{0x1f, 0x8b, 'n', 'o', 't', ' ', 'g', 'z', 'i', 'p', 0, 0}, 0,
			"capture: FILE: reading gzip header: gzip: invalid header", nil},
		{"pcapng bad byte-order magic", func() []byte {
			b := ngHead().b
			copy(b[8:], []byte{1, 2, 3, 4})
			return b
		}(), 0, "capture: FILE: block at offset 0: section header has unknown byte-order magic 0x04030201: corrupt capture file", ErrCorrupt},
		{"pcapng truncated section header", ngHead().b[:20], 0,
			"capture: FILE: block at offset 0: truncated (20 of 52 bytes): unexpected EOF", io.ErrUnexpectedEOF},
		{"pcapng version 2", func() []byte {
			b := ngHead().b
			b[12] = 2
			return b
		}(), 0, "capture: FILE: block at offset 0: unsupported pcapng version 2.0: corrupt capture file", ErrCorrupt},
		{"pcapng packet before interface", ngWith(func(w *fileNgBuilder) { w.epb(0, 1, make([]byte, 8), 8) }), 0,
			"capture: FILE: block at offset 52: packet for interface 0, but the section describes 0: corrupt capture file", ErrCorrupt},
		{"pcapng truncated packet block", ngGood[:len(ngGood)-10], 0,
			"capture: FILE: block at offset 72: truncated (102 of 112 bytes): unexpected EOF", io.ErrUnexpectedEOF},
		{"pcapng caplen beyond block", func() []byte {
			b := bytes.Clone(ngGood)
			binary.LittleEndian.PutUint32(b[72+20:], 200)
			return b
		}(), 0, "capture: FILE: block at offset 72: captured length 200 exceeds block length 112: corrupt capture file", ErrCorrupt},
		{"pcapng trailer mismatch", func() []byte {
			b := bytes.Clone(ngGood)
			binary.LittleEndian.PutUint32(b[len(b)-4:], 116)
			return b
		}(), 0, "capture: FILE: block at offset 72: trailing block length 116 does not match 112: corrupt capture file", ErrCorrupt},
		{"pcapng block length not a multiple of 4", func() []byte {
			b := bytes.Clone(ngGood)
			binary.LittleEndian.PutUint32(b[72+4:], 113)
			return b
		}(), 0, "capture: FILE: block at offset 72: packet block has invalid length 113: corrupt capture file", ErrCorrupt},
		{"pcapng unsupported resolution", ngWith(func(w *fileNgBuilder) { w.idb(capture.LinkEthernet, 0, w.option(ngOptTSResol, []byte{30})) }), 0,
			"capture: FILE: block at offset 52: timestamp resolution 10^-30 is not supported: corrupt capture file", ErrCorrupt},
		{"pcapng option overruns block", ngWith(func(w *fileNgBuilder) {
			w.idb(capture.LinkEthernet, 0, w.order.AppendUint16(w.order.AppendUint16(nil, 2), 40))
		}), 0, "capture: FILE: block at offset 52: interface option 2 has length 40 beyond the block: corrupt capture file", ErrCorrupt},
		{"pcapng truncated unknown block", ngWith(func(w *fileNgBuilder) {
			w.block(0x40000bad, make([]byte, 100))
			w.b = w.b[:len(w.b)-50]
		}), 0, "capture: FILE: block at offset 52: truncated block of type 0x40000bad (112 bytes): unexpected EOF", io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		for _, mode := range []string{"mmap", "stream"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var src capture.Source
				var err error
				name := filepath.Join(t.TempDir(), "bad")
				if mode == "mmap" {
					fileWriteFile(t, name, tc.data)
					src, err = OpenFile(name)
				} else {
					name = "stream"
					src, err = NewReader(bytes.NewReader(tc.data))
				}
				n := 0
				if err == nil {
					var got []fileWantFrame
					got, err = fileReadAll(src)
					n = len(got)
					if err2 := src.Next(&capture.Frame{}); err2 != err {
						t.Errorf("Next after the error returned %v, want the same error again", err2)
					}
					src.Close()
				}
				want := strings.ReplaceAll(tc.want, "FILE", name)
				if err == nil || err.Error() != want {
					t.Fatalf("got error\n\t%v\nwant\n\t%s", err, want)
				}
				if n != tc.frames {
					t.Errorf("read %d frames before the error, want %d", n, tc.frames)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error does not wrap %v", tc.is)
				}
			})
		}
	}
}

// TestTruncatedGzip cuts a compressed capture in half: the error must say
// where the data ends, whatever the compressor's block boundaries.
func TestTruncatedGzip(t *testing.T) {
	data, _ := fileBuildPcapgo(t, false, layers.LinkTypeEthernet)
	gz := fileGzipBytes(t, data)
	path := fileWriteFile(t, filepath.Join(t.TempDir(), "cut.pcap.gz"), gz[:len(gz)/2])
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = fileReadAll(src)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), "capture: "+path+": record at offset ") {
		t.Fatalf("got %v, want a truncated record error wrapping io.ErrUnexpectedEOF", err)
	}
}

func TestClose(t *testing.T) {
	data, _ := fileBuildPcapgo(t, false, layers.LinkTypeEthernet)
	src, err := OpenFile(fileWriteFile(t, filepath.Join(t.TempDir(), "a.pcap"), data))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Next(&capture.Frame{}); err == nil || err.Error() != "capture: source closed" {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// fileMemSource reads data the way OpenFile reads a mapped file, without a
// file: in place, unless it is compressed.
func fileMemSource(data []byte) (*FileSource, error) {
	s := &FileSource{name: "stream", in: input{buf: data, end: len(data)}}
	if isGzip(data) {
		s.in = input{}
		if err := s.openStream(bytes.NewReader(data)); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := s.detect(); err != nil {
		return nil, err
	}
	return s, nil
}

// fileFuzzRead checks that the mapped and the streamed paths agree on every
// input: the same frames, then the same error, and never a panic.
func fileFuzzRead(t *testing.T, data []byte) {
	var memFrames, streamFrames []fileWantFrame
	mem, memErr := fileMemSource(data)
	if memErr == nil {
		memFrames, memErr = fileReadAll(mem)
	}
	var stream capture.Source
	var streamErr error
	fileWithStreamBuffer(64, func() {
		stream, streamErr = NewReader(iotest.HalfReader(bytes.NewReader(data)))
		if streamErr == nil {
			streamFrames, streamErr = fileReadAll(stream)
		}
	})
	if memErr == nil || streamErr == nil {
		t.Fatalf("readers ended without error: %v, %v", memErr, streamErr)
	}
	if memErr.Error() != streamErr.Error() {
		t.Fatalf("mapped and streamed errors differ:\n\t%v\n\t%v", memErr, streamErr)
	}
	fileCompareFrames(t, streamFrames, memFrames)
	for _, f := range memFrames {
		if len(f.data) > capture.MaxSnapLen {
			t.Fatalf("frame of %d bytes", len(f.data))
		}
	}
}

func fileFuzzSeeds(f *testing.F, format string) {
	// A gzip magic alone once made the mapped and streamed paths disagree.
	f.Add([]byte{0x1f, 0x8b})
	for _, fx := range fileFixtures {
		if fx.format == format {
			data, _ := fx.build(f)
			f.Add(data)
			f.Add(data[:len(data)-3])
			f.Add(fileGzipBytes(f, data[:min(len(data), 600)]))
		}
	}
}

func FuzzReadPcap(f *testing.F) {
	fileFuzzSeeds(f, "pcap")
	f.Fuzz(fileFuzzRead)
}

func FuzzReadPcapNg(f *testing.F) {
	fileFuzzSeeds(f, "pcapng")
	f.Fuzz(fileFuzzRead)
}

// fileByteOrder is what binary.LittleEndian and binary.BigEndian both are.
type fileByteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// TestLargeMappedFile reads a file much larger than the read-ahead window
// through the mapping, to the last byte, and checks every frame.
func TestLargeMappedFile(t *testing.T) {
	for _, fx := range fileFixtures {
		if fx.name != "le-nano.pcap" && fx.name != "two-sections.pcapng" {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			data, want := fx.build(t)
			var big bytes.Buffer
			var all []fileWantFrame
			for i := 0; big.Len() < 3*readAheadDistance+12345; i++ {
				if fx.format == "pcap" && i > 0 {
					big.Write(data[pcapFileHeaderLen:])
				} else {
					big.Write(data)
				}
				for _, w := range want {
					if fx.format == "pcapng" {
						w.iface += 4 * i // each copy is two more sections
					}
					all = append(all, w)
				}
			}
			src, err := OpenFile(fileWriteFile(t, filepath.Join(t.TempDir(), fx.name), big.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.mapped == nil {
				t.Skip("file not mapped on this platform")
			}
			got, err := fileReadAll(src)
			if err != io.EOF {
				t.Fatal(err)
			}
			fileCompareFrames(t, got, all)
			if src.in.touched != big.Len() {
				t.Errorf("read ahead to %d of %d bytes", src.in.touched, big.Len())
			}
		})
	}
}
