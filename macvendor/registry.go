// Package macvendor names the maker of a device from its MAC address, using
// the IEEE registration authority's public listings: MA-L (24-bit
// prefixes), MA-M (28-bit), MA-S (36-bit) and the retired IAB (36-bit).
//
// The IEEE files carry no licence that allows redistribution, so jurismon
// never embeds or ships them: they are read at run time from Debian's
// ieee-data package (/usr/share/ieee-data) or a directory the user names.
package macvendor

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultDir is where Debian's ieee-data package installs the registries.
const DefaultDir = "/usr/share/ieee-data"

// Block sizes of the registries, as prefix lengths in bits.
const (
	bitsL = 24 // MA-L
	bitsM = 28 // MA-M
	bitsS = 36 // MA-S and IAB
)

// Files are the CSV files read from a registry directory, with the
// registry each holds. A missing file is skipped; a directory with none of
// them is an error.
var Files = []struct{ Name, Registry string }{
	{"oui.csv", "MA-L"},
	{"mam.csv", "MA-M"},
	{"oui36.csv", "MA-S"},
	{"iab.csv", "IAB"},
}

// Vendor is what the registry says of one MAC address.
type Vendor struct {
	// Name is the registrant's organisation name, "" when the MAC has no
	// registered vendor (see Private and Unknown).
	Name string
	// Country is the ISO 3166-1 alpha-2 code read from the registrant's
	// address, "" when the address names none.
	Country string
	// Registry is the block the match came from ("MA-L", "MA-M", "MA-S",
	// "IAB"), "" when nothing matched.
	Registry string
	// Prefix is the matched assignment in hex ("F4BD9E", "70B3D5F2F").
	Prefix string
	// Private is set for a locally administered address (randomised by
	// phones and laptops, or assigned by virtualisation): it names no
	// vendor, and is not an unknown one either.
	Private bool
}

// Known reports whether the registry named a vendor.
func (v Vendor) Known() bool { return v.Name != "" }

// FileInfo says which registry file is in use and how old it is.
type FileInfo struct {
	Path      string
	Registry  string
	ModTime   time.Time
	Entries   int
	Malformed int // lines that could not be read, skipped
}

// Registry is a loaded set of IEEE registries. It is immutable and safe
// for concurrent use; reloading means loading a new one.
type Registry struct {
	// Lookups happen once per new flow, never per packet, so Go maps
	// (randomly seeded per process, which keeps attacker-chosen MACs from
	// colliding on purpose) are fast enough.
	l, m, s map[uint64]int32 // prefix value → index into orgs
	orgs    []org
	files   []FileInfo
}

type org struct {
	name, country, registry, prefix string
}

// ErrNoRegistry means a directory held none of the registry files.
var ErrNoRegistry = errors.New("no IEEE registry file (oui.csv, mam.csv, oui36.csv, iab.csv)")

// Load reads the registry files found in dir.
func Load(dir string) (*Registry, error) {
	r := newRegistry()
	found := 0
	for _, f := range Files {
		p := filepath.Join(dir, f.Name)
		fh, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("macvendor: %w", err)
		}
		st, err := fh.Stat()
		if err != nil {
			fh.Close()
			return nil, fmt.Errorf("macvendor: %w", err)
		}
		info, err := r.read(fh, f.Registry)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("macvendor: %s: %w", p, err)
		}
		info.Path, info.ModTime = p, st.ModTime()
		r.files = append(r.files, info)
		found++
	}
	if found == 0 {
		return nil, fmt.Errorf("macvendor: %s: %w", dir, ErrNoRegistry)
	}
	return r, nil
}

// Parse reads one registry file in the IEEE CSV format (header
// "Registry,Assignment,Organization Name,Organization Address"). The
// registry column of each line says which block size it is; registry only
// names the file in FileInfo. Lines that cannot be read are counted in
// FileInfo.Malformed and skipped: one bad line must not hide the rest.
func Parse(rd io.Reader, registry string) (*Registry, error) {
	r := newRegistry()
	info, err := r.read(rd, registry)
	if err != nil {
		return nil, fmt.Errorf("macvendor: %w", err)
	}
	r.files = append(r.files, info)
	return r, nil
}

