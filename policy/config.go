package policy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error lists every problem found in a policy file, in file order. Each
// problem starts with "line N: " where the line is known.
type Error struct {
	File     string // set by Load
	Problems []string

	recovered bool // from a panic: a bug here or in yaml.v3, which FuzzParse reports
}

func (e *Error) Error() string {
	if e.File == "" {
		return strings.Join(e.Problems, "\n")
	}
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		b.WriteString(": ")
		b.WriteString(p)
	}
	return b.String()
}

// Load reads and parses a policy file. Problems in the file are reported as
// an *Error whose lines start with the file name.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // an *fs.PathError, which names the file
	}
	p, err := Parse(data)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			e.File = path
			return nil, e
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.tunnels.resolveProviders(path)
	return p, nil
}

// Parse parses a policy file. An empty file (or one with only comments) is
// refused: write "jurisdictions: []" for a policy that flags nothing.
// Problems are reported as an *Error, all of them at once.
func Parse(data []byte) (p *Policy, err error) {
	defer func() {
		// yaml.v3 has panicked on hostile input before (CVE-2022-28948);
		// a bad policy file must be an error, not a crash.
		if r := recover(); r != nil {
			p, err = nil, &Error{Problems: []string{fmt.Sprintf("cannot parse YAML: %v", r)}, recovered: true}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f policyFile
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err, data)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, &Error{Problems: []string{fmt.Sprintf("line %d: a policy file holds one YAML document, not several", docLine(&extra))}}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(err, data)
	}
	p = f.compiled
	if p == nil {
		// An empty or null document (only comments, "---", "~"):
		// UnmarshalYAML was never called. Taking it for a policy would
		// turn all flagging off without a word, and a reload racing a
		// non-atomic cp or an editor's save reads exactly that.
		return nil, &Error{Problems: []string{errEmptyPolicy}}
	}
	p.sum = sha256.Sum256(data)
	return p, nil
}

// errEmptyPolicy is the problem of a file without any YAML content.
const errEmptyPolicy = `the policy file is empty (or holds only comments), which would silently flag nothing: ` +
	`name at least one jurisdiction, or write "jurisdictions: []" to flag nothing on purpose`

// docLine is the line of a document's content.
func docLine(n *yaml.Node) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return n.Line
}

// The file's structure. Leaf fields are yaml.Nodes so that every value
// keeps its line for error messages and is converted and checked here
// rather than by yaml's generic type errors. Each struct has a "plain" twin
// without UnmarshalYAML, decoded by the same (strict) decoder.

type policyFile struct {
	Jurisdictions []jurisdictionFile `yaml:"jurisdictions"`
	Exceptions    []exceptionFile    `yaml:"exceptions"`
	LocalNetworks yaml.Node          `yaml:"local_networks"`
	Vendors       []vendorFile       `yaml:"vendors"`
	Tunnels       tunnelsFile        `yaml:"tunnels"`

	compiled *Policy
}

type plainPolicy policyFile

type jurisdictionFile struct {
	Name                yaml.Node `yaml:"name"`
	Description         yaml.Node `yaml:"description"`
	Countries           yaml.Node `yaml:"countries"`
	RegisteredCountries yaml.Node `yaml:"registered_countries"`
	ASNs                yaml.Node `yaml:"asns"`
	ASOrgs              yaml.Node `yaml:"as_orgs"`

	line     int
	named    bool // the name is valid, whatever else is wrong
	valid    bool
	compiled jurisdiction
}

type plainJurisdiction jurisdictionFile

type exceptionFile struct {
	CIDR   yaml.Node `yaml:"cidr"`
	ASN    yaml.Node `yaml:"asn"`
	Reason yaml.Node `yaml:"reason"`

	line   int
	valid  bool
	prefix netip.Prefix
	asn    uint32
	reason string
}

type plainException exceptionFile

