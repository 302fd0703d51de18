package macvendor

import (
	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
)

// Enricher names the device behind a new flow's local endpoint: the MAC
// that sends from or receives for the local address on the captured
// segment, or the one embedded in an EUI-64 IPv6 address (which holds
// beyond the segment, behind a router, and so wins when present).
type Enricher struct{ Source *Source }

// Enrich sets f.Device.
func (e Enricher) Enrich(f *enrich.Facts, p *capture.Packet) {
	if f.Transit {
		return // neither endpoint is local: no device of ours
	}
	local := f.Local.Addr()
	var mac [6]byte
	var ok, eui bool
	if mac, ok = FromEUI64(local); ok {
		eui = true
	} else if mac, ok = segmentMAC(p, local == p.Src); !ok {
		return
	}
	v, ok := e.Source.Lookup(mac)
	if !ok {
		return // a group address: no device
	}
	f.Device = enrich.Device{
		MAC: mac, HasMAC: true, FromEUI64: eui, Private: v.Private,
		Vendor: v.Name, VendorCountry: v.Country,
	}
}

// segmentMAC returns the MAC of the packet's source (or destination) on
// the captured segment: the inner Ethernet header's of a decapsulated
// mirror session (VXLAN, ERSPAN), whose addresses belong to the inner IP
// header, else the outermost.
func segmentMAC(p *capture.Packet, src bool) ([6]byte, bool) {
	switch {
	case p.HasInnerMAC && src:
		return p.InnerSrcMAC, true
	case p.HasInnerMAC:
		return p.InnerDstMAC, true
	case p.HasMAC && p.Tunnels == 0 && src:
		return p.SrcMAC, true
	case p.HasMAC && p.Tunnels == 0:
		return p.DstMAC, true
	}
	// The outer Ethernet header of a routed tunnel (IP-in-IP, GRE with IP)
	// belongs to the tunnel's endpoints, not to the inner addresses.
	return [6]byte{}, false
}
