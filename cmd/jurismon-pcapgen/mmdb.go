package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// fillerCountries are the countries of the networks outside the
// generator's prefixes.
var fillerCountries = []string{"US", "CN", "JP", "DE", "GB", "KR", "BR", "FR", "IN", "IT", "CA", "AU", "NL", "RU",
	"ES", "SE", "PL", "TW", "MX", "ZA", "AR", "ID", "TR", "UA", "VN", "IR", "CH", "BE", "AT", "NO"}

// writeDatabases writes GeoLite2-Country.mmdb and GeoLite2-ASN.mmdb into
// dir with about networks networks each, as many as the real databases
// hold: the generator's remote prefixes cut into /24s (/48s for IPv6, at
// most maxPieces a prefix) with the prefix's country, and random public
// /24s and /48s elsewhere. Lookups then walk trees as deep as GeoLite2's,
// which the built-in database's few networks do not show. It returns the
// networks written.
func writeDatabases(dir string, networks int, seed uint64) (int, error) {
	r := rand.New(rand.NewPCG(seed, 0x6d6d6462))
	var own []network
	const maxPieces = 2048
	for i, p := range remotePrefixes {
		own = append(own, pieces(netip.MustParsePrefix(p.prefix), 24, maxPieces, p.cc, uint32(100+i))...)
	}
	for i, p := range remotePrefixes6 {
		own = append(own, pieces(netip.MustParsePrefix(p.prefix), 48, maxPieces, p.cc, uint32(1000+i))...)
	}
	var all []network
	for len(all)+len(own) < networks {
		cc := fillerCountries[r.IntN(len(fillerCountries))]
		asn := uint32(2000 + r.IntN(60000))
		if r.IntN(10) < 6 {
			a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.IntN(256)), byte(r.IntN(256)), 0})
			all = append(all, network{netip.PrefixFrom(a, 24), cc, asn})
		} else {
			var b [16]byte
			b[0], b[1] = 0x24+byte(r.IntN(7)), byte(r.IntN(256)) // 2400::/8 to 2a00::/8: clear of the aliased 6to4 and Teredo ranges
			b[2], b[3], b[4], b[5] = byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))
			all = append(all, network{netip.PrefixFrom(netip.AddrFrom16(b), 48), cc, asn})
		}
	}
	all = append(all, own...) // last: the generator's prefixes win where they overlap
	for _, db := range []struct {
		file, typ string
		rec       func(n network) mmdbtype.Map
	}{
		{"GeoLite2-Country.mmdb", "GeoLite2-Country", func(n network) mmdbtype.Map {
			c := mmdbtype.Map{"iso_code": mmdbtype.String(n.cc)}
			return mmdbtype.Map{"country": c, "registered_country": c}
		}},
		{"GeoLite2-ASN.mmdb", "GeoLite2-ASN", func(n network) mmdbtype.Map {
			return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n.asn),
				"autonomous_system_organization": mmdbtype.String(fmt.Sprintf("Generated AS%d", n.asn))}
		}},
	} {
		t, err := mmdbwriter.New(mmdbwriter.Options{
			DatabaseType: db.typ,
			Description:  map[string]string{"en": "jurismon-pcapgen benchmark database (generated networks, not real data)"},
			BuildEpoch:   time.Now().Unix(),
			RecordSize:   28,
			// Random networks may land in reserved space; they are
			// never looked up, so let them be.
			IncludeReservedNetworks: true,
		})
		if err != nil {
			return 0, err
		}
		for _, n := range all {
			ipn := &net.IPNet{IP: n.p.Addr().AsSlice(), Mask: net.CIDRMask(n.p.Bits(), n.p.Addr().BitLen())}
			if err := t.Insert(ipn, db.rec(n)); err != nil {
				return 0, fmt.Errorf("%s: %s: %w", db.file, n.p, err)
			}
		}
		f, err := os.Create(filepath.Join(dir, db.file))
		if err != nil {
			return 0, err
		}
		_, err = t.WriteTo(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

type network struct {
	p   netip.Prefix
	cc  string
	asn uint32
}

// pieces cuts p into its first subnets of the given length (at most max),
// or returns p itself when it is that long already.
func pieces(p netip.Prefix, bits, max int, cc string, asn uint32) []network {
	if p.Bits() >= bits {
		return []network{{p, cc, asn}}
	}
	n := 1 << min(bits-p.Bits(), 20)
	n = min(n, max)
	out := make([]network, 0, n)
	a := p.Masked().Addr()
	for range n {
		out = append(out, network{netip.PrefixFrom(a, bits), cc, asn})
		a = nextSubnet(a, bits)
	}
	return out
}

// nextSubnet is the address bits-long subnets after a.
func nextSubnet(a netip.Addr, bits int) netip.Addr {
	b := a.As16()
	i := (bits - 1) / 8
	if a.Is4() {
		i += 12
	}
	inc := byte(1) << (7 - uint(bits-1)%8)
	for ; i >= 0; i-- {
		s := b[i] + inc
		carry := s < b[i]
		b[i], inc = s, 1
		if !carry {
			break
		}
	}
	if a.Is4() {
		return netip.AddrFrom16(b).Unmap()
	}
	return netip.AddrFrom16(b)
}
