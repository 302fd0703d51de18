package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/report"
)

// TestReportInBrowser opens analyze's HTML report of a capture file in
// headless Chromium: the flagged country is marked on the map and in the
// tables, the numbers are the JSON form's, nothing but the file is loaded,
// no error is logged, and it prints.
func TestReportInBrowser(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	capFile := filepath.Join(dir, "capture.pcap")
	writeCapture(t, capFile, testTraffic)
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"analyze", "--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile,
		"--geoip.lookup-documentation", "--config", pol}
	html, errOut, code := jurismon(t, append(args, "--format", "html", capFile)...)
	if code != 0 {
		t.Fatalf("analyze --format html: exit %d: %s", code, errOut)
	}
	js, errOut, code := jurismon(t, append(args, "--format", "json", capFile)...)
	if code != 0 {
		t.Fatalf("analyze --format json: exit %d: %s", code, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	artifact(t, "report.html", []byte(html))

	origin := "file://" + file
	var (
		flaggedMap, flaggedRow, cleanMap bool
		flaggedBytes                     string
		countries                        []map[string]string
		sum                              string
		shot, pdf                        []byte
	)
	b.run(t,
		chromedp.Navigate(origin),
		chromedp.WaitVisible("svg.worldmap", chromedp.ByQuery),
		chromedp.Evaluate(`!!document.querySelector('svg.worldmap g.wm-flagged[data-cc="RU"][data-jurisdiction="sanctioned"]')`, &flaggedMap),
		chromedp.Evaluate(`!!document.querySelector('#countries tr.flagged[data-country="RU"]')`, &flaggedRow),
		chromedp.Evaluate(`!document.querySelector('svg.worldmap g.wm-flagged[data-cc="DE"]')`, &cleanMap),
		chromedp.AttributeValue("#flagged-bytes", "data-bytes", &flaggedBytes, nil, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#countries tbody tr')].map(r => ({country: r.dataset.country, bytes: r.dataset.bytes}))`, &countries),
		chromedp.Text("#policy-sha256", &sum, chromedp.ByQuery),
		screenshot(&shot),
		printPDF(&pdf),
	)
	b.checkClean(t, origin)
	artifact(t, "report.png", shot)
	artifact(t, "report.pdf", pdf)
	if !flaggedMap || !flaggedRow {
		t.Errorf("RU is not marked flagged: on the map %v, in the country table %v", flaggedMap, flaggedRow)
	}
	if !cleanMap {
		t.Error("DE is marked flagged on the map")
	}
	if want := strconv.FormatUint(rep.Summary.FlaggedBytes, 10); flaggedBytes != want || want == "0" {
		t.Errorf("flagged bytes shown %s, JSON says %s (must be > 0)", flaggedBytes, want)
	}
	want := map[string]string{}
	for _, c := range report.ByCountry(rep.Rows) {
		want[c.Key] = fmt.Sprint(c.Bytes())
	}
	if len(countries) != len(want) {
		t.Errorf("%d country rows, JSON has %d countries", len(countries), len(want))
	}
	for _, c := range countries {
		if want[c["country"]] != c["bytes"] {
			t.Errorf("country %s: %s bytes shown, JSON says %s", c["country"], c["bytes"], want[c["country"]])
		}
	}
	if rep.Summary.Policy == nil || sum != rep.Summary.Policy.SHA256 {
		t.Errorf("policy checksum shown %q, JSON has %+v", sum, rep.Summary.Policy)
	}
	if len(pdf) < 1000 || string(pdf[:5]) != "%PDF-" {
		t.Errorf("print to PDF gave %d bytes", len(pdf))
	}
}
