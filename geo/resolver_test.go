package geo_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/geo/geotest"
)

func TestLookup(t *testing.T) {
	r := geotest.Resolver(t)
	tests := []struct {
		addr string
		want geo.Location
	}{
		{"192.0.2.1", geo.Location{Country: "DE", RegisteredCountry: "DE", Continent: "EU", ASN: 64500, ASOrg: "Example Carrier GmbH", Network: netip.MustParsePrefix("192.0.2.0/25")}},
		{"192.0.2.200", geo.Location{Country: "RU", RegisteredCountry: "RU", Continent: "EU", ASN: 64501, ASOrg: "Example Telecom JSC", Network: netip.MustParsePrefix("192.0.2.128/25")}},
		{"198.51.100.7", geo.Location{Country: "US", RegisteredCountry: "US", Continent: "NA", ASN: 64502, ASOrg: "Example Networks Inc", Network: netip.MustParsePrefix("198.51.100.0/24")}},
		// Geolocated CN, registered HK; the ASN network is the narrower.
		{"203.0.113.9", geo.Location{Country: "CN", RegisteredCountry: "HK", Continent: "AS", ASN: 64503, ASOrg: "Example Transit Ltd", Network: netip.MustParsePrefix("203.0.113.0/25")}},
		// The half with no AS record.
		{"203.0.113.200", geo.Location{Country: "CN", RegisteredCountry: "HK", Continent: "AS", ASN: 0, ASOrg: geo.Unknown, Network: netip.MustParsePrefix("203.0.113.128/25")}},
		{"2001:db8:1::5", geo.Location{Country: "DE", RegisteredCountry: "DE", Continent: "EU", ASN: 64500, ASOrg: "Example Carrier GmbH", Network: netip.MustParsePrefix("2001:db8:1::/48")}},
		{"2001:db8:2:ffff::1", geo.Location{Country: "RU", RegisteredCountry: "RU", Continent: "EU", ASN: 64501, ASOrg: "Example Telecom JSC", Network: netip.MustParsePrefix("2001:db8:2::/48")}},
		// No registered country in the record; ASN network narrower.
		{"2001:db8:3::1", geo.Location{Country: "FR", RegisteredCountry: geo.Unknown, Continent: "EU", ASN: 64504, ASOrg: "Example Hosting SAS", Network: netip.MustParsePrefix("2001:db8:3::/56")}},
		{"2001:db8:3:100::1", geo.Location{Country: "FR", RegisteredCountry: geo.Unknown, Continent: "EU", ASN: 0, ASOrg: geo.Unknown, Network: netip.MustParsePrefix("2001:db8:3:100::/56")}},
		{"8.8.8.8", geo.Location{Country: "US", RegisteredCountry: "US", Continent: "NA", ASN: 15169, ASOrg: "GOOGLE", Network: netip.MustParsePrefix("8.8.8.0/24")}},
		{"2001:4860:4860::8888", geo.Location{Country: "US", RegisteredCountry: "US", Continent: "NA", ASN: 15169, ASOrg: "GOOGLE", Network: netip.MustParsePrefix("2001:4860::/32")}},
		// An IPv4-mapped address is looked up as IPv4.
		{"::ffff:8.8.8.4", geo.Location{Country: "US", RegisteredCountry: "US", Continent: "NA", ASN: 15169, ASOrg: "GOOGLE", Network: netip.MustParsePrefix("8.8.8.0/24")}},
		// ASN only: the country fields are unknown.
		{"1.1.1.1", geo.Location{Country: geo.Unknown, RegisteredCountry: geo.Unknown, Continent: geo.Unknown, ASN: 13335, ASOrg: "CLOUDFLARENET", Network: netip.MustParsePrefix("1.1.1.0/24")}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			got := r.Lookup(a)
			if *got != tt.want {
				t.Errorf("Lookup(%s) = %+v\nwant %+v", tt.addr, *got, tt.want)
			}
			// The second lookup comes from the cache and is the same value.
			if again := r.Lookup(a); again != got {
				t.Errorf("second Lookup(%s) returned another value %+v", tt.addr, *again)
			}
		})
	}
}

