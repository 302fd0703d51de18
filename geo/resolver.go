package geo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jurismon/jurismon/geo/builtin"
)

// DefaultCacheSize is the number of cache entries when Options.CacheSize is 0.
const DefaultCacheSize = 65536

// MaxAge is the build age past which a database is reported as stale.
const MaxAge = 30 * 24 * time.Hour

// DefaultSearchDirs are where MaxMind's geoipupdate writes its files.
var DefaultSearchDirs = []string{"/usr/share/GeoIP", "/var/lib/GeoIP"}

// File names searched for in the search directories, best first.
var (
	CountryFileNames = []string{"GeoLite2-Country.mmdb", "GeoIP2-Country.mmdb", "GeoLite2-City.mmdb", "GeoIP2-City.mmdb"}
	ASNFileNames     = []string{"GeoLite2-ASN.mmdb", "GeoIP2-ISP.mmdb"}
)

// Options configure a Resolver.
type Options struct {
	// CountryFile and ASNFile are .mmdb files. Empty means the first of the
	// usual files found in SearchDirs, else the built-in database; each of
	// the two is chosen independently.
	CountryFile, ASNFile string
	// LookupDocumentation makes the documentation ranges look public, so
	// that they are looked up (for labs and tests).
	LookupDocumentation bool
	// CacheSize bounds the cache, in entries (networks); 0 means
	// DefaultCacheSize.
	CacheSize int
	// SearchDirs replaces DefaultSearchDirs when not nil; an empty non-nil
	// slice searches nowhere (tests use it to get the built-in database
	// whatever the machine has installed).
	SearchDirs []string
	// Logger receives warnings (stale databases, lookup errors); nil
	// discards them.
	Logger *slog.Logger
	// Now returns the current time, for the age check; nil means time.Now.
	Now func() time.Time
}

// Resolver resolves addresses to Locations. It is safe for concurrent use.
type Resolver struct {
	opts   Options
	logger *slog.Logger
	state  atomic.Pointer[state]
	stats  []shardStats
	// reloadMu serialises Reload and Close; Lookup never takes it.
	reloadMu sync.Mutex
	// builtinAgeLogged: the built-in database's age is said once.
	builtinAgeLogged atomic.Bool
}

// state is what a reload swaps as a whole: the databases and the cache of
// their answers. It is never modified after it is published.
type state struct {
	country, asn *database
	cache        *cache
	logged       atomic.Bool // one warning per state for lookup errors
}

