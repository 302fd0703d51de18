package capture

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/internal/netnstest"
)

// liveNeverPayload sends a secret over TCP and UDP (IPv4 and IPv6) through
// the captured link with the default options (no payload kept): no frame
// read from the ring holds a byte of payload, each ends exactly where its
// headers do, and the user-space VM running the same program agrees with
// the kernel on every length.
func liveNeverPayload(t *testing.T, engine string, p peer) {
	const filter = "port 9997 or port 9996"
	r := startLive(t, engine, LiveOptions{Payload: -1, Filter: filter}, nil)
	secret := bytes.Repeat([]byte("JURISMON-SECRET!"), 16) // 256 bytes

	ln, err := net.Listen("tcp", "192.0.2.1:9997")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		received <- int(n)
	}()
	for _, a := range []string{"192.0.2.1:9996", "[2001:db8::1]:9996"} {
		u, err := net.ListenPacket("udp", a) // no port-unreachable errors
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
	}
	const writes = 10
	err = netnstest.Run(p.ns, func() error {
		c, err := net.DialTimeout("tcp", "192.0.2.1:9997", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		for range writes {
			if _, err := c.Write(secret); err != nil {
				return err
			}
			time.Sleep(time.Millisecond) // one segment each
		}
		for _, dst := range []string{"192.0.2.1:9996", "[2001:db8::1]:9996"} {
			u, err := net.Dial("udp", dst)
			if err != nil {
				return err
			}
			for range writes {
				if _, err := u.Write(secret); err != nil {
					return err
				}
			}
			u.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := <-received; n != writes*len(secret) {
		t.Fatalf("the listener received %d bytes, want %d", n, writes*len(secret))
	}
	var data int
	waitFor(t, "the secret's frames", func() bool {
		data = 0
		for _, c := range r.col.snapshot() {
			if int(c.f.WireLen) > 14+60+len(secret)/2 {
				data++
			}
		}
		return data >= 3*writes
	})
	vm := cutVM(t, filter, LinkEthernet, DefaultSnapLen, CutOptions{})
	for _, c := range r.col.snapshot() {
		if bytes.Contains(c.data, secret[:8]) {
			t.Fatalf("the secret is in the ring: % x", c.data)
		}
		pkt := gopacket.NewPacket(c.data, layers.LayerTypeEthernet, gopacket.DecodeOptions{NoCopy: true})
		var payload []byte
		switch {
		case pkt.Layer(layers.LayerTypeTCP) != nil:
			payload = pkt.Layer(layers.LayerTypeTCP).LayerPayload()
		case pkt.Layer(layers.LayerTypeUDP) != nil:
			payload = pkt.Layer(layers.LayerTypeUDP).LayerPayload()
		default:
			t.Fatalf("a frame without its transport header: % x", c.data)
		}
		if len(payload) != 0 {
			t.Errorf("%d payload bytes kept of a %d-byte frame: % x", len(payload), c.f.WireLen, c.data)
		}
		if n, err := vm.Run(c.data); err != nil || n != len(c.data) {
			t.Errorf("the VM keeps %d of the %d bytes the kernel kept (%v)", n, len(c.data), err)
		}
	}
	t.Logf("%d frames carried the secret on the wire; none of it reached the ring", data)
}
