package geo

import "net/netip"

// Embedding names the way an IPv6 address carries an IPv4 address that says
// where the traffic really goes: a NAT64 gateway, a 6to4 relay or a Teredo
// server forwards it to (or from) that IPv4 host. The Resolver locates such
// an address by its IPv4 address and says so in Location.Embedded.
type Embedding uint8

// The embeddings. Their String values are stable: they appear in JSON, event
// logs and lookup output.
const (
	EmbedNone   Embedding = iota
	EmbedNAT64            // 64:ff9b::/96, the well-known prefix (RFC 6052 section 2.1): the last 32 bits
	Embed6to4             // 2002::/16 (RFC 3056): bits 16 to 47
	EmbedTeredo           // 2001::/32 (RFC 4380): the client's public address, bits 96 to 127 inverted
	numEmbeddings
)

var embeddingNames = [numEmbeddings]string{
	EmbedNone:   "",
	EmbedNAT64:  "nat64",
	Embed6to4:   "6to4",
	EmbedTeredo: "teredo",
}

// String returns the stable name of the embedding, "" for EmbedNone.
func (e Embedding) String() string {
	if e < numEmbeddings {
		return embeddingNames[e]
	}
	return "embedding_" + itoa(uint8(e))
}

// Embedded returns the IPv4 address that a carries and how, or EmbedNone.
// Only the prefixes whose layout is fixed by their RFC are read: the
// local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) and network-specific
// prefixes may embed the IPv4 address at any of six offsets that only the
// operator knows, so they stay unresolved.
//
// For Teredo it is the client's public (NAT) address, where the host is;
// TeredoServer gives the server's.
func Embedded(a netip.Addr) (Embedding, netip.Addr) {
	if !a.Is6() || a.Is4In6() {
		return EmbedNone, netip.Addr{}
	}
	b := a.As16()
	switch {
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
		b[4]|b[5]|b[6]|b[7]|b[8]|b[9]|b[10]|b[11] == 0:
		return EmbedNAT64, netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	case b[0] == 0x20 && b[1] == 0x02:
		return Embed6to4, netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		// RFC 4380 section 4: the client address is stored with all its
		// bits inverted, so that NATs do not rewrite it.
		return EmbedTeredo, netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
	}
	return EmbedNone, netip.Addr{}
}

// TeredoServer returns the Teredo server address (bits 32 to 63) of a
// Teredo address, and false for any other address.
func TeredoServer(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	if b[0] != 0x20 || b[1] != 0x01 || b[2] != 0 || b[3] != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), true
}

// embeddedNetwork is the IPv6 network of the addresses with the same
// embedding as a whose embedded IPv4 address is in v4net: the network the
// Resolver caches the derived Location under. For Teredo the client address
// sits after the server, flags and port bits, which vary, so it is a itself.
func embeddedNetwork(e Embedding, a netip.Addr, v4net netip.Prefix) netip.Prefix {
	var off int
	switch e {
	case EmbedNAT64:
		off = 96
	case Embed6to4:
		off = 16
	default:
		return netip.PrefixFrom(a, 128)
	}
	p, err := a.Prefix(off + v4net.Bits())
	if err != nil || !v4net.IsValid() {
		return netip.PrefixFrom(a, 128)
	}
	return p
}
