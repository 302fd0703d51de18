package latency

import (
	"testing"
	"time"
)

func TestMinRTT(t *testing.T) {
	paris := LatLon{48.86, 2.35}
	for _, c := range []struct {
		country  string
		from     LatLon
		min, max time.Duration // bounds from known distances
	}{
		{"FR", paris, 0, 0}, // inside
		{"DE", paris, 2 * time.Millisecond, 5 * time.Millisecond}, // border ~280 km: 2.8 ms
		// Paris to the nearest US coast (Maine, ~5,300 km): ≈53 ms.
		{"US", paris, 45 * time.Millisecond, 56 * time.Millisecond},
		// Paris to northern Australia (~13,000 km): ≈130 ms.
		{"AU", paris, 115 * time.Millisecond, 140 * time.Millisecond},
		// Sydney to New Zealand (~1,700 km to the nearest coast).
		{"NZ", LatLon{-33.87, 151.21}, 14 * time.Millisecond, 22 * time.Millisecond},
		// Across the antimeridian: Fiji from Samoa (~1,100 km).
		{"FJ", LatLon{-13.83, -171.76}, 5 * time.Millisecond, 14 * time.Millisecond},
		{"sg", LatLon{1.35, 103.82}, 0, 0}, // from zone.tab, lower case accepted
	} {
		got, ok := MinRTT(c.from, c.country)
		if !ok || got < c.min || got > c.max {
			t.Errorf("MinRTT(%v, %s) = %v, %v; want within [%v, %v]", c.from, c.country, got, ok, c.min, c.max)
		}
	}
	if _, ok := MinRTT(paris, "ZZ"); ok {
		t.Error("unknown country reported as known")
	}
}

func TestDistanceToBoxIsLowerBound(t *testing.T) {
	// Brute force: the distance to a dense grid of points in the box is
	// never below the computed nearest distance.
	for _, c := range []struct {
		p LatLon
		b geoBox
	}{
		{LatLon{50, 0}, geoBox{40, 20, 45, 30}},
		{LatLon{70, -10}, geoBox{60, 80, 75, 120}},
		{LatLon{-30, 170}, geoBox{-20, -180, -10, -170}},
		{LatLon{10, 10}, geoBox{-5, 0, 5, 20}},
	} {
		d := distanceToBox(c.p, c.b)
		best := 10.0
		for i := 0; i <= 200; i++ {
			for j := 0; j <= 200; j++ {
				lat := c.b.MinLat + (c.b.MaxLat-c.b.MinLat)*float64(i)/200
				lon := c.b.MinLon + (c.b.MaxLon-c.b.MinLon)*float64(j)/200
				best = min(best, centralAngle(rad(c.p.Lat), rad(c.p.Lon), rad(lat), rad(lon)))
			}
		}
		if d > best+1e-9 || best-d > 0.002 {
			t.Errorf("%v to %v: computed %.5f rad, grid %.5f rad", c.p, c.b, d, best)
		}
	}
}

func TestMinRTTBetween(t *testing.T) {
	if got, ok := MinRTTBetween("FR", "DE"); !ok || got != 0 {
		t.Errorf("neighbours FR-DE: %v %v, want 0", got, ok)
	}
	got, ok := MinRTTBetween("PT", "JP")
	// Lisbon's box to Japan's nearest island: well over 9,000 km.
	if !ok || got < 80*time.Millisecond || got > 120*time.Millisecond {
		t.Errorf("PT-JP: %v %v", got, ok)
	}
}

func TestParseOrigin(t *testing.T) {
	for _, c := range []struct {
		in      string
		wantErr bool
		country string
	}{
		{"48.86,2.35", false, ""},
		{" 48.86 , 2.35 ", false, ""},
		{"de", false, "DE"},
		{"", false, ""},
		{"91,0", true, ""},
		{"abc,1", true, ""},
		{"Atlantis", true, ""},
	} {
		o, err := ParseOrigin(c.in)
		if (err != nil) != c.wantErr || (err == nil && o.Country != c.country) {
			t.Errorf("ParseOrigin(%q) = %+v, %v", c.in, o, err)
		}
	}
}
