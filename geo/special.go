package geo

import "net/netip"

// Class is the special-purpose class of an address, from IANA's IPv4 and IPv6
// Special-Purpose Address Registries (RFC 6890 and its updates). Addresses of
// any class other than ClassPublic are never looked up in a database nor
// reported as a country: they say nothing about a jurisdiction. The
// exceptions are ClassNAT64 (the well-known /96), Class6to4 and ClassTeredo
// addresses that embed a public IPv4 address: the Resolver locates them by
// it (see Embedded) and reports them as ClassPublic.
type Class uint8

// The classes. Their String values are stable: they appear in reports, JSON
// and metric labels.
const (
	ClassPublic        Class = iota // globally routable; looked up in the databases
	ClassInvalid                    // the zero netip.Addr
	ClassUnspecified                // 0.0.0.0, ::
	ClassPrivate                    // RFC 1918: 10/8, 172.16/12, 192.168/16
	ClassShared                     // RFC 6598 carrier-grade NAT: 100.64/10
	ClassLoopback                   // 127/8, ::1
	ClassLinkLocal                  // 169.254/16, fe80::/10
	ClassMulticast                  // 224/4, ff00::/8
	ClassBroadcast                  // 255.255.255.255
	ClassDocumentation              // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
	ClassBenchmarking               // 198.18/15, 2001:2::/48
	ClassReserved                   // 0/8, 192.0.0/24, 240/4, ::/8 leftovers, 2001::/23 leftovers, fec0::/10, 5f00::/16, ...
	ClassUniqueLocal                // fc00::/7
	ClassIPv4Mapped                 // ::ffff:0:0/96 (the Resolver unmaps these first)
	ClassNAT64                      // 64:ff9b::/96, 64:ff9b:1::/48
	ClassTeredo                     // 2001::/32
	Class6to4                       // 2002::/16 and the deprecated relay anycast 192.88.99/24
	ClassDiscardOnly                // 100::/64
	numClasses
)

var classNames = [numClasses]string{
	ClassPublic:        "public",
	ClassInvalid:       "invalid",
	ClassUnspecified:   "unspecified",
	ClassPrivate:       "private",
	ClassShared:        "shared",
	ClassLoopback:      "loopback",
	ClassLinkLocal:     "link_local",
	ClassMulticast:     "multicast",
	ClassBroadcast:     "broadcast",
	ClassDocumentation: "documentation",
	ClassBenchmarking:  "benchmarking",
	ClassReserved:      "reserved",
	ClassUniqueLocal:   "unique_local",
	ClassIPv4Mapped:    "ipv4_mapped",
	ClassNAT64:         "nat64",
	ClassTeredo:        "teredo",
	Class6to4:          "6to4",
	ClassDiscardOnly:   "discard_only",
}

// String returns the stable snake_case name of the class.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "class_" + itoa(uint8(c))
}

// Classes returns every class, ClassPublic first, for callers that
// pre-resolve one counter per class.
func Classes() []Class {
	cs := make([]Class, numClasses)
	for i := range cs {
		cs[i] = Class(i)
	}
	return cs
}

// Local reports whether addresses of the class are on the host's own side of
// a conversation: direction logic treats them as local, never as remote.
// Multicast and broadcast are not local: they are destinations, not hosts.
func (c Class) Local() bool {
	switch c {
	case ClassUnspecified, ClassPrivate, ClassShared, ClassLoopback,
		ClassLinkLocal, ClassUniqueLocal:
		return true
	}
	return false
}

// Classify returns the special-purpose class of a, or ClassPublic. It does
// not unmap IPv4-mapped IPv6 addresses (those are ClassIPv4Mapped): callers
// that want the IPv4 class call a.Unmap() first, as the Resolver does.
//
// lookupDocumentation is the lab and test switch: when true the
// documentation ranges are classified ClassPublic so that they are looked up
// in the databases (test databases map them to countries).
//
// It decides on the first bytes with switches, not a list scan, so it costs
// a few nanoseconds and never allocates.
func Classify(a netip.Addr, lookupDocumentation bool) Class {
	if a.Is4() {
		return classify4(a.As4(), lookupDocumentation)
	}
	if a.Is6() {
		return classify6(a.As16(), lookupDocumentation)
	}
	return ClassInvalid
}

