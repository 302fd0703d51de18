package macvendor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSourceReloadKeepsLastGood(t *testing.T) {
	dir := writeRegistry(t, map[string]string{"oui.csv": testFiles["oui.csv"]})
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	huawei := mac(t, "30:fb:b8:01:02:03")
	if v, _ := s.Lookup(huawei); v.Country != "CN" {
		t.Fatalf("before reload: %+v", v)
	}
	// A corrupt file (a download that returned an error page) is refused.
	if err := os.WriteFile(filepath.Join(dir, "oui.csv"), []byte("<html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("reload of a corrupt registry succeeded")
	}
	if v, _ := s.Lookup(huawei); v.Country != "CN" {
		t.Fatalf("after a failed reload: %+v, want the last good registry", v)
	}
	// A good update is taken.
	if err := os.WriteFile(filepath.Join(dir, "oui.csv"), []byte(header+"MA-L,30FBB8,Renamed Ltd,Somewhere  JP 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Lookup(huawei); v.Name != "Renamed Ltd" || v.Country != "JP" {
		t.Fatalf("after reload: %+v", v)
	}
	st, err := os.Stat(filepath.Join(dir, "oui.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP jurismon_vendor_registry_assignments Assignments read from each IEEE MAC registry file.
# TYPE jurismon_vendor_registry_assignments gauge
jurismon_vendor_registry_assignments{registry="MA-L"} 1
# HELP jurismon_vendor_registry_info IEEE MAC registry files in use: 1 per file, with its registry, path and modification time (Unix seconds).
# TYPE jurismon_vendor_registry_info gauge
jurismon_vendor_registry_info{modified="%d",path="%s",registry="MA-L"} 1
# HELP jurismon_vendor_registry_load_failures_total Reloads of the IEEE MAC registry that failed (the last good one stayed in use).
# TYPE jurismon_vendor_registry_load_failures_total counter
jurismon_vendor_registry_load_failures_total 1
# HELP jurismon_vendor_registry_loads_total Successful loads of the IEEE MAC registry.
# TYPE jurismon_vendor_registry_loads_total counter
jurismon_vendor_registry_loads_total 2
# HELP jurismon_vendor_registry_malformed_lines Lines of each IEEE MAC registry file that could not be read and were skipped.
# TYPE jurismon_vendor_registry_malformed_lines gauge
jurismon_vendor_registry_malformed_lines{registry="MA-L"} 0
`, st.ModTime().Unix(), filepath.Join(dir, "oui.csv"))
	if err := testutil.CollectAndCompare(s, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if got := s.Paths(); len(got) != 1 || got[0] != filepath.Join(dir, "oui.csv") {
		t.Errorf("Paths = %v", got)
	}
}