// nodeAt captures the node being decoded, for its line: the func-style
// UnmarshalYAML below keeps the decoder's KnownFields setting (a
// *yaml.Node-style one would have to decode with a new, lenient decoder),
// but it is not given the node itself.
type nodeAt struct{ n *yaml.Node }

func (c *nodeAt) UnmarshalYAML(n *yaml.Node) error { c.n = n; return nil }

// problems collects the errors of one part of the file. They are returned
// as a *yaml.TypeError, which the decoder accumulates and carries on: one
// run reports every problem, in file order.
type problems []string

func (ps *problems) add(line int, format string, args ...any) {
	*ps = append(*ps, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
}

// absorb takes the problems of a decoder error into ps, so that the checks
// after it still run and report theirs: yaml.v3 decodes everything it can
// around a type error (an unknown field, a wrong type) before returning it.
// Any other error is returned as it is.
func (ps *problems) absorb(err error) error {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		*ps = append(*ps, te.Errors...)
		return nil
	}
	return err
}

// decodeEntry takes the decoding problems of a list entry into ps. An entry
// that is not a mapping has nothing more to check: its error is returned.
func decodeEntry(n *yaml.Node, err error, ps *problems) error {
	if err != nil && resolve(n).Kind != yaml.MappingNode {
		return err
	}
	return ps.absorb(err)
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &yaml.TypeError{Errors: ps}
}

// UnmarshalYAML decodes a whole file, then checks what involves several
// jurisdictions or exceptions (the individual ones have checked themselves)
// and builds the Policy.
func (f *policyFile) UnmarshalYAML(unmarshal func(any) error) error {
	var at nodeAt
	_ = unmarshal(&at) // cannot fail: nodeAt accepts any node
	*f = policyFile{}
	var ps problems
	if err := ps.absorb(unmarshal((*plainPolicy)(f))); err != nil {
		return err
	}
	// The decoder drops null list items without a word: find them.
	nullItems(at.n, "jurisdictions", "jurisdiction", &ps)
	nullItems(at.n, "exceptions", "exception", &ps)
	nullItems(at.n, "vendors", "vendors rule", &ps)
	p := &Policy{exceptASN: map[uint32]string{}}
	firstName := map[string]int{}
	for i := range f.Jurisdictions {
		j := &f.Jurisdictions[i]
		// Names are compared even where the rest of the jurisdiction has
		// problems (or another one has no name), so that one run reports
		// every duplicate.
		if j.named {
			if first, ok := firstName[j.compiled.name]; ok {
				ps.add(j.line, "jurisdiction %q is defined twice (first at line %d)", j.compiled.name, first)
				continue
			}
			firstName[j.compiled.name] = j.line
		}
		if j.valid {
			p.jurisdictions = append(p.jurisdictions, j.compiled)
		}
	}
	firstCIDR := map[netip.Prefix]int{}
	firstASN := map[uint32]int{}
	for i := range f.Exceptions {
		e := &f.Exceptions[i]
		switch {
		case !e.valid:
		case e.prefix.IsValid():
			if first, ok := firstCIDR[e.prefix]; ok {
				ps.add(e.line, "exception for %s is given twice (first at line %d)", e.prefix, first)
				continue
			}
			firstCIDR[e.prefix] = e.line
			p.exceptCIDR = append(p.exceptCIDR, exception{prefix: e.prefix, reason: e.reason})
		default:
			if first, ok := firstASN[e.asn]; ok {
				ps.add(e.line, "exception for AS%d is given twice (first at line %d)", e.asn, first)
				continue
			}
			firstASN[e.asn] = e.line
			p.exceptASN[e.asn] = e.reason
		}
	}
	firstVendor := map[string]int{}
	for i := range f.Vendors {
		r := &f.Vendors[i]
		if r.named {
			if first, ok := firstVendor[r.compiled.name]; ok {
				ps.add(r.line, "vendors rule %q is defined twice (first at line %d)", r.compiled.name, first)
				continue
			}
			firstVendor[r.compiled.name] = r.line
		}
		if r.valid {
			p.vendors = append(p.vendors, r.compiled)
		}
	}
	p.tunnels = f.Tunnels.compiled
	for i, name := range f.Tunnels.names {
		if first, ok := firstName[name]; ok {
			ps.add(f.Tunnels.lines[i], "tunnels: jurisdiction %q is already a jurisdiction (line %d): names must differ, they are metric label values", name, first)
		}
	}
	for _, n := range list(&f.LocalNetworks, "local_networks", &ps) {
		if prefix, ok := parsePrefix(n, "local_networks", &ps); ok {
			p.local = append(p.local, prefix)
		}
	}
	if err := ps.err(); err != nil {
		return err
	}
	p.orgs = newOrgCache(p)
	f.compiled = p
	return nil
}

