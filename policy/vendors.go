package policy

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/jurismon/jurismon/enrich"
	"gopkg.in/yaml.v3"
)

// The fields of a device a vendors rule matches on.
const (
	MatchedVendor        Field = iota + MatchedASOrg + 1 // the registrant's organisation name
	MatchedVendorCountry                                 // the registrant's country
)

// vendorRule flags local devices by their maker: the organisation that
// registered the MAC address's prefix with the IEEE, or its country.
type vendorRule struct {
	name, description string
	vendors           *regexp.Regexp // every expression of the rule as one alternation, or nil
	countries         countrySet
	exceptions        []macException
}

// macException exempts one device (a 48-bit MAC) or every device of a
// prefix (24, 28 or 36 bits, as the IEEE assigns them) from a rule.
type macException struct {
	value  uint64 // the prefix's bits, right-aligned
	bits   int    // 48 for one device
	reason string
}

func (e macException) contains(mac uint64) bool { return mac>>(48-e.bits) == e.value }

// evaluateDevice judges the flow's local device against the vendors rules
// (see DeviceRule) into v.
func (p *Policy) evaluateDevice(d *enrich.Device, v *Verdict) {
	v.Device, v.DeviceMatchedBy, v.DeviceExcepted = p.DeviceRule(d)
}

// DeviceRule judges a device against the vendors rules, in file order: the
// first that matches wins, unless one of its exceptions names the device
// (excepted is then its reason). It is the device's own standing, whatever
// flow it is seen in; Evaluate applies it to flows with a public remote.
func (p *Policy) DeviceRule(d *enrich.Device) (rule string, by Field, excepted string) {
	if !d.HasMAC || d.Private || len(p.vendors) == 0 {
		return "", MatchedNone, ""
	}
	ci, cok := countryIndex(d.VendorCountry)
	var mac uint64
	for _, b := range d.MAC {
		mac = mac<<8 | uint64(b)
	}
	for i := range p.vendors {
		r := &p.vendors[i]
		switch {
		case d.Vendor != "" && r.vendors != nil && r.vendors.MatchString(d.Vendor):
			by = MatchedVendor
		case cok && r.countries.has(ci):
			by = MatchedVendorCountry
		default:
			continue
		}
		for _, e := range r.exceptions {
			if e.contains(mac) {
				return "", MatchedNone, e.reason
			}
		}
		return r.name, by, ""
	}
	return "", MatchedNone, ""
}

// VendorRules returns the names of the vendors rules in file order.
func (p *Policy) VendorRules() []string {
	names := make([]string, len(p.vendors))
	for i := range p.vendors {
		names[i] = p.vendors[i].name
	}
	return names
}

type vendorFile struct {
	Name        yaml.Node             `yaml:"name"`
	Description yaml.Node             `yaml:"description"`
	Vendors     yaml.Node             `yaml:"vendors"`
	Countries   yaml.Node             `yaml:"countries"`
	Exceptions  []vendorExceptionFile `yaml:"exceptions"`

	line     int
	named    bool
	valid    bool
	compiled vendorRule
}

type plainVendor vendorFile

type vendorExceptionFile struct {
	MAC    yaml.Node `yaml:"mac"`
	Prefix yaml.Node `yaml:"prefix"`
	Reason yaml.Node `yaml:"reason"`

	line     int
	valid    bool
	compiled macException
}

type plainVendorException vendorExceptionFile