func TestLookupNothingFound(t *testing.T) {
	r := geotest.Resolver(t)
	loc := r.Lookup(netip.MustParseAddr("9.9.9.9"))
	if loc.Country != geo.Unknown || loc.RegisteredCountry != geo.Unknown || loc.Continent != geo.Unknown ||
		loc.ASOrg != geo.Unknown || loc.ASN != 0 || loc.Class != geo.ClassPublic {
		t.Errorf("Lookup(9.9.9.9) = %+v, want all unknown", *loc)
	}
	// The empty network that matched holds the address.
	if !loc.Network.IsValid() || !loc.Network.Contains(netip.MustParseAddr("9.9.9.9")) {
		t.Errorf("network %v does not hold 9.9.9.9", loc.Network)
	}
}

func TestLookupSpecial(t *testing.T) {
	r := geotest.Resolver(t) // LookupDocumentation is on, documentation is looked up
	noDoc, err := geo.NewResolver(geo.Options{CountryFile: geotest.CountryFile, ASNFile: geotest.ASNFile})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr  string
		class geo.Class
	}{
		{"10.0.0.1", geo.ClassPrivate},
		{"100.64.1.1", geo.ClassShared},
		{"127.0.0.1", geo.ClassLoopback},
		{"169.254.1.1", geo.ClassLinkLocal},
		{"224.0.0.1", geo.ClassMulticast},
		{"255.255.255.255", geo.ClassBroadcast},
		{"198.18.0.1", geo.ClassBenchmarking},
		{"240.0.0.1", geo.ClassReserved},
		{"0.0.0.0", geo.ClassUnspecified},
		{"::", geo.ClassUnspecified},
		{"::1", geo.ClassLoopback},
		{"::ffff:10.1.1.1", geo.ClassPrivate}, // unmapped first
		{"fd00::1", geo.ClassUniqueLocal},
		{"fe80::1%eth0", geo.ClassLinkLocal},
		{"ff02::1", geo.ClassMulticast},
		// Translation and tunnelling prefixes embedding a non-public IPv4
		// address, or with an operator-defined layout, stay special.
		{"64:ff9b::10.1.1.1", geo.ClassNAT64},
		{"64:ff9b:1::808:808", geo.ClassNAT64},
		{"2001::1", geo.ClassTeredo},
		{"2002:a00:1::1", geo.Class6to4},
		{"100::1", geo.ClassDiscardOnly},
		{"2001:2::1", geo.ClassBenchmarking},
	}
	for _, tt := range tests {
		loc := r.Lookup(netip.MustParseAddr(tt.addr))
		if want := (geo.Location{Class: tt.class}); *loc != want {
			t.Errorf("Lookup(%s) = %+v, want %+v", tt.addr, *loc, want)
		}
	}
	if loc := r.Lookup(netip.Addr{}); loc.Class != geo.ClassInvalid {
		t.Errorf("Lookup(zero) = %+v", *loc)
	}
	// Without the switch the documentation ranges are special too.
	for _, s := range []string{"192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8:1::1", "3fff::1"} {
		if loc := noDoc.Lookup(netip.MustParseAddr(s)); *loc != (geo.Location{Class: geo.ClassDocumentation}) {
			t.Errorf("without LookupDocumentation, Lookup(%s) = %+v", s, *loc)
		}
	}
	// Special lookups never touch the cache.
	if h, m, e, _ := noDoc.CacheStats(); h+m+e != 0 {
		t.Errorf("cache used for special addresses: hits %d misses %d entries %d", h, m, e)
	}
}

func TestCache(t *testing.T) {
	r := geotest.ResolverWith(t, geo.Options{CacheSize: 4})
	lookup := func(s string) { r.Lookup(netip.MustParseAddr(s)) }
	check := func(step string, hits, misses, entries, evictions uint64) {
		t.Helper()
		h, m, e, ev := r.CacheStats()
		if h != hits || m != misses || e != entries || ev != evictions {
			t.Errorf("%s: hits %d misses %d entries %d evictions %d, want %d %d %d %d",
				step, h, m, e, ev, hits, misses, entries, evictions)
		}
	}
	lookup("8.8.8.8")
	check("first lookup", 0, 1, 1, 0)
	lookup("8.8.8.9") // same network
	check("same network", 1, 1, 1, 0)
	// 192.0.2.0/24 is split into two /25: the bucket entry and one network.
	lookup("192.0.2.1")
	check("narrow network", 1, 2, 3, 0)
	lookup("192.0.2.2")
	check("narrow hit", 2, 2, 3, 0)
	lookup("192.0.2.129") // the other /25: bucket found, network not
	check("other narrow network", 2, 3, 4, 0)
	lookup("192.0.2.130")
	check("other narrow hit", 3, 3, 4, 0)
	// The cache is full: new networks evict.
	lookup("198.51.100.1")
	lookup("1.1.1.1")
	lookup("9.9.9.9")
	h, m, e, ev := r.CacheStats()
	if e > 4 || ev < 3 || m != 6 || h != 3 {
		t.Errorf("after filling: hits %d misses %d entries %d evictions %d", h, m, e, ev)
	}
	// Whatever was evicted, answers stay right.
	if loc := r.Lookup(netip.MustParseAddr("192.0.2.129")); loc.Country != "RU" {
		t.Errorf("after eviction 192.0.2.129 is %+v", *loc)
	}
	if loc := r.Lookup(netip.MustParseAddr("192.0.2.1")); loc.Country != "DE" {
		t.Errorf("after eviction 192.0.2.1 is %+v", *loc)
	}
}