func classify4(b [4]byte, doc bool) Class {
	switch b0 := b[0]; {
	case b0 == 0:
		if b == [4]byte{} {
			return ClassUnspecified
		}
		return ClassReserved // "this network", RFC 791
	case b0 == 10:
		return ClassPrivate
	case b0 == 100:
		if b[1]&0xc0 == 64 {
			return ClassShared
		}
	case b0 == 127:
		return ClassLoopback
	case b0 == 169:
		if b[1] == 254 {
			return ClassLinkLocal
		}
	case b0 == 172:
		if b[1]&0xf0 == 16 {
			return ClassPrivate
		}
	case b0 == 192:
		switch b[1] {
		case 168:
			return ClassPrivate
		case 0:
			switch b[2] {
			case 0:
				// IETF protocol assignments (DS-Lite, PCP and TURN
				// anycast, NAT64 discovery): none of them a place.
				return ClassReserved
			case 2:
				return docClass(doc)
			}
		case 88:
			if b[2] == 99 {
				return Class6to4
			}
		}
	case b0 == 198:
		switch {
		case b[1]&0xfe == 18:
			return ClassBenchmarking
		case b[1] == 51 && b[2] == 100:
			return docClass(doc)
		}
	case b0 == 203:
		if b[1] == 0 && b[2] == 113 {
			return docClass(doc)
		}
	case b0 >= 224 && b0 < 240:
		return ClassMulticast
	case b0 >= 240:
		if b == [4]byte{255, 255, 255, 255} {
			return ClassBroadcast
		}
		return ClassReserved
	}
	return ClassPublic
}

func classify6(b [16]byte, doc bool) Class {
	switch b0 := b[0]; {
	case b0 == 0:
		if b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 &&
			b[6] == 0 && b[7] == 0 && b[8] == 0 && b[9] == 0 {
			switch {
			case b[10] == 0xff && b[11] == 0xff:
				return ClassIPv4Mapped
			case b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0:
				switch b[15] {
				case 0:
					return ClassUnspecified
				case 1:
					return ClassLoopback
				}
			}
		}
		if b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b {
			// 64:ff9b::/96 (well-known) and 64:ff9b:1::/48 (local use).
			if b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0 &&
				b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 0 {
				return ClassNAT64
			}
			if b[4] == 0 && b[5] == 1 {
				return ClassNAT64
			}
			return ClassPublic
		}
		if b[1] == 0 {
			return ClassReserved // the rest of ::/8 (IPv4-compatible, etc.)
		}
	case b0 == 0x01:
		if b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 {
			switch b[7] {
			case 0:
				return ClassDiscardOnly // 100::/64
			case 1:
				return ClassReserved // 100:0:0:1::/64, RFC 9780 dummy prefix
			}
		}
	case b0 == 0x20:
		switch b[1] {
		case 0x01:
			return classify2001(b, doc)
		case 0x02:
			return Class6to4
		}
	case b0 == 0x3f:
		if b[1] == 0xff && b[2]&0xf0 == 0 {
			return docClass(doc) // 3fff::/20
		}
	case b0 == 0x5f:
		return ClassReserved // 5f00::/16, SRv6 SIDs
	case b0 == 0xfc || b0 == 0xfd:
		return ClassUniqueLocal
	case b0 == 0xfe:
		switch b[1] & 0xc0 {
		case 0x80:
			return ClassLinkLocal
		case 0xc0:
			return ClassReserved // fec0::/10, deprecated site-local
		}
	case b0 == 0xff:
		return ClassMulticast
	}
	return ClassPublic
}

// classify2001 handles 2001::/16, where 2001::/23 holds the IETF protocol
// assignments (some of them globally reachable) and 2001:db8::/32 is for
// documentation.
func classify2001(b [16]byte, doc bool) Class {
	if b[2] == 0x0d && b[3] == 0xb8 {
		return docClass(doc)
	}
	if b[2] > 0x01 {
		return ClassPublic // outside 2001::/23
	}
	if b[2] == 0 {
		switch b[3] {
		case 0x00:
			return ClassTeredo // 2001::/32
		case 0x01:
			// 2001:1::1/128 to 2001:1::3/128 are global anycast.
			if b[4]|b[5]|b[6]|b[7]|b[8]|b[9]|b[10]|b[11]|b[12]|b[13]|b[14] == 0 &&
				b[15] >= 1 && b[15] <= 3 {
				return ClassPublic
			}
		case 0x02:
			if b[4] == 0 && b[5] == 0 {
				return ClassBenchmarking // 2001:2::/48
			}
		case 0x03:
			return ClassPublic // AMT, globally reachable
		case 0x04:
			if b[4] == 0x01 && b[5] == 0x12 {
				return ClassPublic // AS112-v6, globally reachable
			}
		case 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
			0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f:
			return ClassPublic // ORCHIDv2 and drone DET, globally reachable
		}
	}
	return ClassReserved
}

func docClass(lookup bool) Class {
	if lookup {
		return ClassPublic
	}
	return ClassDocumentation
}

func itoa(v uint8) string {
	var buf [3]byte
	i := len(buf)
	for {
		i--
		buf[i] = '0' + v%10
		v /= 10
		if v == 0 {
			return string(buf[i:])
		}
	}
}
