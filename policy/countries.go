package policy

import "strings"

// isoCountries is the ISO 3166-1 alpha-2 list: the 249 officially assigned
// codes (ISO 3166 Maintenance Agency; identical to tzdata's iso3166.tab and
// Debian's iso-codes), plus XK, the user-assigned code for Kosovo that the
// European Commission and MaxMind's databases use, so that a policy can name
// every country a GeoIP2 database may return.
const isoCountries = `
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
XK
YE YT
ZA ZM ZW
`

// misnamedCountries are codes people write for a country whose ISO code is
// different: reserved or locally used codes that a GeoIP database never
// returns, so accepting them would silently match nothing.
var misnamedCountries = map[string]string{
	"UK": `the United Kingdom is "GB"`,
	"EL": `Greece is "GR"`,
	"EU": `for the European Union write "@eu"`,
}

// countrySet holds two-letter codes as bits: a lookup is an index
// computation and a mask, with no hashing and no allocation.
type countrySet [(26*26 + 63) / 64]uint64

// countryIndex returns the bit of a two-letter upper-case code, or false for
// anything else (including geo.Unknown).
func countryIndex(code string) (int, bool) {
	if len(code) != 2 {
		return 0, false
	}
	a, b := code[0]-'A', code[1]-'A'
	if a >= 26 || b >= 26 {
		return 0, false
	}
	return int(a)*26 + int(b), true
}

func (s *countrySet) add(i int)      { s[i/64] |= 1 << (i % 64) }
func (s *countrySet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

func (s *countrySet) empty() bool {
	for _, w := range s {
		if w != 0 {
			return false
		}
	}
	return true
}

// validCountries is isoCountries as a set.
var validCountries = func() countrySet {
	var s countrySet
	for _, c := range strings.Fields(isoCountries) {
		i, ok := countryIndex(c)
		if !ok {
			panic("policy: bad code in isoCountries: " + c)
		}
		s.add(i)
	}
	return s
}()

// isCountry reports whether code (upper case) is an ISO 3166-1 alpha-2 code.
func isCountry(code string) bool {
	i, ok := countryIndex(code)
	return ok && validCountries.has(i)
}
