package policy

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// MatchedDomain: a jurisdiction's domains matched the remote's name (from
// the DNS answers seen on the wire).
const MatchedDomain Field = MatchedVendorCountry + 1

// maxDomainLabels bounds the suffixes tried for one name (DNS allows 127
// labels; a hostile answer must not cost more).
const maxDomainLabels = 16

// domainSet matches names exactly or by suffix: "example.com" in a suffix
// set matches example.com and every name under it.
type domainSet struct {
	exact, suffix map[string]int // name → index of its entry
}

// match returns the index of the entry matching name, the most specific
// first: the exact name, then its suffixes from the longest.
func (s *domainSet) match(name string) (int, bool) {
	if s == nil || name == "" {
		return 0, false
	}
	if i, ok := s.exact[name]; ok {
		return i, true
	}
	if len(s.suffix) == 0 {
		return 0, false
	}
	for n := 0; n < maxDomainLabels; n++ {
		if i, ok := s.suffix[name]; ok {
			return i, true
		}
		dot := strings.IndexByte(name, '.')
		if dot < 0 {
			return 0, false
		}
		name = name[dot+1:]
	}
	return 0, false
}

// normalDomain checks and normalises one name of a policy's domains: what
// the DNS cache keeps (lowercase, no trailing dot). wildcard allows a
// leading "*." (a suffix); suffix says whether it had one.
func normalDomain(n *yaml.Node, ctx string, wildcard bool, ps *problems) (name string, suffix, ok bool) {
	v, ok := scalar(n)
	if !ok {
		ps.add(n.Line, "%s: entries must be domain names, not %s", ctx, kind(n))
		return "", false, false
	}
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	if wildcard {
		name, suffix = strings.CutPrefix(name, "*.")
	}
	if name == "" || len(name) > 253 || strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
		ps.add(n.Line, "%s: %q is not a domain name", ctx, v)
		return "", false, false
	}
	for i := range len(name) {
		if c := name[i]; c <= ' ' || c > '~' || c == '*' {
			ps.add(n.Line, "%s: %q is not a domain name (a wildcard may only lead: *.example.com)", ctx, v)
			return "", false, false
		}
	}
	return name, suffix, true
}

// jurisdictionDomains reads a jurisdiction's domains: suffixes, each
// matching the name and every name under it ("*." may lead, to the same
// effect).
func jurisdictionDomains(n *yaml.Node, ctx string, set **domainSet, ps *problems) {
	for _, item := range list(n, ctx, ps) {
		name, _, ok := normalDomain(item, ctx, true, ps)
		if !ok {
			continue
		}
		if *set == nil {
			*set = &domainSet{suffix: map[string]int{}}
		}
		(*set).suffix[name] = 0
	}
}

// WatchedDomain is one entry of the policy's domains section: a name whose
// DNS answers may point only to the listed countries.
type WatchedDomain struct {
	// Name is the entry as the policy file names it, normalised:
	// "telemetry.example.com" or "*.example.com". It is the `domain`
	// label of the watched-domain metrics.
	Name    string
	allowed countrySet
}

// Allows reports whether an answer of the watched name may point to an
// address in country (an ISO code; "" or unknown is outside every list).
func (w *WatchedDomain) Allows(country string) bool {
	i, ok := countryIndex(country)
	return ok && w.allowed.has(i)
}

// Watched returns the entry of the domains section that name falls under:
// an exact entry first, else the longest "*." suffix that matches. The
// *.example.com entry matches www.example.com, not example.com itself.
func (p *Policy) Watched(name string) (*WatchedDomain, bool) {
	if len(p.watched) == 0 {
		return nil, false
	}
	if i, ok := p.watchedSet.exact[name]; ok {
		return &p.watched[i], true
	}
	if dot := strings.IndexByte(name, '.'); dot >= 0 {
		s := domainSet{suffix: p.watchedSet.suffix}
		if i, ok := s.match(name[dot+1:]); ok {
			return &p.watched[i], true
		}
	}
	return nil, false
}

// WatchedDomains returns the names of the domains section, in file order.
func (p *Policy) WatchedDomains() []string {
	out := make([]string, len(p.watched))
	for i := range p.watched {
		out[i] = p.watched[i].Name
	}
	return out
}

type domainFile struct {
	Name        yaml.Node `yaml:"name"`
	Description yaml.Node `yaml:"description"`
	Countries   yaml.Node `yaml:"countries"`

	line     int
	valid    bool
	suffix   bool
	compiled WatchedDomain
}

type plainDomain domainFile

// UnmarshalYAML decodes one watched domain and checks it.
func (d *domainFile) UnmarshalYAML(unmarshal func(any) error) error {
	var at nodeAt
	_ = unmarshal(&at)
	*d = domainFile{line: at.n.Line}
	if err := unmarshal((*plainDomain)(d)); err != nil {
		return err
	}
	var ps problems
	ctx := "domains entry"
	if absent(&d.Name) {
		ps.add(d.line, "domains entry has no name")
	} else if name, suffix, ok := normalDomain(&d.Name, "domains: name", true, &ps); ok {
		d.suffix = suffix
		d.compiled.Name = name
		if suffix {
			d.compiled.Name = "*." + name
		}
		ctx = fmt.Sprintf("domains entry %q", d.compiled.Name)
	}
	if !absent(&d.Description) {
		if _, ok := scalar(&d.Description); !ok {
			ps.add(resolve(&d.Description).Line, "%s: description must be a string, not %s", ctx, kind(&d.Description))
		}
	}
	countries(&d.Countries, ctx+": countries", &d.compiled.allowed, &ps)
	if len(ps) == 0 && d.compiled.allowed.empty() {
		ps.add(d.line, "%s: countries is empty: give the countries or @groups its answers may point to", ctx)
	}
	d.valid = len(ps) == 0
	return ps.err()
}

// compileDomains adds the domains section to p, reporting names given
// twice.
func compileDomains(entries []domainFile, p *Policy, ps *problems) {
	first := map[string]int{}
	for i := range entries {
		d := &entries[i]
		if !d.valid {
			continue
		}
		if l, ok := first[d.compiled.Name]; ok {
			ps.add(d.line, "domains entry %q is given twice (first at line %d)", d.compiled.Name, l)
			continue
		}
		first[d.compiled.Name] = d.line
		if p.watchedSet.exact == nil {
			p.watchedSet = domainSet{exact: map[string]int{}, suffix: map[string]int{}}
		}
		name := strings.TrimPrefix(d.compiled.Name, "*.")
		if d.suffix {
			p.watchedSet.suffix[name] = len(p.watched)
		} else {
			p.watchedSet.exact[name] = len(p.watched)
		}
		p.watched = append(p.watched, d.compiled)
	}
}

func matchDomain(s *domainSet, name string) bool {
	_, ok := s.match(name)
	return ok
}