// UnmarshalYAML decodes one vendors rule and checks it, as a jurisdiction
// is checked.
func (r *vendorFile) UnmarshalYAML(unmarshal func(any) error) error {
	var at nodeAt
	_ = unmarshal(&at)
	*r = vendorFile{line: at.n.Line}
	var ps problems
	if err := unmarshal((*plainVendor)(r)); err != nil {
		return err
	}
	complete := len(ps) == 0
	c := &r.compiled
	name, ok := scalar(&r.Name)
	switch {
	case !ok && !absent(&r.Name):
		ps.add(resolve(&r.Name).Line, "vendors rule name must be a string, not %s", kind(&r.Name))
	case name == "":
		if complete {
			ps.add(r.line, "vendors rule has no name")
		}
	case !nameRE.MatchString(name):
		ps.add(resolve(&r.Name).Line, "vendors rule name %q must use only a-z, 0-9, _ and - (it becomes a metric label value)", name)
	default:
		r.named = true
	}
	c.name = name
	ctx := "vendors rule"
	if name != "" {
		ctx = fmt.Sprintf("vendors rule %q", name)
	}
	if desc, ok := scalar(&r.Description); ok {
		c.description = desc
	} else if !absent(&r.Description) {
		ps.add(resolve(&r.Description).Line, "%s: description must be a string, not %s", ctx, kind(&r.Description))
	}
	countries(&r.Countries, ctx+": countries", &c.countries, &ps)
	var exprs []string
	for _, n := range list(&r.Vendors, ctx+": vendors", &ps) {
		expr, ok := scalar(n)
		switch _, err := regexp.Compile(expr); {
		case !ok:
			ps.add(n.Line, "%s: vendors: entries must be regular expressions, not %s", ctx, kind(n))
		case expr == "":
			ps.add(n.Line, "%s: vendors: an empty expression would match every vendor", ctx)
		case err != nil:
			ps.add(n.Line, "%s: vendors: %q is not a regular expression: %s", ctx, expr, regexpProblem(err))
		default:
			exprs = append(exprs, "(?:"+expr+")")
		}
	}
	if len(exprs) > 0 {
		c.vendors = regexp.MustCompile(strings.Join(exprs, "|"))
	}
	for i := range r.Exceptions {
		e := &r.Exceptions[i]
		if e.valid {
			c.exceptions = append(c.exceptions, e.compiled)
		}
	}
	if complete && len(ps) == 0 && c.vendors == nil && c.countries.empty() {
		ps.add(r.line, "%s matches nothing: give vendors, countries or both", ctx)
	}
	r.valid = len(ps) == 0
	return ps.err()
}

// UnmarshalYAML decodes one device exception and checks it.
func (e *vendorExceptionFile) UnmarshalYAML(unmarshal func(any) error) error {
	var at nodeAt
	_ = unmarshal(&at)
	*e = vendorExceptionFile{line: at.n.Line}
	var ps problems
	if err := unmarshal((*plainVendorException)(e)); err != nil {
		return err
	}
	complete := len(ps) == 0
	hasMAC, hasPrefix := !absent(&e.MAC), !absent(&e.Prefix)
	switch {
	case hasMAC && hasPrefix:
		ps.add(e.line, "vendors exception has both mac and prefix: write one exception for each")
	case hasMAC:
		e.compiled, _ = parseMAC(resolve(&e.MAC), false, &ps)
	case hasPrefix:
		e.compiled, _ = parseMAC(resolve(&e.Prefix), true, &ps)
	case complete:
		ps.add(e.line, "vendors exception has neither mac nor prefix")
	}
	reason, ok := scalar(&e.Reason)
	switch {
	case !ok && !absent(&e.Reason):
		ps.add(resolve(&e.Reason).Line, "vendors exception: reason must be a string, not %s", kind(&e.Reason))
	case strings.TrimSpace(reason) == "" && complete:
		ps.add(e.line, "vendors exception needs a reason: say why this device is allowed")
	}
	e.compiled.reason = reason
	e.valid = len(ps) == 0
	return ps.err()
}

// parseMAC reads a MAC address ("00:e0:fc:12:34:56", "00-E0-FC-12-34-56")
// or, with prefix, an IEEE assignment in hex digits with optional
// separators: 6 digits (MA-L), 7 (MA-M) or 9 (MA-S and IAB).
func parseMAC(n *yaml.Node, prefix bool, ps *problems) (macException, bool) {
	v, ok := scalar(n)
	what := "mac"
	if prefix {
		what = "prefix"
	}
	if !ok {
		ps.add(n.Line, "vendors exception: %s must be a string, not %s", what, kind(n))
		return macException{}, false
	}
	if !prefix {
		hw, err := net.ParseMAC(v)
		if err != nil || len(hw) != 6 {
			ps.add(n.Line, "vendors exception: %q is not a MAC address (write 00:e0:fc:12:34:56)", v)
			return macException{}, false
		}
		var x uint64
		for _, b := range hw {
			x = x<<8 | uint64(b)
		}
		return macException{value: x, bits: 48}, true
	}
	digits := strings.NewReplacer(":", "", "-", "", ".", "").Replace(v)
	x, err := strconv.ParseUint(digits, 16, 64)
	if err != nil || (len(digits) != 6 && len(digits) != 7 && len(digits) != 9) {
		ps.add(n.Line, "vendors exception: %q is not an IEEE prefix (6, 7 or 9 hex digits: 00:e0:fc, 70B3D5F2F)", v)
		return macException{}, false
	}
	return macException{value: x, bits: 4 * len(digits)}, true
}