func newRegistry() *Registry {
	return &Registry{l: map[uint64]int32{}, m: map[uint64]int32{}, s: map[uint64]int32{}}
}

// maxFileSize bounds what is read of one registry file (the largest,
// oui.csv, is about 3 MB), so that a corrupt or hostile file cannot make
// the loader buffer without limit.
const maxFileSize = 64 << 20

func (r *Registry) read(rd io.Reader, registry string) (FileInfo, error) {
	info := FileInfo{Registry: registry}
	cr := csv.NewReader(bufio.NewReader(io.LimitReader(rd, maxFileSize)))
	cr.FieldsPerRecord = -1 // checked per line: a short line is malformed, not fatal
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if header {
			if err != nil || len(rec) < 2 || rec[0] != "Registry" || rec[1] != "Assignment" {
				return info, fmt.Errorf("not an IEEE registry CSV file (header %q)", truncate(strings.Join(rec, ","), 60))
			}
			header = false
			continue
		}
		if err == nil && r.add(rec) {
			info.Entries++
		} else {
			info.Malformed++
		}
	}
	if header {
		return info, errors.New("empty file")
	}
	return info, nil
}

func (r *Registry) add(rec []string) bool {
	if len(rec) < 3 {
		return false
	}
	reg, assign, name := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
	var bits int
	var table map[uint64]int32
	switch reg {
	case "MA-L":
		bits, table = bitsL, r.l
	case "MA-M":
		bits, table = bitsM, r.m
	case "MA-S", "IAB":
		bits, table = bitsS, r.s
	default:
		return false
	}
	if len(assign) != bits/4 || name == "" {
		return false
	}
	v, err := strconv.ParseUint(assign, 16, 64)
	if err != nil {
		return false
	}
	o := org{name: name, registry: reg, prefix: strings.ToUpper(assign)}
	if len(rec) > 3 {
		o.country = countryOf(rec[3])
	}
	table[v] = int32(len(r.orgs))
	r.orgs = append(r.orgs, o)
	return true
}

// countryOf reads the country from a registrant's address. The IEEE
// listings end each address with the ISO country code and then the postal
// code ("... Dongguan  CN 523808", "... Kanata Ontario CA K2K 2E6"), so the
// last token of two capital letters is the country; a state or province
// code comes before it and is not reached.
func countryOf(addr string) string {
	f := strings.Fields(addr)
	for i := len(f) - 1; i >= 0; i-- {
		t := f[i]
		if len(t) == 2 && t[0] >= 'A' && t[0] <= 'Z' && t[1] >= 'A' && t[1] <= 'Z' {
			return t
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Lookup names the vendor of mac: the longest registered prefix wins (an
// MA-S block inside an MA-L assignment names the MA-S registrant).
// Multicast and broadcast addresses are never devices: ok is false for
// them. A locally administered address is reported Private.
func (r *Registry) Lookup(mac [6]byte) (v Vendor, ok bool) {
	if !IsDevice(mac) {
		return Vendor{}, false
	}
	if mac[0]&0x02 != 0 {
		return Vendor{Private: true}, true
	}
	var x uint64
	for _, b := range mac {
		x = x<<8 | uint64(b)
	}
	if r != nil {
		if i, found := r.s[x>>(48-bitsS)]; found {
			return r.orgs[i].vendor(), true
		}
		if i, found := r.m[x>>(48-bitsM)]; found {
			return r.orgs[i].vendor(), true
		}
		if i, found := r.l[x>>(48-bitsL)]; found {
			return r.orgs[i].vendor(), true
		}
	}
	return Vendor{}, true
}

func (o *org) vendor() Vendor {
	return Vendor{Name: o.name, Country: o.country, Registry: o.registry, Prefix: o.prefix}
}

// IsDevice reports whether mac can name one device: not a group
// (multicast or broadcast) address and not all zeros.
func IsDevice(mac [6]byte) bool {
	return mac[0]&0x01 == 0 && mac != [6]byte{}
}

// Files returns the registry files in use.
func (r *Registry) Files() []FileInfo { return append([]FileInfo(nil), r.files...) }

// Len returns the number of assignments loaded.
func (r *Registry) Len() int { return len(r.orgs) }
