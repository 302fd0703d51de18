package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jurismon/jurismon/geo/geotest"
	"github.com/jurismon/jurismon/ui"
)

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// TestLiveOverviewInBrowser runs the agent in the lab with the known
// traffic and a traced path, opens its overview in headless Chromium, and
// checks that the page shows what the APIs say: RU flagged on the map and
// in the tables, the same byte counts, the flagged flows and the path; that
// the page's requests stay on its origin and nothing logs an error.
func TestLiveOverviewInBrowser(t *testing.T) {
	l := newLab(t)
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium is not installed (apt-get install chromium); the browser tests need it")
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yml")
	if err := os.WriteFile(pol, []byte(labPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	agent := exec.Command("ip", "netns", "exec", l.a, binary, "run",
		"--interface", "jma0", "--web.listen-address", net.JoinHostPort(mgmtAgent, agentPort),
		"--geoip.country", geotest.CountryFile, "--geoip.asn", geotest.ASNFile, "--geoip.lookup-documentation",
		"--config", pol, "--events.interval", "0s", "--flow.idle-timeout", "2s",
		"--probe.target", "lab="+peerRUv4+"/icmp", "--location", "DE")
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		agent.Process.Kill()
		agent.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", stderr.String())
		}
	}()
	base := "http://" + net.JoinHostPort(mgmtAgent, agentPort)
	waitHTTP(t, base+"/-/ready", 15*time.Second)

	// The path is traced once at the start (the interval is 10 minutes):
	// wait for it, so that its probes are counted before the comparison.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var paths struct {
			Paths []struct {
				Reached bool `json:"reached"`
			} `json:"paths"`
		}
		getJSON(t, base+"/api/v1/paths", &paths)
		if len(paths.Paths) > 0 && paths.Paths[0].Reached {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no traced path after 20s: %+v", paths)
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.sendTraffic()

	// Wait until the flows have ended (flagged flows reported) and the
	// figures stopped changing.
	var o ui.Overview
	var last string
	deadline = time.Now().Add(30 * time.Second)
	for {
		time.Sleep(time.Second)
		var ev struct {
			Events []json.RawMessage `json:"events"`
		}
		getJSON(t, base+"/api/v1/flagged-flows", &ev)
		o = ui.Overview{}
		getJSON(t, base+"/api/v1/overview", &o)
		now := fmt.Sprint(o.Directions, o.Countries)
		if len(ev.Events) > 0 && now == last {
			break
		}
		last = now
		if time.Now().After(deadline) {
			t.Fatalf("the overview did not settle: %d events, %s", len(ev.Events), now)
		}
	}
	// The known traffic: RU is flagged and has at least the lab's bytes
	// (5 UDP, 2 SYN, 3 echoes in; 2 RSTs, 3 replies out) plus the probes.
	byCountry := map[string]uint64{}
	for _, c := range o.Countries {
		byCountry[c.Key] = c.Bytes()
		if (c.Key == "RU") != (c.Jurisdiction == "sanctioned") {
			t.Errorf("country %s: jurisdiction %q", c.Key, c.Jurisdiction)
		}
	}
	if ru := byCountry["RU"]; ru < 5*128+2*44+3*104+2*40+3*104 {
		t.Errorf("RU bytes %d, want the lab's traffic at least", ru)
	}
	if de := byCountry["DE"]; de != 4*248+64+60 {
		t.Errorf("DE bytes %d, want %d", de, 4*248+64+60)
	}

	var (
		flaggedMap, flaggedRow, hop bool
		countries                   []map[string]string
		directions                  map[string]string
		flaggedBytes                string
		flowRows, jurisdictionRows  int
		narrowOverflow              bool
		hopText                     string
		shot, full, phone           []byte
	)
	// The browser starts only now: its time limit is for the page alone.
	b := newBrowser(t)
	b.run(t,
		chromedp.Navigate(base+"/"),
		chromedp.WaitReady(`body[data-updated]`, chromedp.ByQuery),
		chromedp.Evaluate(`!!document.querySelector('#map-frame g.wm-flagged[data-cc="RU"][data-jurisdiction="sanctioned"] path[fill^="url("]')`, &flaggedMap),
		chromedp.Evaluate(`!!document.querySelector('#countries tr.flagged[data-country="RU"]')`, &flaggedRow),
		chromedp.Evaluate(`!!document.querySelector('#map-frame circle.wm-hop[data-cc="DE"] ~ circle.wm-hop[data-cc="RU"]')`, &hop),
		chromedp.Evaluate(`[...document.querySelectorAll('#countries tbody tr')].map(r => ({country: r.dataset.country, bytes: r.dataset.bytes}))`, &countries),
		chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll('[data-direction] dd')].map(d => [d.parentElement.dataset.direction, d.dataset.bytes]))`, &directions),
		chromedp.AttributeValue("#flagged-total dd", "data-bytes", &flaggedBytes, nil, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#flows tbody tr.flagged').length`, &flowRows),
		chromedp.Evaluate(`[...document.querySelectorAll('#paths li.flagged')].map(l => l.textContent).join("|")`, &hopText),
		chromedp.Evaluate(`document.querySelectorAll('#jurisdictions tbody tr.flagged[data-jurisdiction="sanctioned"]').length`, &jurisdictionRows),
		screenshot(&shot),
		chromedp.FullScreenshot(&full, 100), // quality 100 is PNG
		// A phone's width: nothing may stick out sideways.
		chromedp.EmulateViewport(390, 844),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &narrowOverflow),
		screenshot(&phone),
	)
	// Traffic may still trickle in (a late reply): compare the page with an
	// API snapshot that did not change while the page read its numbers.
	key := func(o *ui.Overview) string { return fmt.Sprint(o.Directions, o.Countries, o.FlaggedBytes) }
	for attempt := 0; ; attempt++ {
		var after ui.Overview
		getJSON(t, base+"/api/v1/overview", &after)
		if key(&after) == key(&o) {
			break
		}
		if attempt == 3 {
			t.Fatalf("the overview kept changing: %s", key(&after))
		}
		o = after
		b.run(t,
			chromedp.Reload(),
			chromedp.WaitReady(`body[data-updated]`, chromedp.ByQuery),
			chromedp.Evaluate(`[...document.querySelectorAll('#countries tbody tr')].map(r => ({country: r.dataset.country, bytes: r.dataset.bytes}))`, &countries),
			chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll('[data-direction] dd')].map(d => [d.parentElement.dataset.direction, d.dataset.bytes]))`, &directions),
			chromedp.AttributeValue("#flagged-total dd", "data-bytes", &flaggedBytes, nil, chromedp.ByQuery),
		)
	}
	for _, c := range o.Countries {
		byCountry[c.Key] = c.Bytes()
	}
	b.checkClean(t, base)
	artifact(t, "overview.png", shot)
	artifact(t, "overview-full.png", full)
	artifact(t, "overview-phone.png", phone)

	if !flaggedMap || !flaggedRow || jurisdictionRows != 1 {
		t.Errorf("RU is not marked flagged: map %v, country row %v, jurisdiction rows %d", flaggedMap, flaggedRow, jurisdictionRows)
	}
	if !hop {
		t.Error("the traced path from DE (--location) to its hop in RU is not drawn on the map")
	}
	if !strings.Contains(hopText, peerRUv4+" · RU AS64501 Example Telecom JSC") || !strings.Contains(hopText, "sanctioned") {
		t.Errorf("the traced path's flagged hop reads %q", hopText)
	}
	if flowRows == 0 {
		t.Error("no recent flagged flow is shown")
	}
	if narrowOverflow {
		t.Error("the page is wider than a phone's screen")
	}
	if want := strconv.FormatUint(o.FlaggedBytes, 10); flaggedBytes != want {
		t.Errorf("flagged bytes shown %s, API says %s", flaggedBytes, want)
	}
	for name, d := range o.Directions {
		if directions[name] != strconv.FormatUint(d.Bytes, 10) {
			t.Errorf("direction %s: shown %s, API says %d", name, directions[name], d.Bytes)
		}
	}
	if len(countries) == 0 {
		t.Error("no country row")
	}
	for _, c := range countries {
		if strconv.FormatUint(byCountry[c["country"]], 10) != c["bytes"] {
			t.Errorf("country %s: shown %s bytes, API says %d", c["country"], c["bytes"], byCountry[c["country"]])
		}
	}

	// The page is served with the policy that keeps it on its origin.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); got != ui.ContentSecurityPolicy || !strings.Contains(got, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", got)
	}
}
