package main

import (
	"testing"

	"github.com/jurismon/jurismon/probe"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    probe.Target
		wantErr string
	}{
		{in: "192.0.2.1", want: probe.Target{Name: "192.0.2.1", Host: "192.0.2.1", Method: probe.MethodUDP}},
		{in: "web=example.org:443/tcp", want: probe.Target{Name: "web", Host: "example.org", Port: 443, Method: probe.MethodTCP}},
		{in: "2001:db8::1/icmp", want: probe.Target{Name: "2001:db8::1", Host: "2001:db8::1", Method: probe.MethodICMP}},
		{in: "v6=[2001:db8::1]:8443/tcp", want: probe.Target{Name: "v6", Host: "2001:db8::1", Port: 8443, Method: probe.MethodTCP}},
		{in: "dns=198.51.100.53:53", want: probe.Target{Name: "dns", Host: "198.51.100.53", Port: 53, Method: probe.MethodUDP}},
		{in: "example.org/tcp", wantErr: `probe target "example.org/tcp": a tcp trace needs the destination's port`},
		{in: "example.org:99999", wantErr: `probe target "example.org:99999": bad port "99999"`},
		{in: "[2001:db8::1:80", wantErr: `probe target "[2001:db8::1:80": missing ]`},
		{in: "x=/udp", wantErr: `probe target "x=/udp": no host`},
		{in: "example.org/sctp", wantErr: `probe target "example.org/sctp": `},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTarget(tt.in)
			if tt.wantErr != "" {
				if err == nil || len(err.Error()) < len(tt.wantErr) || err.Error()[:len(tt.wantErr)] != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
