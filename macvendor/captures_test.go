package macvendor

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/capture/pcapfile"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
)

// TestRealCaptures groups the real captures of ../shared/captures by device
// with Debian's registries (both must be there: JURISMON_CAPTURES_DIR names
// the folder). Every universally administered MAC in them is registered, so
// each such device must have a vendor; known devices must have theirs; and
// the device rows must hold every byte the location rows do.
func TestRealCaptures(t *testing.T) {
	dir := os.Getenv("JURISMON_CAPTURES_DIR")
	if dir == "" {
		t.Skip("JURISMON_CAPTURES_DIR is not set (e.g. JURISMON_CAPTURES_DIR=../../shared/captures)")
	}
	src, err := Open(DefaultDir, nil)
	if err != nil {
		t.Skipf("Debian's ieee-data is needed: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*.pcap*"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	known := map[string]string{ // MAC → vendor, as the IEEE registers them
		"00:15:17:a3:d1:10": "Intel Corporate",        // mercury_emix.pcap
		"e0:91:f5:73:8c:c2": "NETGEAR",                // mercury_emix.pcap
		"34:e6:d7:02:1b:27": "Dell Inc.",              // ndpi_sites.pcapng
		"08:00:27:e6:e5:59": "PCS Systemtechnik GmbH", // ndpi_gnutella.pcap (VirtualBox)
	}
	seen := map[string]bool{}
	for _, f := range files {
		byDevice := accountFile(t, f, src, flow.ByDevice)
		byLocation := accountFile(t, f, src, flow.ByLocation)
		var devBytes, locBytes uint64
		for _, g := range byDevice {
			k := &g.Key
			devBytes += g.Bytes[0].Load() + g.Bytes[1].Load()
			if !k.HasMAC {
				continue
			}
			mac := net.HardwareAddr(k.MAC[:]).String()
			if !k.DevicePrivate && k.Vendor == "" {
				t.Errorf("%s: device %s has no vendor", filepath.Base(f), mac)
			}
			if k.DevicePrivate && k.Vendor != "" {
				t.Errorf("%s: randomised %s has vendor %q", filepath.Base(f), mac, k.Vendor)
			}
			if want, ok := known[mac]; ok {
				seen[mac] = true
				if k.Vendor != want {
					t.Errorf("%s: %s is %q, want %q", filepath.Base(f), mac, k.Vendor, want)
				}
			}
		}
		for _, g := range byLocation {
			locBytes += g.Bytes[0].Load() + g.Bytes[1].Load()
		}
		if devBytes != locBytes {
			t.Errorf("%s: %d bytes by device, %d by location", filepath.Base(f), devBytes, locBytes)
		}
	}
	for mac := range known {
		if !seen[mac] {
			t.Errorf("device %s not found in the captures", mac)
		}
	}
}

func accountFile(t *testing.T, path string, src *Source, by flow.Grouping) []*flow.Aggregate {
	t.Helper()
	res, err := geo.NewResolver(geo.Options{SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	env := flow.NewEnv(res, nil, false)
	env.Enrichers = append(env.Enrichers, Enricher{Source: src})
	cfg := flow.DefaultConfig()
	cfg.Grouping = by
	w := flow.NewWorker(flow.NewAccountant(env, cfg), true)
	fs, err := pcapfile.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var fr capture.Frame
	for {
		err := fs.Next(&fr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		w.Handle(&fr)
	}
	w.Flush()
	return w.Acct.Aggregates()
}
