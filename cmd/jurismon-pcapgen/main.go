package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("jurismon-pcapgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output pcap `file` (required)")
	sizeFlag := fs.String("size", "1GB", "approximate file `size` (B, KB, MB, GB, or KiB, MiB, GiB)")
	flows := fs.Int("flows", 100000, "number of distinct flows")
	seed := fs.Uint64("seed", 1, "random seed: the same seed writes the same file")
	v6 := fs.Float64("ipv6", 0.10, "share of flows over IPv6")
	scan := fs.Bool("scan", false, "a scan instead: every packet goes out to a new random remote address (for memory bounds)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	size, err := parseSize(*sizeFlag)
	if err == nil && *out == "" {
		err = errors.New("-o is required")
	}
	if err == nil && *flows < 1 {
		err = errors.New("-flows must be at least 1")
	}
	if err == nil && (*v6 < 0 || *v6 > 1) {
		err = errors.New("-ipv6 must be between 0 and 1")
	}
	if err != nil {
		fmt.Fprintf(stderr, "jurismon-pcapgen: %v\n", err)
		return 2
	}
	start := time.Now()
	st, err := writeFile(*out, config{size: size, flows: *flows, seed: *seed, v6Share: *v6, scan: *scan})
	if err != nil {
		fmt.Fprintf(stderr, "jurismon-pcapgen: %v\n", err)
		return 1
	}
	n := *flows
	if *scan {
		n = int(st.packets)
	}
	fmt.Fprintf(stderr, "jurismon-pcapgen: wrote %s: %d packets, %d bytes, %d flows in %.1fs\n",
		*out, st.packets, st.bytes, n, time.Since(start).Seconds())
	return 0
}

// parseSize reads "1GB", "512MiB", "1000000" and the like.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1},
	}
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, unit := range units {
		if strings.HasSuffix(u, unit.suffix) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, unit.suffix)), unit.mult
			break
		}
	}
	v, err := strconv.ParseFloat(u, 64)
	if err != nil || v <= 0 || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("invalid -size %q", s)
	}
	return int64(v * float64(mult)), nil
}

type config struct {
	size    int64
	flows   int
	seed    uint64
	v6Share float64
	scan    bool // every packet to a new remote address
}

type stats struct {
	packets, bytes int64
}

func writeFile(path string, c config) (stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return stats{}, err
	}
	st, err := generate(f, c)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return st, err
}

const (
	ipProtoICMP   = 1
	ipProtoTCP    = 6
	ipProtoUDP    = 17
	ipProtoICMPv6 = 58
)

// flow holds the headers of both directions, built once, so that writing a
// packet is a copy and a few stores.
type flow struct {
	out, in []byte // Ethernet + IP + L4 header, local→remote and back
	v6      bool
	proto   uint8
	seqOut  uint32
	seqIn   uint32
	ipID    uint16
}

// generate writes the pcap to w until it holds at least c.size bytes.
func generate(w io.Writer, c config) (stats, error) {
	r := rand.New(rand.NewPCG(c.seed, 0x6a75726973))
	v4, v6, err := parsePrefixes()
	if err != nil {
		return stats{}, err
	}
	if c.scan {
		c.flows = 2 // flows are made per packet
	}
	flows := make([]flow, c.flows)
	for i := range flows {
		flows[i] = newFlow(r, v4, v6, c.v6Share)
	}
	// A few flows carry most packets, as on real links. Zipf picks an
	// index; the flows were created in random order, so popularity is
	// independent of address or protocol.
	zipf := rand.NewZipf(r, 1.1, 4, uint64(c.flows-1))

	bw := bufio.NewWriterSize(w, 1<<20)
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4) // microseconds, little-endian
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	if _, err := bw.Write(hdr[:]); err != nil {
		return stats{}, err
	}
	st := stats{bytes: int64(len(hdr))}

	payload := make([]byte, 1500)
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	frame := make([]byte, 16+1500)
	ts := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).UnixMicro()
	for st.bytes < c.size {
		fl := &flows[zipf.Uint64()]
		egress := r.IntN(5) < 2 // downloads dominate: 40% out, 60% in
		if c.scan {
			*fl = newFlow(r, v4, v6, c.v6Share)
			egress = true
		}
		n := frameSize(r, fl, egress)
		if c.scan {
			n = max(64, len(fl.out)) // probes are small
		}
		h := fl.in
		if egress {
			h = fl.out
		}
		rec := frame[:16+n]
		copy(rec[16:], h)
		copy(rec[16+len(h):], payload[:n-len(h)])
		fl.finish(rec[16:], len(h), egress)

		ts += int64(1 + r.IntN(20)) // about 100k packets per second
		binary.LittleEndian.PutUint32(rec[0:], uint32(ts/1e6))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts%1e6))
		binary.LittleEndian.PutUint32(rec[8:], uint32(n))
		binary.LittleEndian.PutUint32(rec[12:], uint32(n))
		if _, err := bw.Write(rec); err != nil {
			return st, err
		}
		st.packets++
		st.bytes += int64(len(rec))
	}
	return st, bw.Flush()
}

