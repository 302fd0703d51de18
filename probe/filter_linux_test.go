package probe

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// TestTCPReplyFilter runs the raw TCP sockets' filter on segments as each
// socket sees them (IPv4 with its header, with and without options; IPv6
// from the TCP header): SYN-ACK and RST pass, anything else is dropped.
func TestTCPReplyFilter(t *testing.T) {
	segment := func(v6 bool, options bool, set func(*layers.TCP)) []byte {
		tcp := &layers.TCP{SrcPort: 443, DstPort: 40000, Window: 1}
		set(tcp)
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true}
		if v6 {
			if err := gopacket.SerializeLayers(buf, opts, tcp); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
		if options {
			ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}} // 4 bytes: IHL 6
		}
		if err := gopacket.SerializeLayers(buf, opts, ip, tcp); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name string
		set  func(*layers.TCP)
		want bool
	}{
		{"syn-ack", func(t *layers.TCP) { t.SYN, t.ACK = true, true }, true},
		{"rst", func(t *layers.TCP) { t.RST = true }, true},
		{"rst-ack", func(t *layers.TCP) { t.RST, t.ACK = true, true }, true},
		{"ack", func(t *layers.TCP) { t.ACK = true }, false},
		{"syn", func(t *layers.TCP) { t.SYN = true }, false},
		{"psh-ack", func(t *layers.TCP) { t.PSH, t.ACK = true, true }, false},
		{"fin-ack", func(t *layers.TCP) { t.FIN, t.ACK = true, true }, false},
	}
	for _, v6 := range []bool{false, true} {
		vm, err := bpf.NewVM(tcpReplyFilter(v6))
		if err != nil {
			t.Fatal(err)
		}
		for _, options := range []bool{false, true} {
			if v6 && options {
				continue
			}
			for _, tt := range tests {
				n, err := vm.Run(segment(v6, options, tt.set))
				if err != nil {
					t.Fatal(err)
				}
				if got := n > 0; got != tt.want {
					t.Errorf("v6 %v, IP options %v, %s: kept %v, want %v", v6, options, tt.name, got, tt.want)
				}
			}
		}
	}
}
