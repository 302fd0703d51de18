package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, path string) *maxminddb.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRun(t *testing.T) {
	cdir, adir, out := t.TempDir(), t.TempDir(), t.TempDir()
	pj := `{"name":"@ip-location-db/%s","version":"2.3.2025010203","license":"CC0-1.0"}`
	write(t, cdir, "package.json", strings.Replace(pj, "%s", "geo-whois-asn-country", 1))
	write(t, adir, "package.json", strings.Replace(pj, "%s", "asn", 1))
	// Two adjacent DE rows merge into 1.0.0.0/23; a range that is not a
	// CIDR becomes several networks.
	write(t, cdir, "geo-whois-asn-country-ipv4.csv", "1.0.0.0,1.0.0.255,DE\n1.0.1.0,1.0.1.255,DE\n1.0.2.0,1.0.4.255,JP\n")
	write(t, cdir, "geo-whois-asn-country-ipv6.csv", "2a00::,2a00:ffff:ffff:ffff:ffff:ffff:ffff:ffff,FR\n")
	write(t, adir, "asn-ipv4.csv", "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n")
	write(t, adir, "asn-ipv6.csv", "2a00::,2a00:ffff:ffff:ffff:ffff:ffff:ffff:ffff,3320,Deutsche Telekom AG\n")
	if err := run(cdir, adir, out); err != nil {
		t.Fatal(err)
	}
	c := open(t, filepath.Join(out, "country.mmdb"))
	if c.Metadata.DatabaseType != "GeoLite2-Country" || c.Metadata.BuildEpoch != 1735786800 {
		t.Errorf("metadata %+v", c.Metadata)
	}
	var rec struct {
		Country struct {
			ISO string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
		Registered struct {
			ISO string `maxminddb:"iso_code"`
		} `maxminddb:"registered_country"`
		Continent struct {
			Code string `maxminddb:"code"`
		} `maxminddb:"continent"`
	}
	for _, tt := range []struct{ addr, cc, cont, net string }{
		{"1.0.1.9", "DE", "EU", "1.0.0.0/23"},
		{"1.0.4.1", "JP", "AS", "1.0.4.0/24"},
		{"2a00:1::1", "FR", "EU", "2a00::/16"},
	} {
		res := c.Lookup(netip.MustParseAddr(tt.addr))
		if err := res.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Country.ISO != tt.cc || rec.Registered.ISO != tt.cc || rec.Continent.Code != tt.cont || res.Prefix().String() != tt.net {
			t.Errorf("%s: %+v in %v, want %s %s in %s", tt.addr, rec, res.Prefix(), tt.cc, tt.cont, tt.net)
		}
	}
	a := open(t, filepath.Join(out, "asn.mmdb"))
	var arec struct {
		N   uint32 `maxminddb:"autonomous_system_number"`
		Org string `maxminddb:"autonomous_system_organization"`
	}
	if err := a.Lookup(netip.MustParseAddr("1.0.0.1")).Decode(&arec); err != nil || arec.N != 13335 || arec.Org != "Cloudflare, Inc." {
		t.Errorf("asn 1.0.0.1: %+v %v", arec, err)
	}
	src, err := os.ReadFile(filepath.Join(out, "sources.go"))
	if err != nil || !strings.Contains(string(src), "asn 2.3.2025010203") {
		t.Errorf("sources.go: %s %v", src, err)
	}
}

func TestBadInput(t *testing.T) {
	cdir, adir := t.TempDir(), t.TempDir()
	pj := `{"name":"x","version":"2.3.2025010203"}`
	write(t, cdir, "package.json", pj)
	write(t, adir, "package.json", pj)
	write(t, cdir, "geo-whois-asn-country-ipv4.csv", "1.0.0.0,1.0.0.255,QQ\n")
	if err := run(cdir, adir, t.TempDir()); err == nil || !strings.Contains(err.Error(), `country "QQ" has no continent`) {
		t.Errorf("unknown country: %v", err)
	}
	write(t, cdir, "geo-whois-asn-country-ipv4.csv", "1.0.0.x,1.0.0.255,DE\n")
	if err := run(cdir, adir, t.TempDir()); err == nil || !strings.Contains(err.Error(), "ipv4.csv:1") {
		t.Errorf("bad address: %v", err)
	}
}