// nullItems reports the null items of a top-level list.
func nullItems(root *yaml.Node, key, what string, ps *problems) {
	root = resolve(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return
	}
	for k := 0; k+1 < len(root.Content); k += 2 {
		if root.Content[k].Value != key {
			continue
		}
		if seq := resolve(root.Content[k+1]); seq.Kind == yaml.SequenceNode {
			for _, item := range seq.Content {
				if absent(item) {
					ps.add(item.Line, "%s is empty", what)
				}
			}
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

// UnmarshalYAML decodes one jurisdiction, applies the defaults (there are
// none: every absent list matches nothing) and checks it.
func (j *jurisdictionFile) UnmarshalYAML(unmarshal func(any) error) error {
	var at nodeAt
	_ = unmarshal(&at)
	*j = jurisdictionFile{line: at.n.Line}
	var ps problems
	if err := decodeEntry(at.n, unmarshal((*plainJurisdiction)(j)), &ps); err != nil {
		return err
	}
	// After a decoding problem (an unknown or repeated field) a field may
	// be missing only because of it: say nothing more about missing ones.
	complete := len(ps) == 0
	c := &j.compiled
	name, ok := scalar(&j.Name)
	switch {
	case !ok && !absent(&j.Name):
		ps.add(resolve(&j.Name).Line, "jurisdiction name must be a string, not %s", kind(&j.Name))
	case name == "":
		if complete {
			ps.add(j.line, "jurisdiction has no name")
		}
	case !nameRE.MatchString(name):
		ps.add(resolve(&j.Name).Line, "jurisdiction name %q must use only a-z, 0-9, _ and - (it becomes a metric label value)", name)
	default:
		j.named = true
	}
	c.name = name
	ctx := "jurisdiction"
	if name != "" {
		ctx = fmt.Sprintf("jurisdiction %q", name)
	}
	if desc, ok := scalar(&j.Description); ok {
		c.description = desc
	} else if !absent(&j.Description) {
		ps.add(resolve(&j.Description).Line, "%s: description must be a string, not %s", ctx, kind(&j.Description))
	}
	countries(&j.Countries, ctx+": countries", &c.countries, &ps)
	countries(&j.RegisteredCountries, ctx+": registered_countries", &c.registered, &ps)
	for _, n := range list(&j.ASNs, ctx+": asns", &ps) {
		if asn, ok := parseASN(n, ctx+": asns", &ps); ok {
			c.asns = append(c.asns, asn)
		}
	}
	slices.Sort(c.asns)
	c.asns = slices.Compact(c.asns)
	var orgs []string
	for _, n := range list(&j.ASOrgs, ctx+": as_orgs", &ps) {
		expr, ok := scalar(n)
		switch _, err := regexp.Compile(expr); {
		case !ok:
			ps.add(n.Line, "%s: as_orgs: entries must be regular expressions, not %s", ctx, kind(n))
		case expr == "":
			ps.add(n.Line, "%s: as_orgs: an empty expression would match every organisation", ctx)
		case err != nil:
			ps.add(n.Line, "%s: as_orgs: %q is not a regular expression: %s", ctx, expr, regexpProblem(err))
		default:
			orgs = append(orgs, "(?:"+expr+")")
		}
	}
	if len(orgs) > 0 {
		// One alternation scans the organisation once for all of the
		// jurisdiction's expressions. Flags such as (?i) stay inside their
		// group in RE2 syntax, so each expression keeps its meaning.
		c.orgs = regexp.MustCompile(strings.Join(orgs, "|"))
	}
	if complete && len(ps) == 0 && c.countries.empty() && c.registered.empty() && len(c.asns) == 0 && c.orgs == nil {
		ps.add(j.line, "%s matches nothing: give at least one of countries, registered_countries, asns, as_orgs", ctx)
	}
	j.valid = len(ps) == 0
	return ps.err()
}

// regexpProblem is a regexp error without its "error parsing regexp: ".
func regexpProblem(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// UnmarshalYAML decodes one exception and checks it.
func (e *exceptionFile) UnmarshalYAML(unmarshal func(any) error) error {
	return e.decode(unmarshal, (*plainException)(e), "exception")
}

// decode decodes a CIDR-or-ASN entry with a reason (an exception, or an
// allowed tunnel endpoint: what names it in messages) through its plain
// twin, and checks it.
func (e *exceptionFile) decode(unmarshal func(any) error, plain any, what string) error {
	var at nodeAt
	_ = unmarshal(&at)
	*e = exceptionFile{line: at.n.Line}
	var ps problems
	if err := decodeEntry(at.n, unmarshal(plain), &ps); err != nil {
		return err
	}
	complete := len(ps) == 0 // as for jurisdictions
	hasCIDR, hasASN := !absent(&e.CIDR), !absent(&e.ASN)
	switch {
	case hasCIDR && hasASN:
		ps.add(e.line, "%s has both cidr and asn: write one %s for each", what, what)
	case hasCIDR:
		e.prefix, _ = parsePrefix(resolve(&e.CIDR), what+": cidr", &ps)
	case hasASN:
		e.asn, _ = parseASN(resolve(&e.ASN), what+": asn", &ps)
	case complete:
		ps.add(e.line, "%s has neither cidr nor asn", what)
	}
	reason, ok := scalar(&e.Reason)
	switch {
	case !ok && !absent(&e.Reason):
		ps.add(resolve(&e.Reason).Line, "%s: reason must be a string, not %s", what, kind(&e.Reason))
	case strings.TrimSpace(reason) == "" && complete:
		ps.add(e.line, "%s needs a reason: say why this traffic is allowed", what)
	}
	e.reason = reason
	e.valid = len(ps) == 0
	return ps.err()
}

// countries adds the codes and groups of a country list to set.
func countries(n *yaml.Node, ctx string, set *countrySet, ps *problems) {
	for _, item := range list(n, ctx, ps) {
		v, ok := scalar(item)
		if !ok {
			ps.add(item.Line, "%s: entries must be country codes or @groups, not %s", ctx, kind(item))
			continue
		}
		if group, ok := strings.CutPrefix(v, "@"); ok {
			members, ok := groups[strings.ToLower(group)]
			if !ok {
				ps.add(item.Line, "%s: unknown group %q (known groups: %s)", ctx, v, groupList())
				continue
			}
			for _, c := range members {
				i, _ := countryIndex(c)
				set.add(i)
			}
			continue
		}
		code := strings.ToUpper(v)
		if !isCountry(code) {
			if hint, ok := misnamedCountries[code]; ok {
				ps.add(item.Line, "%s: %q is not an ISO 3166-1 alpha-2 country code (%s)", ctx, v, hint)
			} else {
				ps.add(item.Line, "%s: %q is not an ISO 3166-1 alpha-2 country code", ctx, v)
			}
			continue
		}
		i, _ := countryIndex(code)
		set.add(i)
	}
}

// parseASN reads 64500 or "AS64500".
func parseASN(n *yaml.Node, ctx string, ps *problems) (uint32, bool) {
	v, ok := scalar(n)
	if !ok {
		ps.add(n.Line, "%s: want an AS number, not %s", ctx, kind(n))
		return 0, false
	}
	digits := v
	if len(v) > 2 && strings.EqualFold(v[:2], "AS") {
		digits = v[2:]
	}
	asn, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || asn == 0 {
		ps.add(n.Line, `%s: %q is not an AS number (write 64500 or "AS64500", from 1 to 4294967295)`, ctx, v)
		return 0, false
	}
	return uint32(asn), true
}

// parsePrefix reads a CIDR prefix, or a single address as a host prefix.
func parsePrefix(n *yaml.Node, ctx string, ps *problems) (netip.Prefix, bool) {
	v, ok := scalar(n)
	if !ok {
		ps.add(n.Line, "%s: want a CIDR prefix, not %s", ctx, kind(n))
		return netip.Prefix{}, false
	}
	var prefix netip.Prefix
	if strings.Contains(v, "/") {
		var err error
		if prefix, err = netip.ParsePrefix(v); err != nil {
			ps.add(n.Line, "%s: %q is not a CIDR prefix (write 192.0.2.0/24 or 2001:db8::/32)", ctx, v)
			return netip.Prefix{}, false
		}
	} else {
		addr, err := netip.ParseAddr(v)
		if err != nil || addr.Zone() != "" {
			ps.add(n.Line, "%s: %q is not a CIDR prefix (write 192.0.2.0/24 or 2001:db8::/32)", ctx, v)
			return netip.Prefix{}, false
		}
		prefix = netip.PrefixFrom(addr, addr.BitLen())
	}
	if masked := prefix.Masked(); masked != prefix {
		// 192.0.2.10/24 is ambiguous: a host was probably meant, or a
		// network with a typo. Guessing either would be wrong half the time.
		ps.add(n.Line, "%s: %s has host bits set (the network is %s; a single host is %s/%d)", ctx, v, masked, prefix.Addr(), prefix.Addr().BitLen())
		return netip.Prefix{}, false
	}
	if a := prefix.Addr(); a.Is4In6() && prefix.Bits() >= 96 {
		// Addresses are compared unmapped, so store the IPv4 prefix.
		prefix = netip.PrefixFrom(a.Unmap(), prefix.Bits()-96)
	}
	return prefix, true
}

// resolve follows YAML aliases (*name) to the anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// absent reports whether a field was left out or given as null.
func absent(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// scalar returns the text of a non-null scalar.
func scalar(n *yaml.Node) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", false
	}
	return n.Value, true
}

// list returns the (alias-resolved) items of a list field; an absent field
// is an empty list.
func list(n *yaml.Node, ctx string, ps *problems) []*yaml.Node {
	n = resolve(n)
	if absent(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		ps.add(n.Line, "%s must be a list, not %s", ctx, kind(n))
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		items[i] = resolve(item)
	}
	return items
}

// kind names what a node is, for error messages.
func kind(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n == nil || n.Kind == 0:
		return "nothing"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	}
	return tagKind(n.ShortTag(), n.Value)
}

func tagKind(tag, value string) string {
	switch tag {
	case "!!null":
		return "null"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!int", "!!float":
		return fmt.Sprintf("the number %s", value)
	case "!!bool":
		return fmt.Sprintf("the boolean %s", value)
	}
	return fmt.Sprintf("%q", value)
}

// The messages of yaml.v3 this package rewrites: they name Go types.
var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	wrongTypeRE    = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
	duplicateKeyRE = regexp.MustCompile(`^line (\d+): mapping key "(.*)" already defined at line (\d+)$`)
	syntaxLineRE   = regexp.MustCompile(`^line (\d+): `)
)

// parserProblems are the messages of yaml.v3's parser (parserc.go), as
// opposed to its scanner's.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// parts describes the Go types of the file for error messages.
var parts = map[string]struct {
	name, want string
	fields     []string
}{
	"policy.plainPolicy":           {"at the top level", "the policy must be a mapping (of jurisdictions, exceptions, local_networks, tunnels, vendors)", yamlFields(plainPolicy{})},
	"policy.plainTunnels":          {"in tunnels", "tunnels must be a mapping (of allowed, flag_unlisted, jurisdictions, providers)", yamlFields(plainTunnels{})},
	"policy.plainAllowed":          {"in an allowed tunnel endpoint", "each allowed tunnel endpoint must be a mapping", yamlFields(plainAllowed{})},
	"[]policy.allowedFile":         {"", "tunnels: allowed must be a list", nil},
	"policy.plainVendor":           {"in a vendors rule", "each vendors rule must be a mapping", yamlFields(plainVendor{})},
	"policy.plainVendorException":  {"in a vendors exception", "each vendors exception must be a mapping", yamlFields(plainVendorException{})},
	"[]policy.vendorFile":          {"", "vendors must be a list", nil},
	"[]policy.vendorExceptionFile": {"", "a vendors rule's exceptions must be a list", nil},
	"policy.plainJurisdiction":     {"in a jurisdiction", "each jurisdiction must be a mapping", yamlFields(plainJurisdiction{})},
	"policy.plainException":        {"in an exception", "each exception must be a mapping", yamlFields(plainException{})},
	"[]policy.jurisdictionFile":    {"", "jurisdictions must be a list", nil},
	"[]policy.exceptionFile":       {"", "exceptions must be a list", nil},
}

func yamlFields(v any) []string {
	t := reflect.TypeOf(v)
	var names []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

// yamlError turns an error of the yaml decoder into an *Error whose
// problems talk about the file, not about Go types.
func yamlError(err error, data []byte) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := syntaxLineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			problem := msg[len(m[0]):]
			if parserProblems[problem] {
				// yaml.v3 (v3.0.1) reports its parser's errors with the
				// 0-based line of the construct being parsed, and its
				// scanner's with a 1-based one.
				line++
			}
			if strings.Contains(problem, "cannot start any token") && strings.Contains(sourceLine(data, line), "@") {
				problem += ` (a @group must be quoted: "@eu")`
			}
			msg = fmt.Sprintf("line %d: %s", line, problem)
		}
		return &Error{Problems: []string{msg}}
	}
	ps := make([]string, len(te.Errors))
	for i, msg := range te.Errors {
		ps[i] = rewrite(msg)
	}
	slices.SortStableFunc(ps, func(a, b string) int { return lineOf(a) - lineOf(b) })
	return &Error{Problems: ps}
}

