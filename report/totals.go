package report

import (
	"cmp"
	"slices"
	"time"
)

// Total is the traffic of the rows that share one key (a country, an AS or
// a jurisdiction), for the report's summary tables and the live overview.
type Total struct {
	Key          string    `json:"key"`                    // the country code, "AS<n>" or the jurisdiction name
	Country      string    `json:"country,omitempty"`      // of the AS, when grouping by AS and it has one country
	ASN          uint32    `json:"asn,omitempty"`          // when grouping by AS
	ASOrg        string    `json:"as_org,omitempty"`       // when grouping by AS
	Jurisdiction string    `json:"jurisdiction,omitempty"` // the flagged jurisdiction of any of the rows
	BytesTo      uint64    `json:"bytes_to"`
	BytesFrom    uint64    `json:"bytes_from"`
	PacketsTo    uint64    `json:"packets_to"`
	PacketsFrom  uint64    `json:"packets_from"`
	Flows        uint64    `json:"flows"`
	LastSeen     time.Time `json:"last_seen,omitzero"` // of flagged traffic only
}

// Bytes is the total's traffic in both directions.
func (t *Total) Bytes() uint64 { return t.BytesTo + t.BytesFrom }

func (t *Total) add(r *Row) {
	t.BytesTo += r.BytesTo
	t.BytesFrom += r.BytesFrom
	t.PacketsTo += r.PacketsTo
	t.PacketsFrom += r.PacketsFrom
	t.Flows += r.Flows
	if r.Jurisdiction != "" && t.Jurisdiction == "" {
		t.Jurisdiction = r.Jurisdiction
	}
	if r.LastSeen.After(t.LastSeen) {
		t.LastSeen = r.LastSeen
	}
}

// total sums rows by key, largest first; rows whose key is "" are left out.
func total(rows []Row, key func(*Row) string, first func(*Row, *Total)) []Total {
	idx := map[string]int{}
	var out []Total
	for i := range rows {
		r := &rows[i]
		k := key(r)
		if k == "" {
			continue
		}
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, Total{Key: k})
			if first != nil {
				first(r, &out[j])
			}
		}
		out[j].add(r)
	}
	slices.SortStableFunc(out, func(a, b Total) int {
		if c := cmp.Compare(b.Bytes(), a.Bytes()); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// ByCountry sums the public rows by geolocated country. Rows whose
// grouping has no country (--by asn) give none.
func ByCountry(rows []Row) []Total {
	return total(rows, func(r *Row) string {
		if r.AddressClass != "public" || r.Country == All {
			return ""
		}
		if r.Country == "" {
			return "unknown"
		}
		return r.Country
	}, nil)
}

// ByASN sums the public rows by autonomous system.
func ByASN(rows []Row) []Total {
	out := total(rows, func(r *Row) string {
		if r.AddressClass != "public" || r.ASN == nil || r.Folded {
			return ""
		}
		return "AS" + u(uint64(*r.ASN))
	}, func(r *Row, t *Total) {
		t.ASN, t.ASOrg = *r.ASN, r.ASOrg
		if r.Country != All {
			t.Country = r.Country
		}
	})
	// An AS seen in several countries has no single one.
	countries := map[string]string{}
	for i := range rows {
		r := &rows[i]
		if r.ASN == nil || r.Folded || r.Country == All {
			continue
		}
		k := "AS" + u(uint64(*r.ASN))
		if c, ok := countries[k]; ok && c != r.Country {
			countries[k] = "several"
		} else if !ok {
			countries[k] = r.Country
		}
	}
	for i := range out {
		if countries[out[i].Key] == "several" {
			out[i].Country = "several"
		}
	}
	return out
}

// ByJurisdiction sums the flagged rows by jurisdiction.
func ByJurisdiction(rows []Row) []Total {
	return total(rows, func(r *Row) string { return r.Jurisdiction }, nil)
}
