package pcapfile

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/jurismon/jurismon/capture"
)

// benchPackets is the size of the generated benchmark captures: large
// enough to defeat the CPU caches (about 20 MB), small enough to write in
// a fraction of a second.
const benchPackets = 60_000

// fileBenchCapture writes an imix-like capture (7:4:1 of 64, 576 and 1500
// byte frames) as pcap or pcapng. Setting JURISMON_BENCH_PCAP to a pcap
// file benchmarks that file instead, e.g. the 1 GB one that
// cmd/jurismon-pcapgen writes.
func fileBenchCapture(b *testing.B, ng bool) (path string, packets int) {
	if p := os.Getenv("JURISMON_BENCH_PCAP"); p != "" && !ng {
		return p, fileCountPackets(b, p)
	}
	path = filepath.Join(b.TempDir(), "bench.pcap")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var write func(gopacket.CaptureInfo, []byte) error
	flush := bw.Flush
	if ng {
		w, err := pcapgo.NewNgWriter(bw, layers.LinkTypeEthernet)
		if err != nil {
			b.Fatal(err)
		}
		write = w.WritePacket
		flush = func() error {
			if err := w.Flush(); err != nil {
				return err
			}
			return bw.Flush()
		}
	} else {
		w := pcapgo.NewWriterNanos(bw)
		if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
			b.Fatal(err)
		}
		write = w.WritePacket
	}
	r := rand.New(rand.NewPCG(1, 2))
	frame := make([]byte, 1500)
	for i := range frame {
		frame[i] = byte(r.Uint32())
	}
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	ts := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range benchPackets {
		n := 64
		switch k := r.IntN(12); {
		case k >= 11:
			n = 1500
		case k >= 7:
			n = 576
		}
		ts = ts.Add(time.Duration(r.IntN(20_000)))
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: n, Length: n}
		frame[0] = byte(i)
		if err := write(ci, frame[:n]); err != nil {
			b.Fatal(err)
		}
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	return path, benchPackets
}

func fileCountPackets(b *testing.B, path string) int {
	src, err := OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var f capture.Frame
	n := 0
	for src.Next(&f) == nil {
		n++
	}
	return n
}

// fileBenchRead runs one pass over the capture per iteration. Each reader
// touches the first byte of every frame, as the decoder will, so that the
// mapped reader pays for its page faults like the copying ones pay for
// their copies.
func fileBenchRead(b *testing.B, path string, packets int, pass func(*os.File) (int, byte)) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := pass(f)
		f.Close()
		if n != packets {
			b.Fatalf("read %d packets, want %d", n, packets)
		}
	}
	total := float64(b.N) * float64(packets)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/packet")
	b.ReportMetric(total/b.Elapsed().Seconds()/1e6, "Mpps")
}

func fileSourcePass(b *testing.B, src *FileSource) (int, byte) {
	var f capture.Frame
	var sum byte
	n := 0
	for {
		err := src.Next(&f)
		if err != nil {
			if err != io.EOF {
				b.Fatal(err)
			}
			src.Close()
			return n, sum
		}
		if len(f.Data) > 0 {
			sum += f.Data[0]
		}
		n++
	}
}

// benchJurismonReaders runs the memory-mapped and the streamed reader.
func benchJurismonReaders(b *testing.B, path string, packets int) {
	b.Run("jurismon-mmap", func(b *testing.B) {
		fileBenchRead(b, path, packets, func(*os.File) (int, byte) {
			src, err := OpenFile(path)
			if err != nil {
				b.Fatal(err)
			}
			return fileSourcePass(b, src)
		})
	})
	b.Run("jurismon-stream", func(b *testing.B) {
		fileBenchRead(b, path, packets, func(f *os.File) (int, byte) {
			src, err := NewReader(f)
			if err != nil {
				b.Fatal(err)
			}
			return fileSourcePass(b, src.(*FileSource))
		})
	})
}

func BenchmarkReadPcap(b *testing.B) {
	path, packets := fileBenchCapture(b, false)
	benchJurismonReaders(b, path, packets)
	b.Run("pcapgo-zerocopy", func(b *testing.B) {
		fileBenchRead(b, path, packets, func(f *os.File) (int, byte) {
			r, err := pcapgo.NewReader(f)
			if err != nil {
				b.Fatal(err)
			}
			return zeroCopyPass(b, r)
		})
	})
}

func BenchmarkReadPcapNg(b *testing.B) {
	path, packets := fileBenchCapture(b, true)
	benchJurismonReaders(b, path, packets)
	b.Run("pcapgo-ngreader-zerocopy", func(b *testing.B) {
		fileBenchRead(b, path, packets, func(f *os.File) (int, byte) {
			r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
			if err != nil {
				b.Fatal(err)
			}
			return zeroCopyPass(b, r)
		})
	})
}

// zeroCopyPass reads every packet of r, as fileSourcePass does for
// jurismon's reader: the count, and a byte of each so the reads stay.
func zeroCopyPass(b *testing.B, r gopacket.ZeroCopyPacketDataSource) (n int, sum byte) {
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if err != nil {
			if err != io.EOF {
				b.Fatal(err)
			}
			return n, sum
		}
		if len(data) > 0 {
			sum += data[0]
		}
		n++
	}
}
