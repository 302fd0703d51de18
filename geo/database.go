package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Database names, as in DatabaseInfo.Name.
const (
	NameCountry = "country"
	NameASN     = "asn"
)

// DatabaseInfo describes one opened database, for `jurismon version`, logs
// and the jurismon_geo_database_info metric.
type DatabaseInfo struct {
	Name        string    // NameCountry or NameASN
	Type        string    // the file's metadata DatabaseType, e.g. "GeoLite2-Country"; jurismon-builtin-country/-asn for the built-in one
	Source      string    // the file path, or "built-in: <source>"
	BuildTime   time.Time // from the metadata's build epoch (UTC)
	Path        string    // the file path, "" for the built-in database
	Description string    // the metadata's English description, if any
}

// Age returns how old the database was at now.
func (d DatabaseInfo) Age(now time.Time) time.Duration {
	return now.Sub(d.BuildTime)
}

// BuiltIn reports whether the database is the one compiled into the binary.
func (d DatabaseInfo) BuiltIn() bool { return d.Path == "" }

// database is one opened .mmdb file of either kind. The whole file is held in
// memory (read, not memory-mapped) for two reasons: a file rewritten in place
// under a mapping (`cp new.mmdb GeoLite2-Country.mmdb` truncates it first)
// kills the process with SIGBUS, and a heap buffer never has to be closed, so
// a reload can drop the old database while readers still use it and the
// garbage collector frees it after the last one (see Resolver.Reload).
type database struct {
	info DatabaseInfo
	// geoip2 opens the file and checks its type; lookups go through the
	// maxminddb reader on the same bytes, decoding only the fields jurismon
	// uses, which is several times cheaper than geoip2's full records.
	reader *maxminddb.Reader
	// For change detection on reload.
	size    int64
	modTime time.Time
}

// countryRecord holds the fields of a GeoLite2/GeoIP2 Country or City record
// that jurismon uses.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
}

// asnRecord holds the fields of a GeoLite2-ASN (or GeoIP2-ISP) record.
type asnRecord struct {
	ASN   uint32 `maxminddb:"autonomous_system_number"`
	ASOrg string `maxminddb:"autonomous_system_organization"`
}

// openDatabaseFile reads and opens the database at path as the named kind.
// Every error names the file.
func openDatabaseFile(name, path string) (*database, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("geo: %s database %s: %w", name, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("geo: %s database %s: not a regular file", name, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geo: %s database %s: %w", name, path, err)
	}
	db, err := openDatabaseBytes(name, data, path)
	if err != nil {
		return nil, fmt.Errorf("geo: %s database %s: %w", name, path, err)
	}
	db.info.Path = path
	db.size, db.modTime = st.Size(), st.ModTime()
	return db, nil
}

// OpenBytes opens an in-memory database of the named kind (NameCountry or
// NameASN) and returns its description; it is how the built-in database and
// tests check a database without a Resolver. The source describes where the
// bytes came from. data must not be modified afterwards.
func OpenBytes(name string, data []byte, source string) (DatabaseInfo, error) {
	db, err := openDatabaseBytes(name, data, source)
	if err != nil {
		return DatabaseInfo{}, fmt.Errorf("geo: %s database %s: %w", name, source, err)
	}
	return db.info, nil
}

// errWrongType is wrapped by the error for a database of the wrong kind.
var errWrongType = errors.New("wrong database type")

func openDatabaseBytes(name string, data []byte, source string) (db *database, err error) {
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	// The readers check bounds, but a corrupt file must never take the
	// process down: turn any panic into an error naming the file.
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("corrupt database: %v", p)
		}
	}()
	g, err := geoip2.OpenBytes(data)
	if err != nil {
		var unknown geoip2.UnknownDatabaseTypeError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("%w %q: want %s", errWrongType, unknown.DatabaseType, wantTypes(name))
		}
		return nil, fmt.Errorf("not a MaxMind DB file, or corrupt or truncated: %w", err)
	}
	// geoip2 knows which lookups each type supports: ask it with a probe,
	// which also reads through the search tree once.
	probe := netip.MustParseAddr("1.1.1.1")
	switch name {
	case NameCountry:
		_, err = g.Country(probe)
	case NameASN:
		_, err = g.ASN(probe)
	default:
		return nil, fmt.Errorf("unknown database name %q", name)
	}
	md := g.Metadata()
	var invalid geoip2.InvalidMethodError
	if errors.As(err, &invalid) {
		return nil, fmt.Errorf("%w %q: want %s", errWrongType, md.DatabaseType, wantTypes(name))
	}
	if err != nil {
		return nil, fmt.Errorf("corrupt database: %w", err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("corrupt database: %w", err)
	}
	if md.IPVersion != 6 && md.IPVersion != 4 {
		return nil, fmt.Errorf("corrupt database: IP version %d", md.IPVersion)
	}
	db = &database{
		info: DatabaseInfo{
			Name:        name,
			Type:        md.DatabaseType,
			Source:      source,
			BuildTime:   md.BuildTime().UTC(),
			Description: md.Description["en"],
		},
		reader: r,
	}
	// A last check that decoding works: a corrupt data section shows here
	// rather than on the first packet.
	if _, err := db.lookup(probe); err != nil {
		return nil, fmt.Errorf("corrupt database: %w", err)
	}
	return db, nil
}

func wantTypes(name string) string {
	if name == NameASN {
		return "a GeoLite2-ASN or GeoIP2-ISP database"
	}
	return "a GeoLite2/GeoIP2 Country or City database"
}

// result is what one database said about an address.
type result struct {
	country, registered, continent string
	asn                            uint32
	asOrg                          string
	network                        netip.Prefix
	found                          bool
}

// lookup returns the record of the database's kind for a and the network
// the database matched. A network is returned even when nothing was found:
// the whole network is empty, so it can be cached as such.
func (db *database) lookup(a netip.Addr) (res result, _ error) {
	r := db.reader.Lookup(a)
	if err := r.Err(); err != nil {
		return res, err
	}
	res.network = r.Prefix()
	if !r.Found() {
		return res, nil
	}
	res.found = true
	switch db.info.Name {
	case NameCountry:
		var rec countryRecord
		if err := r.Decode(&rec); err != nil {
			return res, err
		}
		res.country, res.registered, res.continent = rec.Country.ISOCode, rec.RegisteredCountry.ISOCode, rec.Continent.Code
	case NameASN:
		var rec asnRecord
		if err := r.Decode(&rec); err != nil {
			return res, err
		}
		res.asn, res.asOrg = rec.ASN, rec.ASOrg
	}
	return res, nil
}
