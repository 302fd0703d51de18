package macvendor

import "net/netip"

// FromEUI64 recovers the MAC address embedded in an IPv6 address whose
// interface identifier is a modified EUI-64 (RFC 4291 appendix A): the MAC's
// two halves around ff:fe, with the universal/local bit inverted. Such an
// address reveals its device's MAC beyond the local segment, where no
// Ethernet header is seen. ok is false for IPv4 and for identifiers that are
// not of that form (privacy addresses, RFC 7217 stable addresses).
func FromEUI64(a netip.Addr) (mac [6]byte, ok bool) {
	if !a.Is6() || a.Is4In6() {
		return mac, false
	}
	b := a.As16()
	if b[11] != 0xff || b[12] != 0xfe {
		return mac, false
	}
	mac = [6]byte{b[8] ^ 0x02, b[9], b[10], b[13], b[14], b[15]}
	if !IsDevice(mac) {
		return [6]byte{}, false
	}
	return mac, true
}