func rewrite(msg string) string {
	if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		part, ok := parts[m[3]]
		if !ok {
			return msg
		}
		if guess := closest(m[2], part.fields); guess != "" {
			return fmt.Sprintf("line %s: unknown field %q %s; did you mean %q?", m[1], m[2], part.name, guess)
		}
		return fmt.Sprintf("line %s: unknown field %q %s (known fields: %s)", m[1], m[2], part.name, strings.Join(part.fields, ", "))
	}
	if m := wrongTypeRE.FindStringSubmatch(msg); m != nil {
		if part, ok := parts[m[4]]; ok {
			return fmt.Sprintf("line %s: %s, not %s", m[1], part.want, tagKind(m[2], m[3]))
		}
		return msg
	}
	if m := duplicateKeyRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("line %s: field %q is given twice (first at line %s)", m[1], m[2], m[3])
	}
	return msg
}

func lineOf(problem string) int {
	if m := syntaxLineRE.FindStringSubmatch(problem); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func sourceLine(data []byte, line int) string {
	for i := 1; len(data) > 0; i++ {
		l, rest, _ := bytes.Cut(data, []byte("\n"))
		if i == line {
			return string(l)
		}
		data = rest
	}
	return ""
}

// closest returns the known field within two edits of name, if any.
func closest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, for short field names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