// TestCacheMany checks the cache against direct lookups over many addresses
// in narrow and wide networks, with a cache much smaller than the set.
func TestCacheMany(t *testing.T) {
	small := geotest.ResolverWith(t, geo.Options{CacheSize: 8})
	var addrs []netip.Addr
	for i := range 256 {
		addrs = append(addrs,
			netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
			netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}),
			netip.AddrFrom4([4]byte{9, byte(i), 0, 1}),
			netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 3, byte(i), 0, 15: 1}))
	}
	want := map[netip.Addr]geo.Location{}
	for _, a := range addrs {
		want[a] = *geotest.ResolverWith(t, geo.Options{CacheSize: 1}).Lookup(a)
	}
	for round := range 3 {
		for _, a := range addrs {
			if got := *small.Lookup(a); got != want[a] {
				t.Fatalf("round %d: Lookup(%s) = %+v, want %+v", round, a, got, want[a])
			}
		}
	}
	if h, m, e, ev := small.CacheStats(); h == 0 || ev == 0 || e > 8 {
		t.Errorf("hits %d misses %d entries %d evictions %d", h, m, e, ev)
	}
}

func TestDatabases(t *testing.T) {
	r := geotest.Resolver(t)
	dbs := r.Databases()
	if len(dbs) != 2 {
		t.Fatalf("Databases() = %+v", dbs)
	}
	want := []struct{ name, typ, path string }{
		{geo.NameCountry, "GeoLite2-Country", geotest.CountryFile},
		{geo.NameASN, "GeoLite2-ASN", geotest.ASNFile},
	}
	built := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	for i, w := range want {
		d := dbs[i]
		if d.Name != w.name || d.Type != w.typ || d.Path != w.path || d.Source != w.path || !d.BuildTime.Equal(built) || d.BuiltIn() {
			t.Errorf("database %d = %+v, want %s %s %s built %v", i, d, w.name, w.typ, w.path, built)
		}
		if got := d.Age(built.Add(48 * time.Hour)); got != 48*time.Hour {
			t.Errorf("Age = %v", got)
		}
	}
}

