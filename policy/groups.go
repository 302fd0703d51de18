package policy

import (
	"slices"
	"strings"
)

// groups are the named country groups a policy may use in any country list,
// written "@name". This is the one place they are defined; membership is as
// of 2026 and changes here are release-noted, since they change what a
// policy flags.
//
//   - eu: the 27 member states of the European Union (since the United
//     Kingdom left on 2020-01-31). Source: european-union.europa.eu,
//     "EU countries".
//   - eea: the European Economic Area, the EU plus Iceland, Liechtenstein
//     and Norway. Source: EEA Agreement, efta.int "EEA".
//   - efta: the European Free Trade Association, Iceland, Liechtenstein,
//     Norway and Switzerland. Source: efta.int "The EFTA States".
//   - five_eyes: the UKUSA signals-intelligence alliance, United States,
//     United Kingdom, Canada, Australia and New Zealand. Source: UKUSA
//     Agreement (declassified by NSA and GCHQ in 2010).
//   - nine_eyes: Five Eyes plus Denmark, France, the Netherlands and Norway.
//   - fourteen_eyes: Nine Eyes plus Germany, Belgium, Italy, Spain and
//     Sweden (SIGINT Seniors Europe). Nine and Fourteen Eyes are not treaty
//     names; the membership used is the one reported from the 2013 Snowden
//     documents and used by privacy organisations since.
var groups = map[string][]string{
	"eu": {
		"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI",
		"FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT",
		"NL", "PL", "PT", "RO", "SE", "SI", "SK",
	},
	"eea": {
		"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI",
		"FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT",
		"NL", "PL", "PT", "RO", "SE", "SI", "SK",
		"IS", "LI", "NO",
	},
	"efta":          {"CH", "IS", "LI", "NO"},
	"five_eyes":     {"AU", "CA", "GB", "NZ", "US"},
	"nine_eyes":     {"AU", "CA", "GB", "NZ", "US", "DK", "FR", "NL", "NO"},
	"fourteen_eyes": {"AU", "CA", "GB", "NZ", "US", "DK", "FR", "NL", "NO", "BE", "DE", "ES", "IT", "SE"},
}

// Groups returns the names of the built-in country groups, sorted, without
// the leading "@".
func Groups() []string {
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// GroupMembers returns a copy of the ISO codes of a built-in group, named
// with or without its "@".
func GroupMembers(name string) ([]string, bool) {
	members, ok := groups[strings.TrimPrefix(strings.ToLower(name), "@")]
	return slices.Clone(members), ok
}

// groupList lists the groups for error messages, as they are written.
func groupList() string {
	names := Groups()
	for i := range names {
		names[i] = "@" + names[i]
	}
	return strings.Join(names, ", ")
}