// NewResolver opens the databases that opts name or that are found, and
// returns a Resolver over them.
func NewResolver(opts Options) (*Resolver, error) {
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("geo: cache size %d must not be negative", opts.CacheSize)
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.SearchDirs == nil {
		opts.SearchDirs = DefaultSearchDirs
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Resolver{opts: opts, logger: opts.Logger}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	r.stats = make([]shardStats, shardCount(opts.CacheSize))
	country, err := r.open(NameCountry, opts.CountryFile, CountryFileNames, nil)
	if err != nil {
		return nil, err
	}
	asn, err := r.open(NameASN, opts.ASNFile, ASNFileNames, nil)
	if err != nil {
		return nil, err
	}
	r.state.Store(&state{country: country, asn: asn, cache: newCache(opts.CacheSize, r.stats)})
	return r, nil
}

// open opens the named database from file, or the first of names found in
// the search directories, or the built-in one. An unchanged file (same path,
// size and modification time as old) is not read again.
func (r *Resolver) open(name, file string, names []string, old *database) (*database, error) {
	if file == "" {
		file = findFile(r.opts.SearchDirs, names)
	}
	if file == "" {
		if old != nil && old.info.BuiltIn() {
			return old, nil
		}
		return r.openBuiltin(name)
	}
	if old != nil && old.info.Path == file {
		if st, err := os.Stat(file); err == nil && st.Size() == old.size && st.ModTime().Equal(old.modTime) {
			return old, nil
		}
	}
	db, err := openDatabaseFile(name, file)
	if err != nil {
		return nil, err
	}
	r.checkAge(db.info)
	return db, nil
}

func findFile(dirs, names []string) string {
	for _, n := range names {
		for _, d := range dirs {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

func (r *Resolver) openBuiltin(name string) (*database, error) {
	var (
		data   []byte
		source string
		err    error
	)
	switch name {
	case NameCountry:
		data, err = builtin.Country()
		source = builtin.CountrySource
	default:
		data, err = builtin.ASN()
		source = builtin.ASNSource
	}
	if err != nil {
		return nil, fmt.Errorf("geo: built-in %s database: %w", name, err)
	}
	source = "built-in: " + source
	db, err := openDatabaseBytes(name, data, source)
	if err != nil {
		return nil, fmt.Errorf("geo: built-in %s database: %w", name, err)
	}
	// The file's metadata says GeoLite2-Country/-ASN so that every reader
	// opens it, but it is not MaxMind data: say what it is.
	db.info.Type = BuiltinTypePrefix + name
	if age := db.info.Age(r.opts.Now()); age > MaxAge && r.builtinAgeLogged.CompareAndSwap(false, true) {
		// geoipupdate cannot update it and the user did nothing wrong: one
		// line at info level, for both built-in databases, saying where
		// fresher data come from.
		r.logger.Info("the built-in geo database is older than 30 days; for fresher data give GeoLite2 files "+
			"(--geoip.country and --geoip.asn, or geoipupdate into /usr/share/GeoIP) or use a newer jurismon",
			"build_time", db.info.BuildTime.Format(time.DateOnly), "age_days", int(age.Hours()/24))
	}
	return db, nil
}

// BuiltinTypePrefix starts the DatabaseInfo.Type of a built-in database:
// jurismon-builtin-country and jurismon-builtin-asn.
const BuiltinTypePrefix = "jurismon-builtin-"

// checkAge warns about a stale database file that the user supplied or
// installed: they can update it.
func (r *Resolver) checkAge(info DatabaseInfo) {
	if age := info.Age(r.opts.Now()); age > MaxAge {
		r.logger.Warn("geo database is older than 30 days; update it (geoipupdate) or give a newer one",
			"database", info.Name, "type", info.Type, "source", info.Source,
			"build_time", info.BuildTime.Format(time.RFC3339), "age_days", int(age.Hours()/24))
	}
}

// Lookup returns what the databases say about a. The result is never nil;
// it is shared and must not be modified. Special-purpose addresses get the
// static Location of their class without a lookup. IPv4-mapped IPv6
// addresses are looked up as IPv4; NAT64 (well-known prefix), 6to4 and
// Teredo addresses by the public IPv4 address they embed (see Embedded).
func (r *Resolver) Lookup(a netip.Addr) *Location {
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	c := Classify(a, r.opts.LookupDocumentation)
	switch c {
	case ClassPublic:
	case ClassNAT64, Class6to4, ClassTeredo:
		return r.lookupEmbedded(a, c)
	default:
		return &specialLocations[c]
	}
	st := r.state.Load()
	if loc := st.cache.get(a); loc != nil {
		return loc
	}
	loc := st.resolve(a, r.logger)
	st.cache.put(a, loc)
	return loc
}

// lookupEmbedded locates an address of a translation or tunnelling prefix by
// the IPv4 address it embeds. An embedded address that is not public (RFC
// 6052 forbids the well-known prefix for those, and a 6to4 or Teredo address
// with a private IPv4 one is broken) leaves the address special: it says
// nothing about a place. The derived Location is cached under the IPv6
// network it holds for, so a known flow's lookup does not allocate.
func (r *Resolver) lookupEmbedded(a netip.Addr, c Class) *Location {
	e, v4 := Embedded(a)
	if e == EmbedNone || Classify(v4, r.opts.LookupDocumentation) != ClassPublic {
		return &specialLocations[c]
	}
	st := r.state.Load()
	if loc := st.cache.get(a); loc != nil {
		return loc
	}
	inner := st.cache.get(v4)
	if inner == nil {
		inner = st.resolve(v4, r.logger)
		st.cache.put(v4, inner)
	}
	loc := *inner
	loc.Embedded = e
	loc.Network = embeddedNetwork(e, a, inner.Network)
	st.cache.put(a, &loc)
	return &loc
}

// specialLocations holds one Location per class, for addresses that are
// never looked up.
var specialLocations = func() (locs [numClasses]Location) {
	for c := range locs {
		locs[c] = Location{Class: Class(c)}
	}
	return locs
}()

// resolve looks a up in both databases.
func (st *state) resolve(a netip.Addr, logger *slog.Logger) *Location {
	loc := &Location{
		Country:           Unknown,
		RegisteredCountry: Unknown,
		Continent:         Unknown,
		ASOrg:             Unknown,
	}
	host := netip.PrefixFrom(a, a.BitLen())
	loc.Network = host
	var nets [2]netip.Prefix
	for i, db := range [2]*database{st.country, st.asn} {
		nets[i] = host
		if db == nil { // closed
			continue
		}
		res, err := db.lookup(a)
		if err != nil {
			// Cache the failure for this address only, and say so once.
			if st.logged.CompareAndSwap(false, true) {
				logger.Warn("geo database lookup failed; the address is reported unknown",
					"database", db.info.Name, "source", db.info.Source, "address", a, "err", err)
			}
			continue
		}
		if res.network.IsValid() {
			nets[i] = res.network
		}
		if !res.found {
			continue
		}
		if i == 0 {
			loc.Country = orUnknown(res.country)
			loc.RegisteredCountry = orUnknown(res.registered)
			loc.Continent = orUnknown(res.continent)
		} else {
			loc.ASN = res.asn
			loc.ASOrg = orUnknown(res.asOrg)
		}
	}
	// The two networks both hold a, so one contains the other: the
	// narrower is where both answers hold.
	loc.Network = nets[0]
	if nets[1].Bits() > nets[0].Bits() {
		loc.Network = nets[1]
	}
	return loc
}

func orUnknown(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// Databases describes the databases in use: country first, then ASN.
func (r *Resolver) Databases() []DatabaseInfo {
	st := r.state.Load()
	var out []DatabaseInfo
	for _, db := range []*database{st.country, st.asn} {
		if db != nil {
			out = append(out, db.info)
		}
	}
	return out
}

// CacheStats returns the cache counters: hits, misses and evictions since
// the Resolver was made (they survive reloads), and the current entries.
func (r *Resolver) CacheStats() (hits, misses, entries, evictions uint64) {
	for i := range r.stats {
		s := &r.stats[i]
		hits += s.hits.Load()
		misses += s.misses.Load()
		evictions += s.evictions.Load()
	}
	return hits, misses, r.state.Load().cache.entries(), evictions
}

// Reload opens the databases again, as NewResolver chose them (so a file
// that geoipupdate has since written to a search directory is picked up).
// Unchanged files are kept as they are. If anything changed, the new
// databases and an empty cache replace the old ones in one atomic swap; on
// error the old databases stay in use and the error names the bad file.
//
// The old databases are never closed: they live in memory, not mapped, so
// lookups still running on them finish normally and the garbage collector
// frees them after the last one.
func (r *Resolver) Reload() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	old := r.state.Load()
	if old.country == nil {
		return errors.New("geo: reload of a closed resolver")
	}
	country, err := r.open(NameCountry, r.opts.CountryFile, CountryFileNames, old.country)
	if err != nil {
		return err
	}
	asn, err := r.open(NameASN, r.opts.ASNFile, ASNFileNames, old.asn)
	if err != nil {
		return err
	}
	if country == old.country && asn == old.asn {
		return nil
	}
	r.state.Store(&state{country: country, asn: asn, cache: newCache(r.opts.CacheSize, r.stats)})
	for _, db := range []*database{country, asn} {
		r.logger.Info("geo database loaded", "database", db.info.Name, "type", db.info.Type,
			"source", db.info.Source, "build_time", db.info.BuildTime.Format(time.RFC3339))
	}
	return nil
}

// Close releases the databases. Lookups after Close return unknown
// locations for public addresses; Close never pulls memory from under a
// lookup in progress.
func (r *Resolver) Close() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	r.state.Store(&state{cache: newCache(2, r.stats[:1])})
	return nil
}
