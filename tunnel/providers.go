package tunnel

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Providers names who runs a tunnel endpoint, from a list the user
// supplies (for instance built from a VPN provider's published server
// list): CSV lines of cidr,provider. The policy file names it
// (tunnels.providers); the Classifier sets Facts.Tunnel.Provider from it
// when it recognises a tunnel. A Providers is immutable and safe for
// concurrent use.
type Providers struct {
	nets    map[netip.Prefix]string
	lengths [2][]int // the prefix lengths in use, longest first: IPv4, IPv6
}

// Bounds on a provider list: the entries it may hold, and the length of a
// provider's name (it appears in events, reports and the API).
const (
	MaxProviderEntries = 1 << 20
	MaxProviderName    = 64
)

// LoadProviders reads a provider list from a file.
func LoadProviders(path string) (*Providers, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ParseProviders(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParseProviders reads a provider list: lines of cidr,provider, where cidr
// is a prefix (or one address), '#' starts a comment line, and a first
// line "cidr,provider" is a header. A prefix with host bits set, a prefix
// given twice, an empty or over-long name, or more than MaxProviderEntries
// lines are errors; up to ten are reported, with their line numbers.
func ParseProviders(r io.Reader) (*Providers, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	p := &Providers{nets: map[netip.Prefix]string{}}
	var problems []string
	add := func(line int, format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
		}
	}
	lines := map[netip.Prefix]int{}
	seen := [2]map[int]bool{{}, {}}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				add(pe.Line, "%v", pe.Err)
				if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
					continue
				}
			}
			return nil, joinProblems(append(problems, err.Error()))
		}
		line, _ := cr.FieldPos(0) // a record read whole has a field
		if first && len(rec) == 2 && strings.EqualFold(strings.TrimSpace(rec[0]), "cidr") && strings.EqualFold(strings.TrimSpace(rec[1]), "provider") {
			continue
		}
		if len(rec) != 2 {
			add(line, "want cidr,provider, not %d fields", len(rec))
			continue
		}
		prefix, ok := parseCIDR(strings.TrimSpace(rec[0]))
		if !ok {
			add(line, "%q is not a CIDR prefix or an address without host bits set (write 192.0.2.0/24 or 2001:db8::/32)", rec[0])
			continue
		}
		name := strings.TrimSpace(rec[1])
		if msg := badName(name); msg != "" {
			add(line, "provider %q: %s", name, msg)
			continue
		}
		if at, dup := lines[prefix]; dup {
			add(line, "%s is listed twice (first at line %d)", prefix, at)
			continue
		}
		if len(p.nets) == MaxProviderEntries {
			add(line, "more than %d entries", MaxProviderEntries)
			break
		}
		lines[prefix] = line
		p.nets[prefix] = strings.Clone(name) // not the reused record's memory
		v := 0
		if prefix.Addr().Is6() {
			v = 1
		}
		if !seen[v][prefix.Bits()] {
			seen[v][prefix.Bits()] = true
			p.lengths[v] = append(p.lengths[v], prefix.Bits())
		}
	}
	if len(problems) > 0 {
		return nil, joinProblems(problems)
	}
	for v := range p.lengths {
		slices.SortFunc(p.lengths[v], func(a, b int) int { return b - a })
	}
	return p, nil
}

func joinProblems(ps []string) error { return errors.New(strings.Join(ps, "\n")) }

func parseCIDR(s string) (netip.Prefix, bool) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Masked() != p {
		return netip.Prefix{}, false
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, true
}

func badName(name string) string {
	switch {
	case name == "":
		return "empty"
	case !utf8.ValidString(name):
		return "not UTF-8"
	case utf8.RuneCountInString(name) > MaxProviderName:
		return fmt.Sprintf("longer than %d characters", MaxProviderName)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "holds a character that is not printable"
	}
	return ""
}

// Len returns the number of entries.
func (p *Providers) Len() int {
	if p == nil {
		return 0
	}
	return len(p.nets)
}

// Lookup returns the provider of the longest listed prefix that holds a,
// or "". It does not allocate; a nil Providers lists nothing.
func (p *Providers) Lookup(a netip.Addr) string {
	if p == nil || !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	v := 0
	if a.Is6() {
		v = 1
	}
	for _, bits := range p.lengths[v] {
		pfx, _ := a.WithZone("").Prefix(bits)
		if name, ok := p.nets[pfx]; ok {
			return name
		}
	}
	return ""
}
