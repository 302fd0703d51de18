package geo

import (
	"encoding/json"
	"net/netip"
	"testing"
)

func TestLocationJSON(t *testing.T) {
	tests := []struct {
		name string
		loc  Location
		want string
	}{
		{"public", Location{Class: ClassPublic, Country: "DE", RegisteredCountry: "FR", Continent: "EU", ASN: 64501, ASOrg: "Example", Network: netip.MustParsePrefix("192.0.2.0/25")},
			`{"address_class":"public","country":"DE","registered_country":"FR","continent":"EU","asn":64501,"as_org":"Example","network":"192.0.2.0/25"}`},
		{"not found", Location{Class: ClassPublic, Country: Unknown, RegisteredCountry: Unknown, Continent: Unknown, ASOrg: Unknown},
			`{"address_class":"public","country":"unknown","registered_country":"unknown","continent":"unknown","asn":0,"as_org":"unknown","network":""}`},
		{"special-purpose", Location{Class: ClassPrivate, Country: "ignored"},
			`{"address_class":"private","country":"","registered_country":"","continent":"","asn":0,"as_org":"","network":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(&tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			var back Location
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(back)
			if string(again) != tt.want {
				t.Errorf("round trip: %s", again)
			}
		})
	}
	var l Location
	for _, bad := range []string{`{"address_class":"galactic"}`, `{"address_class":"public","network":"banana"}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &l); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