func TestCityAccepted(t *testing.T) {
	r, err := geo.NewResolver(geo.Options{CountryFile: geotest.CityFile, ASNFile: geotest.ASNFile, LookupDocumentation: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Databases()[0]; d.Type != "GeoLite2-City" {
		t.Errorf("country database type %q", d.Type)
	}
	if loc := r.Lookup(netip.MustParseAddr("203.0.113.1")); loc.Country != "CN" || loc.RegisteredCountry != "HK" || loc.Continent != "AS" {
		t.Errorf("City lookup = %+v", *loc)
	}
}

// writeFile writes data to a new file in a temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBadDatabases(t *testing.T) {
	country := readFile(t, geotest.CountryFile)
	asn := readFile(t, geotest.ASNFile)
	// Damage the search tree: the first records point past the data.
	damaged := bytes.Clone(country)
	for i := range 64 {
		damaged[i] = 0xff
	}
	tests := []struct {
		name        string
		country     string // file for the country database; "" = the test one
		asn         string
		wantErr     string
		wantWrapped error
	}{
		{name: "missing", country: filepath.Join(t.TempDir(), "nope.mmdb"), wantErr: "nope.mmdb", wantWrapped: os.ErrNotExist},
		{name: "empty", country: writeFile(t, "empty.mmdb", nil), wantErr: "empty.mmdb: empty file"},
		{name: "garbage", country: writeFile(t, "garbage.mmdb", []byte(strings.Repeat("not a database\n", 100))), wantErr: "garbage.mmdb: not a MaxMind DB file"},
		{name: "truncated end", country: writeFile(t, "trunc.mmdb", country[:len(country)-40]), wantErr: "trunc.mmdb:"},
		{name: "truncated half", asn: writeFile(t, "half.mmdb", asn[:len(asn)/2]), wantErr: "half.mmdb: not a MaxMind DB file"},
		{name: "damaged tree", country: writeFile(t, "damaged.mmdb", damaged), wantErr: "damaged.mmdb: corrupt database"},
		{name: "directory", country: t.TempDir(), wantErr: "not a regular file"},
		{name: "asn as country", country: geotest.ASNFile, wantErr: `wrong database type "GeoLite2-ASN": want a GeoLite2/GeoIP2 Country or City database`},
		{name: "country as asn", asn: geotest.CountryFile, wantErr: `wrong database type "GeoLite2-Country": want a GeoLite2-ASN or GeoIP2-ISP database`},
		{name: "connection type", country: filepath.Join(geotest.Dir(), "GeoIP2-Connection-Type-Test.mmdb"), wantErr: `wrong database type "GeoIP2-Connection-Type"`},
		{name: "unknown type", asn: filepath.Join(geotest.Dir(), "Unknown-Type-Test.mmdb"), wantErr: `wrong database type "Example-Unknown-Type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := geo.Options{CountryFile: geotest.CountryFile, ASNFile: geotest.ASNFile}
			if tt.country != "" {
				opts.CountryFile = tt.country
			}
			if tt.asn != "" {
				opts.ASNFile = tt.asn
			}
			r, err := geo.NewResolver(opts)
			if err == nil {
				t.Fatalf("NewResolver succeeded: %+v", r.Databases())
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			// Every error names the file.
			named := tt.country
			if tt.asn != "" {
				named = tt.asn
			}
			if !strings.Contains(err.Error(), named) {
				t.Errorf("error %q does not name %s", err, named)
			}
			if tt.wantWrapped != nil && !errors.Is(err, tt.wantWrapped) {
				t.Errorf("error %q does not wrap %v", err, tt.wantWrapped)
			}
		})
	}
}

// copyFile copies src to dst through a new file renamed into place, as
// geoipupdate does.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, readFile(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	country := filepath.Join(dir, "GeoLite2-Country.mmdb")
	copyFile(t, geotest.CountryFile, country)
	r, err := geo.NewResolver(geo.Options{CountryFile: country, ASNFile: geotest.ASNFile, LookupDocumentation: true})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("203.0.113.1")
	before := r.Lookup(a)
	if before.Country != "CN" {
		t.Fatalf("before reload: %+v", *before)
	}
	// Nothing changed: the cache stays.
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, _, e, _ := r.CacheStats(); e == 0 {
		t.Error("reload of unchanged files dropped the cache")
	}
	if r.Lookup(a) != before {
		t.Error("reload of unchanged files changed the answer")
	}
	// A corrupt file keeps the old database, and says which file.
	if err := os.WriteFile(country, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = r.Reload()
	if err == nil || !strings.Contains(err.Error(), country) {
		t.Fatalf("reload of a corrupt file: %v", err)
	}
	if got := r.Lookup(a); got.Country != "CN" {
		t.Errorf("after failed reload: %+v", *got)
	}
	// The City database replaces the Country one: swapped, cache dropped.
	copyFile(t, geotest.CityFile, country)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if d := r.Databases()[0]; d.Type != "GeoLite2-City" || d.Path != country {
		t.Errorf("after reload: %+v", d)
	}
	if _, _, e, _ := r.CacheStats(); e != 0 {
		t.Errorf("cache not dropped on swap: %d entries", e)
	}
	if got := r.Lookup(a); got == before || got.Country != "CN" {
		t.Errorf("after reload: %+v (same value: %v)", *got, got == before)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.Lookup(netip.MustParseAddr("8.8.8.8")); got.Country != geo.Unknown || got.ASN != 0 {
		t.Errorf("after Close: %+v", *got)
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload after Close succeeded")
	}
}

// TestReloadConcurrent runs lookups while databases are swapped back and
// forth; run with -race.
func TestReloadConcurrent(t *testing.T) {
	dir := t.TempDir()
	country := filepath.Join(dir, "GeoLite2-Country.mmdb")
	copyFile(t, geotest.CountryFile, country)
	r, err := geo.NewResolver(geo.Options{CountryFile: country, ASNFile: geotest.ASNFile, LookupDocumentation: true, CacheSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + g)})
				loc := r.Lookup(a)
				want := "DE"
				if a.As4()[3] >= 128 {
					want = "RU"
				}
				if loc.Country != want {
					errs <- fmt.Errorf("Lookup(%s) = %+v during reload", a, *loc)
					return
				}
			}
		})
	}
	for i := range 40 {
		src := geotest.CountryFile
		if i%2 == 1 {
			src = geotest.CityFile
		}
		copyFile(t, src, country)
		// Make sure the change is seen even within the mtime resolution.
		mt := time.Now().Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(country, mt, mt); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSearchDirsAndBuiltin(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, geotest.ASNFile, filepath.Join(dir, "GeoLite2-ASN.mmdb"))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	// The ASN file is found; no country file: the built-in one is used.
	r, err := geo.NewResolver(geo.Options{SearchDirs: []string{dir}, Logger: logger, LookupDocumentation: true})
	if err != nil {
		t.Fatal(err)
	}
	dbs := r.Databases()
	if !dbs[0].BuiltIn() || !strings.HasPrefix(dbs[0].Source, "built-in: ") || dbs[0].Type != "jurismon-builtin-country" {
		t.Errorf("country database: %+v", dbs[0])
	}
	if dbs[1].Path != filepath.Join(dir, "GeoLite2-ASN.mmdb") {
		t.Errorf("asn database: %+v", dbs[1])
	}
	// The test files are from 2025: the warning names them.
	if !strings.Contains(logs.String(), "older than 30 days") || !strings.Contains(logs.String(), "GeoLite2-ASN.mmdb") {
		t.Errorf("no age warning in log: %s", logs.String())
	}
	if loc := r.Lookup(netip.MustParseAddr("192.0.2.1")); loc.ASN != 64500 {
		t.Errorf("test ASN file not used: %+v", *loc)
	}
	// A fresh database is not warned about.
	logs.Reset()
	_, err = geo.NewResolver(geo.Options{CountryFile: geotest.CountryFile, ASNFile: geotest.ASNFile, Logger: logger,
		Now: func() time.Time { return time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("warned about a fresh database: %s", logs.String())
	}
}

func TestBuiltin(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	now := func() time.Time { return time.Now().AddDate(1, 0, 0) } // a year from now it is old
	r, err := geo.NewResolver(geo.Options{SearchDirs: []string{}, Logger: logger, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Databases() {
		if !d.BuiltIn() || d.BuildTime.Year() < 2025 || d.Description == "" || d.Type != "jurismon-builtin-"+d.Name {
			t.Errorf("built-in database: %+v", d)
		}
		t.Logf("%s: %s, built %s, %s", d.Name, d.Type, d.BuildTime.Format(time.DateOnly), d.Source)
	}
	// Its age is said once for both databases, at info level, with what to
	// do instead of geoipupdate (which cannot update it).
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	if n := strings.Count(got, "\n"); n != 1 || !strings.Contains(got, "level=INFO") ||
		!strings.Contains(got, "GeoLite2 files") || !strings.Contains(got, "newer jurismon") || strings.Contains(got, "geoipupdate)") {
		t.Errorf("want one info line about the built-in database's age, got:\n%s", got)
	}
	// What the ip-location-db data say for well-known anycast resolvers.
	tests := []struct {
		addr    string
		asn     uint32
		org     string
		country string
	}{
		{"1.1.1.1", 13335, "Cloudflare", ""},
		{"8.8.8.8", 15169, "Google", "US"},
		{"2001:4860:4860::8888", 15169, "Google", "US"},
		{"2606:4700:4700::1111", 13335, "Cloudflare", ""},
		{"9.9.9.9", 19281, "Quad9", ""},
	}
	for _, tt := range tests {
		loc := r.Lookup(netip.MustParseAddr(tt.addr))
		t.Logf("%s: %+v", tt.addr, *loc)
		if loc.ASN != tt.asn || !strings.Contains(loc.ASOrg, tt.org) {
			t.Errorf("Lookup(%s) = AS%d %q, want AS%d %q", tt.addr, loc.ASN, loc.ASOrg, tt.asn, tt.org)
		}
		if tt.country != "" && loc.Country != tt.country {
			t.Errorf("Lookup(%s) country %q, want %q", tt.addr, loc.Country, tt.country)
		}
		if len(loc.Country) != 2 || loc.RegisteredCountry != loc.Country || len(loc.Continent) != 2 {
			t.Errorf("Lookup(%s) = %+v: want a country, the same registered country and a continent", tt.addr, *loc)
		}
	}
}
