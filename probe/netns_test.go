//go:build linux

package probe

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// labProber opens a prober in the lab's agent namespace and a TCP
// listener on the target.
func labProber(t *testing.T, l *lab, opts Options) *Prober {
	t.Helper()
	var p *Prober
	var err error
	l.in("agent", func() { p, err = NewProber(opts) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for _, addr := range []string{net.JoinHostPort(labTarget4, "8443"), net.JoinHostPort(labTarget6, "8443")} {
		var ln net.Listener
		l.in("target", func() { ln, err = net.Listen("tcp", addr) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return p
}

func addrs(tr *Trace) []string {
	var out []string
	for _, h := range tr.Hops {
		if h.Answered {
			out = append(out, h.Addr.String())
		} else {
			out = append(out, "*")
		}
	}
	return out
}

func TestNetnsTrace(t *testing.T) {
	l := newLab(t)
	p := labProber(t, l, Options{MaxTTL: 8, ProbeTimeout: 500 * time.Millisecond, ProbesPerSec: 1000, Burst: 50})
	via2 := map[bool][]string{
		true:  {"192.0.2.2", "192.0.2.6", labTarget4},
		false: {"2001:db8:1::2", "2001:db8:2::2", labTarget6},
	}
	via3 := map[bool][]string{
		true:  {"192.0.2.2", "192.0.2.14", labTarget4},
		false: {"2001:db8:1::2", "2001:db8:4::2", labTarget6},
	}
	type tc struct {
		method Method
		port   uint16
		dst    string
	}
	var cases []tc
	for _, dst := range []string{labTarget4, labTarget6} {
		cases = append(cases, tc{MethodUDP, 0, dst}, tc{MethodTCP, 8443, dst}, tc{MethodTCP, 9, dst}, tc{MethodICMP, 0, dst})
	}
	for _, route := range []string{"r2", "r3"} {
		if route == "r3" {
			l.switchToR3()
		}
		for _, c := range cases {
			t.Run(route+"/"+c.method.String()+"/"+c.dst, func(t *testing.T) {
				tr, err := p.TraceAddr(context.Background(), Target{Name: "lab", Host: c.dst, Port: c.port, Method: c.method}, netip.MustParseAddr(c.dst))
				if err != nil {
					t.Fatal(err)
				}
				want := via2[netip.MustParseAddr(c.dst).Is4()]
				if route == "r3" {
					want = via3[netip.MustParseAddr(c.dst).Is4()]
				}
				if got := addrs(tr); !slices.Equal(got, want) || !tr.Reached {
					t.Fatalf("hops %v reached %v, want %v reached", got, tr.Reached, want)
				}
				for _, h := range tr.Hops {
					if h.RTT <= 0 || h.RTT > 200*time.Millisecond {
						t.Errorf("hop %d RTT %v out of range", h.TTL, h.RTT)
					}
				}
			})
		}
	}
}
