package dns

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/capture/pcapfile"
	"github.com/jurismon/jurismon/enrich"
)

// payload returns the transport payload of an Ethernet frame, the first
// fragment's included, by gopacket's layers. (capture.Packet gains a
// Payload field in another branch; this goes once it is on main.)
func payload(frame []byte) []byte {
	pkt := gopacket.NewPacket(frame, layers.LinkTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	if t := pkt.TransportLayer(); t != nil {
		return t.LayerPayload()
	}
	f, ok := pkt.Layer(gopacket.LayerTypeFragment).(*gopacket.Fragment)
	if !ok || len(*f) < 8 {
		return nil
	}
	// A first fragment starts with the UDP header (later ones carry no
	// port, and capture.Decoder leaves their ports zero).
	return (*f)[8:]
}

// seen is what one frame's response added: its result and the address
// answers stored, each with the name it was stored under.
type seen struct {
	result   Result
	answers  []string // "name addr", sorted
	fragment bool     // the first fragment of a datagram
	id       uint16   // the message ID, for UDP
}

// replay feeds every frame of a capture file to a fresh cache per frame
// (to tell each frame's answers) and to one cache for the whole file.
func replay(t *testing.T, path string) (map[int]seen, *Cache) {
	t.Helper()
	src, err := pcapfile.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := capture.NewDecoder()
	whole := New(Options{})
	frames := map[int]seen{}
	states := map[[2]netip.AddrPort]*enrich.State{}
	var f capture.Frame
	for n := 1; ; n++ {
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		var p capture.Packet
		if dec.DecodeFrame(&f, &p) != capture.Decoded {
			continue
		}
		b := payload(f.Data)
		key := [2]netip.AddrPort{netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)}
		st := states[key]
		if st == nil {
			st = new(enrich.State)
			states[key] = st
		}
		whole.Feed(st, &p, b)
		one := New(Options{Capacity: 1})
		var st1 enrich.State
		if p.Proto == protoTCP { // TCP framing needs the flow's state: the file-wide one, copied before it was fed
			st1 = *st
		}
		one.Feed(&st1, &p, b)
		for r := range numResults {
			if one.metrics.messages[r].Load() > 0 {
				frames[n] = seen{result: r, answers: one.entries(), fragment: p.Fragment}
				if p.Proto == protoUDP && len(b) >= 2 {
					frames[n] = seen{result: r, answers: one.entries(), fragment: p.Fragment, id: uint16(b[0])<<8 | uint16(b[1])}
				}
			}
		}
	}
	return frames, whole
}

// entries lists every stored (name, address) pair as "name addr".
func (c *Cache) entries() []string {
	var out []string
	for i := range c.shards {
		for _, s := range c.shards[i].slots {
			for _, n := range s.names[:s.n] {
				out = append(out, n.Chain[0]+" "+s.addr.String())
			}
		}
	}
	slices.Sort(out)
	return out
}

// answered is one response as tshark decodes it.
type answered struct {
	id      uint16
	tcp     bool
	answers []string // "qname addr", sorted
}

// tsharkAnswers returns, per response frame, the A and AAAA records of the
// answer section as tshark decodes them, and the message ID. tshark
// prints the types of every record (answers, authority, additional) in
// order, and the addresses of every A and AAAA record; the answer count
// tells which of them are answers.
func tsharkAnswers(t *testing.T, path string) map[int]answered {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-Y", "dns.flags.response==1", "-T", "fields",
		"-E", "separator=/t", "-E", "aggregator=,", "-e", "frame.number", "-e", "tcp.srcport", "-e", "dns.id", "-e", "dns.qry.name",
		"-e", "dns.count.answers", "-e", "dns.resp.type", "-e", "dns.a", "-e", "dns.aaaa").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	frames := map[int]answered{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 8 {
			t.Fatalf("tshark line %q", sc.Text())
		}
		n, _ := strconv.Atoi(fs[0])
		tcp := fs[1] != ""
		id, _ := strconv.ParseUint(strings.TrimPrefix(fs[2], "0x"), 16, 16)
		fs = fs[2:]
		qname := strings.ToLower(split(fs[1])[0])
		ancount, _ := strconv.Atoi(fs[2])
		types, as, aaaas := split(fs[3]), split(fs[4]), split(fs[5])
		var got []string
		for _, typ := range types[:min(ancount, len(types))] {
			switch typ {
			case "1":
				got, as = append(got, qname+" "+as[0]), as[1:]
			case "28":
				got, aaaas = append(got, qname+" "+aaaas[0]), aaaas[1:]
			}
		}
		slices.Sort(got)
		frames[n] = answered{id: uint16(id), tcp: tcp, answers: got}
	}
	return frames
}

// TestCaptures decodes the real DNS captures in $JURISMON_CAPTURES_DIR/dns
// and checks each frame's answers against tshark's: equal where the
// message decoded, a subset where it was cut (first fragments, TCP
// messages over several segments: tshark reassembles both) or malformed.
func TestCaptures(t *testing.T) {
	dir := os.Getenv("JURISMON_CAPTURES_DIR")
	if dir == "" {
		t.Skip("JURISMON_CAPTURES_DIR is not set (e.g. JURISMON_CAPTURES_DIR=/work/shared/captures)")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (apt-get install tshark)")
	}
	files, err := filepath.Glob(filepath.Join(dir, "dns", "*.pcap"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s/dns: %v", dir, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ours, whole := replay(t, path)
			theirs := tsharkAnswers(t, path)
			var all []string // every answer tshark saw in the file
			for _, a := range theirs {
				all = append(all, a.answers...)
			}
			var counts [numResults]int
			answers := 0
			matched := map[int]bool{}
			for n, s := range ours {
				counts[s.result]++
				answers += len(s.answers)
				k, ok := n, true
				if s.fragment {
					// tshark decodes the message at its last fragment: the
					// next response with the same ID.
					k, ok = 0, false
					for j, a := range theirs {
						if a.id == s.id && j > n && (!ok || j < k) {
							k, ok = j, true
						}
					}
				}
				m := theirs[k]
				matched[k] = true
				switch s.result {
				case Decoded:
					if !ok || !slices.Equal(s.answers, m.answers) {
						t.Errorf("frame %d: answers %q, tshark %q", n, s.answers, m.answers)
					}
				default:
					for _, a := range s.answers {
						if !slices.Contains(all, a) {
							t.Errorf("frame %d (%v): answer %q not in tshark's", n, s.result, a)
						}
					}
				}
			}
			// Every UDP response with answers tshark decodes, we decode too.
			// (Over TCP, tshark reassembles a message from segments; we read
			// the part in the first, counted partial.)
			for n, a := range theirs {
				if !matched[n] && len(a.answers) > 0 && !a.tcp {
					t.Errorf("frame %d: tshark answers %q, we saw no message", n, a.answers)
				}
			}
			// The file-wide cache names every address it holds as tshark did.
			for _, a := range whole.entries() {
				if !slices.Contains(all, a) {
					t.Errorf("cache holds %q, tshark has no such answer", a)
				}
			}
			t.Logf("%d tshark responses with %d answers; ours: %d decoded, %d partial, %d ignored, %d malformed, %d answers",
				len(theirs), len(all), counts[Decoded], counts[Partial], counts[Ignored], counts[Malformed], answers)
		})
	}
}