// frameSize draws an imix-like frame size (7:4:1 of 64, 576 and 1500
// bytes, with some spread, and a tenth spread evenly), never smaller than
// the flow's headers. Full-size frames come from the remote side of TCP
// flows, as downloads do.
func frameSize(r *rand.Rand, fl *flow, egress bool) int {
	var n int
	switch k := r.IntN(13); {
	case k == 12:
		n = 64 + r.IntN(1500-64+1)
	case k >= 11:
		n = 1500
		if egress || fl.proto != ipProtoTCP {
			n = 576 + r.IntN(500)
		}
	case k >= 7:
		n = 540 + r.IntN(80)
	default:
		n = 64 + r.IntN(8)
	}
	return max(n, len(fl.out))
}

var (
	macLocal  = []byte{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	macRouter = []byte{0x02, 0x00, 0x5e, 0x10, 0x00, 0xfe}
)

func newFlow(r *rand.Rand, v4, v6 []netip.Prefix, v6Share float64) flow {
	fl := flow{seqOut: r.Uint32(), seqIn: r.Uint32(), ipID: uint16(r.Uint32())}
	fl.v6 = r.Float64() < v6Share
	var local, remote netip.Addr
	if fl.v6 {
		local = randomIn(r, netip.MustParsePrefix("fd6a:7572:6973::/48"))
		remote = randomIn(r, v6[r.IntN(len(v6))])
	} else {
		local = randomIn(r, netip.MustParsePrefix("10.0.0.0/8"))
		remote = randomIn(r, v4[r.IntN(len(v4))])
	}
	var lport, rport uint16 = uint16(32768 + r.IntN(28232)), 443
	switch k := r.IntN(100); {
	case k < 80:
		fl.proto = ipProtoTCP
		rport = pick(r, []uint16{443, 443, 443, 443, 443, 443, 80, 80, 22, 25, 993, 8443, 5222})
	case k < 97:
		fl.proto = ipProtoUDP
		rport = pick(r, []uint16{443, 443, 443, 53, 53, 123, 3478, 51820, 4500})
	default:
		fl.proto = ipProtoICMP
		if fl.v6 {
			fl.proto = ipProtoICMPv6
		}
		lport = uint16(r.Uint32()) // echo identifier
	}
	ttlIn := uint8(40 + r.IntN(80))
	fl.out = headers(fl.v6, fl.proto, macRouter, macLocal, local, remote, lport, rport, 64, true)
	fl.in = headers(fl.v6, fl.proto, macLocal, macRouter, remote, local, rport, lport, ttlIn, false)
	return fl
}

func pick(r *rand.Rand, ports []uint16) uint16 { return ports[r.IntN(len(ports))] }

// randomIn returns a random host address inside p.
func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	if len(b) == 4 && (b[3] == 0 || b[3] == 255) {
		b[3] = 1 + byte(r.IntN(254)) // no network or broadcast addresses
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// headers builds Ethernet, IP and transport headers; lengths and checksums
// are filled in per packet by finish.
func headers(v6 bool, proto uint8, dstMAC, srcMAC []byte, src, dst netip.Addr, sport, dport uint16, ttl uint8, request bool) []byte {
	h := make([]byte, 0, 14+40+32)
	h = append(h, dstMAC...)
	h = append(h, srcMAC...)
	if v6 {
		h = binary.BigEndian.AppendUint16(h, 0x86dd)
		h = append(h, 0x60, 0, 0, 0, 0, 0, proto, ttl)
		h = append(h, src.AsSlice()...)
		h = append(h, dst.AsSlice()...)
	} else {
		h = binary.BigEndian.AppendUint16(h, 0x0800)
		flags := byte(0x40) // don't fragment
		if proto != ipProtoTCP {
			flags = 0
		}
		h = append(h, 0x45, 0, 0, 0, 0, 0, flags, 0, ttl, proto, 0, 0)
		h = append(h, src.AsSlice()...)
		h = append(h, dst.AsSlice()...)
	}
	switch proto {
	case ipProtoTCP:
		h = binary.BigEndian.AppendUint16(h, sport)
		h = binary.BigEndian.AppendUint16(h, dport)
		h = append(h, 0, 0, 0, 0, 0, 0, 0, 0) // sequence and acknowledgement, per packet
		h = append(h, 8<<4, 0x10, 0x01, 0xf5, 0, 0, 0, 0)
		h = append(h, 1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0) // NOP NOP timestamps, as Linux sends
	case ipProtoUDP:
		h = binary.BigEndian.AppendUint16(h, sport)
		h = binary.BigEndian.AppendUint16(h, dport)
		h = append(h, 0, 0, 0, 0)
	default: // ICMP or ICMPv6 echo
		typ := byte(8)
		switch {
		case v6 && request:
			typ = 128
		case v6:
			typ = 129
		case !request:
			typ = 0
		}
		h = append(h, typ, 0, 0, 0)
		h = binary.BigEndian.AppendUint16(h, sport)
		h = append(h, 0, 1)
	}
	return h
}

// finish fills in the per-packet fields of a frame whose first hl bytes are
// the flow's headers: lengths, IPv4 identification and checksum, TCP
// sequence numbers and flags.
func (fl *flow) finish(frame []byte, hl int, egress bool) {
	l4 := 14 + 20
	if fl.v6 {
		l4 = 14 + 40
		binary.BigEndian.PutUint16(frame[18:], uint16(len(frame)-l4))
	} else {
		ip := frame[14:34]
		binary.BigEndian.PutUint16(ip[2:], uint16(len(frame)-14))
		fl.ipID++
		binary.BigEndian.PutUint16(ip[4:], fl.ipID)
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	}
	data := len(frame) - hl
	switch fl.proto {
	case ipProtoTCP:
		seq, ack := &fl.seqOut, fl.seqIn
		if !egress {
			seq, ack = &fl.seqIn, fl.seqOut
		}
		binary.BigEndian.PutUint32(frame[l4+4:], *seq)
		binary.BigEndian.PutUint32(frame[l4+8:], ack)
		*seq += uint32(data)
		frame[l4+13] = 0x10 // ACK
		if data > 0 {
			frame[l4+13] = 0x18 // PSH ACK
		}
	case ipProtoUDP:
		binary.BigEndian.PutUint16(frame[l4+4:], uint16(len(frame)-l4))
	}
}

// checksum is the Internet checksum of an IPv4 header.
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func parsePrefixes() (v4, v6 []netip.Prefix, err error) {
	for _, p := range remotePrefixes {
		pfx, err := netip.ParsePrefix(p.prefix)
		if err != nil {
			return nil, nil, err
		}
		v4 = append(v4, pfx)
	}
	for _, p := range remotePrefixes6 {
		pfx, err := netip.ParsePrefix(p.prefix)
		if err != nil {
			return nil, nil, err
		}
		v6 = append(v6, pfx)
	}
	return v4, v6, nil
}
