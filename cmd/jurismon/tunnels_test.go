package main

import (
	"bytes"
	le "encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/report"
)

// WireGuard's handshake (RFC-like spec at wireguard.com/protocol): an
// initiation of 148 bytes with the sender index, a response of 92 bytes
// that echoes it as the receiver index, then transport data.
func wgInit(sender uint32) []byte {
	b := make([]byte, 148)
	b[0] = 1
	le.LittleEndian.PutUint32(b[4:], sender)
	return b
}

func wgResp(sender, receiver uint32) []byte {
	b := make([]byte, 92)
	b[0] = 2
	le.LittleEndian.PutUint32(b[4:], sender)
	le.LittleEndian.PutUint32(b[8:], receiver)
	return b
}

func wgData(receiver uint32, counter uint64) []byte {
	b := make([]byte, 32+16)
	b[0] = 4
	le.LittleEndian.PutUint32(b[4:], receiver)
	le.LittleEndian.PutUint64(b[8:], counter)
	return b
}

// wgSession is a WireGuard handshake and two data packets between a local
// host and a remote endpoint, and their payloads.
func wgSession(local, remote string, lport, rport uint16, idx uint32) ([]sent, [][]byte) {
	udp := layers.IPProtocolUDP
	return []sent{
			{src: local, dst: remote, proto: udp, sport: lport, dport: rport},
			{src: remote, dst: local, proto: udp, sport: rport, dport: lport},
			{src: local, dst: remote, proto: udp, sport: lport, dport: rport},
			{src: remote, dst: local, proto: udp, sport: rport, dport: lport},
		}, [][]byte{
			wgInit(idx), wgResp(idx+1, idx), wgData(idx+1, 0), wgData(idx, 0),
		}
}

const tunnelPolicy = testPolicy + `tunnels:
  flag_unlisted: true
  allowed:
    - cidr: 198.51.100.0/24
      reason: our concentrator
  providers: providers.csv
`

// TestAnalyzeByTunnel: one row per tunnel with its ends and verdict, the
// other traffic in the summary only, and the tunnels counted by protocol.
func TestAnalyzeByTunnel(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "capture.pcap")
	var traffic []sent
	var data [][]byte
	for _, s := range []struct {
		local, remote string
		lport, rport  uint16
		idx           uint32
	}{
		{"10.0.0.5", "192.0.2.129", 40000, 51820, 0x1111},  // RU: sanctioned
		{"10.0.0.6", "192.0.2.10", 40001, 443, 0x2222},     // DE: an unlisted VPN
		{"10.0.0.7", "198.51.100.7", 40002, 51820, 0x3333}, // US: allowed
	} {
		p, d := wgSession(s.local, s.remote, s.lport, s.rport, s.idx)
		traffic, data = append(traffic, p...), append(data, d...)
	}
	traffic = append(traffic, testTraffic...)
	writeCaptureData(t, capFile, traffic, data)
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(tunnelPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "providers.csv"), []byte("cidr,provider\n192.0.2.0/25,Example VPN\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"analyze", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
		"--geoip.lookup-documentation", "--config", pol, "--by", "tunnel"}
	out, errOut, code := jurismon(t, append(args, "--format", "json", capFile)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 3 {
		t.Fatalf("rows %+v, want the three tunnels", rep.Rows)
	}
	want := map[string]struct {
		local, jurisdiction, matched string
		lport, rport                 uint16
	}{
		"192.0.2.129":  {"10.0.0.5", "sanctioned", "country", 40000, 51820},
		"192.0.2.10":   {"10.0.0.6", "tunnel:unlisted", "flag_unlisted", 40001, 443},
		"198.51.100.7": {"10.0.0.7", "", "", 40002, 51820},
	}
	for _, r := range rep.Rows {
		w, ok := want[r.Remote]
		if !ok || r.Tunnel != "wireguard" || r.Local != w.local || r.LocalPort == nil || *r.LocalPort != w.lport ||
			r.RemotePort == nil || *r.RemotePort != w.rport || r.Jurisdiction != w.jurisdiction || r.MatchedBy != w.matched {
			t.Errorf("row %+v (ports %v %v), want %+v", r, r.LocalPort, r.RemotePort, w)
		}
		// The whole tunnel: its four packets, the handshake included.
		if r.PacketsTo+r.PacketsFrom != 4 || r.Flows != 1 || r.BytesTo != 2*28+148+48 {
			t.Errorf("row %s: %d packets, %d flows, %d bytes to", r.Remote, r.PacketsTo+r.PacketsFrom, r.Flows, r.BytesTo)
		}
	}
	if rep.Summary.Tunnels["wireguard"] != 3 || len(rep.Summary.Tunnels) != 1 {
		t.Errorf("summary tunnels %v", rep.Summary.Tunnels)
	}
	// The flagged traffic that is not a tunnel still counts in the summary.
	if rep.Summary.FlaggedFlows <= 2 {
		t.Errorf("flagged flows %d: the non-tunnel flagged traffic is missing", rep.Summary.FlaggedFlows)
	}

	table, _, _ := jurismon(t, append(args, capFile)...)
	for _, s := range []string{"TUNNEL", "wireguard", "10.0.0.5:40000", "192.0.2.129:51820", "tunnel:unlisted (flag_unlisted)", "tunnels: wireguard 3"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
	csv, _, _ := jurismon(t, append(args, "--format", "csv", capFile)...)
	if !bytes.Contains([]byte(csv), []byte(",tunnel,local_port,remote_port\n")) || !strings.Contains(csv, ",wireguard,40000,51820\n") {
		t.Errorf("csv:\n%s", csv)
	}
}
