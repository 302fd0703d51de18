//go:build linux

package workload

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/internal/netnstest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/procfs"
)

// owner is a real process holding sockets: python3 with a TCP listener and
// a UDP socket on 127.0.0.1, which waits until its stdin closes.
type owner struct {
	cmd        *exec.Cmd
	tcp, udp   netip.AddrPort
	closeStdin func()
}

func startOwner(t *testing.T) *owner { return startOwnerIn(t, "", "127.0.0.1") }

// startOwnerIn starts the owner in network namespace ns ("" for this
// process's) with its sockets bound to addr.
func startOwnerIn(t *testing.T, ns, addr string) *owner {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3")
	}
	args := []string{py, "-c", `
import socket, sys
a = sys.argv[1]
t = socket.socket(); t.bind((a, 0)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((a, 0))
print(t.getsockname()[1], u.getsockname()[1], flush=True)
sys.stdin.read()
`, addr}
	if ns != "" {
		// ip netns exec execs python3 in place: the pid stays the same.
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o := &owner{cmd: cmd, closeStdin: func() { _ = stdin.Close() }}
	t.Cleanup(func() {
		o.closeStdin()
		if err := cmd.Wait(); err != nil {
			t.Errorf("python3: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("python3 said nothing: %v", err)
	}
	var tp, up uint16
	if _, err := fmt.Sscan(line, &tp, &up); err != nil {
		t.Fatalf("python3 said %q: %v", line, err)
	}
	a := netip.MustParseAddr(addr)
	o.tcp, o.udp = netip.AddrPortFrom(a, tp), netip.AddrPortFrom(a, up)
	return o
}

func TestLookup(t *testing.T) {
	o := startOwner(t)
	r, err := NewResolver(Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := int32(o.cmd.Process.Pid)
	// A client connection from this test process to the listener.
	conn, err := net.Dial("tcp", o.tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	anyRemote := netip.AddrPort{}
	tests := []struct {
		name          string
		proto         uint8
		local, remote netip.AddrPort
		pid           int32
		err           error
	}{
		{"listener", protoTCP, o.tcp, anyRemote, pid, nil},
		// Not yet accepted, the server side has no inode of its own: the listener's owner.
		{"server side of a connection", protoTCP, o.tcp, client, pid, nil},
		{"client side of a connection", protoTCP, client, o.tcp, int32(os.Getpid()), nil},
		{"udp", protoUDP, o.udp, netip.MustParseAddrPort("127.0.0.1:9"), pid, nil},
		{"no such socket", protoUDP, netip.AddrPortFrom(o.udp.Addr(), 1), anyRemote, 0, ErrNoSocket},
		{"v4-mapped local address", protoTCP, netip.AddrPortFrom(netip.AddrFrom16(o.tcp.Addr().As16()), o.tcp.Port()), anyRemote, pid, nil},
		{"other protocol", 1, o.tcp, anyRemote, 0, ErrNoSocket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := r.Lookup(tt.proto, tt.local, tt.remote)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if p.PID != tt.pid {
				t.Errorf("pid %d, want %d", p.PID, tt.pid)
			}
			if tt.pid == pid && (!strings.HasPrefix(p.Comm, "python") || !strings.Contains(filepath.Base(p.Exe), "python")) {
				t.Errorf("comm %q exe %q, want python", p.Comm, p.Exe)
			}
			if tt.pid != 0 && (p.UID != int32(os.Getuid()) || p.User == "") {
				t.Errorf("uid %d user %q, want %d", p.UID, p.User, os.Getuid())
			}
		})
	}
	// Asked again: from the cache.
	before := r.lookups[resultCached].Load()
	if p, err := r.Lookup(protoTCP, o.tcp, anyRemote); err != nil || p.PID != pid {
		t.Errorf("again: %+v, %v", p, err)
	}
	if r.lookups[resultCached].Load() != before+1 {
		t.Error("second lookup not answered from the cache")
	}
	// The enricher fills the flow's process.
	f := enrich.Facts{Local: o.udp, Remote: netip.MustParseAddrPort("127.0.0.1:9"), Proto: protoUDP}
	r.Enrich(&f, nil)
	if f.Process.PID != pid || f.Process.Comm == "" {
		t.Errorf("enriched %+v", f.Process)
	}
}

// TestOtherNamespace finds the owner of sockets in another network
// namespace (as a pod's are, seen from a host-network agent): python3 in a
// namespace made by the test, bound to a documentation address there.
func TestOtherNamespace(t *testing.T) {
	netnstest.Require(t)
	ns := fmt.Sprintf("jmwl-%d", os.Getpid())
	netnstest.Add(t, ns)
	for _, c := range [][]string{
		{"ip", "netns", "exec", ns, "ip", "link", "add", "jmwl0", "type", "veth", "peer", "name", "jmwl1"},
		{"ip", "netns", "exec", ns, "ip", "addr", "add", "192.0.2.77/32", "dev", "jmwl0"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "jmwl0", "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	o := startOwnerIn(t, ns, "192.0.2.77")
	r, err := NewResolver(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		proto         uint8
		local, remote netip.AddrPort
	}{
		{protoTCP, o.tcp, netip.MustParseAddrPort("198.51.100.9:40000")},
		{protoUDP, o.udp, netip.AddrPort{}},
	} {
		p, err := r.Lookup(tc.proto, tc.local, tc.remote)
		if err != nil {
			t.Fatalf("%d %v: %v", tc.proto, tc.local, err)
		}
		if p.PID != int32(o.cmd.Process.Pid) || !strings.HasPrefix(p.Comm, "python") {
			t.Errorf("%d %v: pid %d comm %q, want %d python", tc.proto, tc.local, p.PID, p.Comm, o.cmd.Process.Pid)
		}
	}
}

func TestCacheBound(t *testing.T) {
	r, err := NewResolver(Options{CacheSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		_, err := r.Lookup(protoUDP, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(1000+i)), netip.AddrPort{})
		if !errors.Is(err, ErrNoSocket) {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if r.lru.Len() != 8 || len(r.byKey) != 8 || r.evictions.Load() != 12 {
		t.Errorf("cache %d/%d entries, %d evictions; want 8 and 12", r.lru.Len(), len(r.byKey), r.evictions.Load())
	}
}

// TestContainerCgroup makes a real cgroup v2 named as containerd's scope
// under a kubepods slice, moves the socket owner into it, and expects the
// container id and pod UID back from the socket.
func TestContainerCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a cgroup")
	}
	root := cgroup2Mount(t)
	const cid = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"
	const pod = "7d0a9b3e-2c41-4f6a-9e8d-5b1c2a3f4e60"
	rel := filepath.Join("kubepods.slice", "kubepods-besteffort.slice",
		"kubepods-besteffort-pod"+strings.ReplaceAll(pod, "-", "_")+".slice", "cri-containerd-"+cid+".scope")
	dir := filepath.Join(root, fmt.Sprintf("jmtest-%d", os.Getpid()), rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cgroup v2 at %s is not writable: %v", root, err)
	}
	t.Cleanup(func() {
		// The owner, started after, has exited by now (cleanups run
		// last-in first-out); remove the cgroups leaf first.
		for d := dir; d != root; d = filepath.Dir(d) {
			if err := os.Remove(d); err != nil {
				t.Errorf("rmdir %s: %v", d, err)
			}
		}
	})
	o := startOwner(t)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(o.cmd.Process.Pid)), 0); err != nil {
		t.Skipf("cannot move a process into %s: %v", dir, err)
	}
	r, err := NewResolver(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Lookup(protoTCP, o.tcp, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	want := Container{ID: cid, Runtime: RuntimeContainerd, PodUID: pod}
	if p.Container != want {
		t.Errorf("container %+v, want %+v", p.Container, want)
	}
}

// cgroup2Mount returns where the unified cgroup hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid system).
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	mounts, err := procfs.GetMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.FSType == "cgroup2" {
			return m.MountPoint
		}
	}
	t.Skip("no cgroup v2 hierarchy mounted")
	return ""
}

func TestCollector(t *testing.T) {
	r, err := NewResolver(Options{CacheSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Misses: the first scans (the other namespaces may hold the socket),
	// the second is cached, the third comes within the rescan interval.
	for _, port := range []uint16{1, 1, 2} {
		_, _ = r.Lookup(protoUDP, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), port), netip.AddrPort{})
	}
	want := `
# HELP jurismon_workload_proc_scans_total Scans of every process's file descriptors for socket inodes, and of the other network namespaces' socket tables.
# TYPE jurismon_workload_proc_scans_total counter
jurismon_workload_proc_scans_total 1
# HELP jurismon_workload_socket_cache_evictions_total Socket owner answers dropped from the full cache before their TTL.
# TYPE jurismon_workload_socket_cache_evictions_total counter
jurismon_workload_socket_cache_evictions_total 1
# HELP jurismon_workload_socket_lookups_total Socket owner lookups, by result: found, cached (answered from the cache, failures included), no_socket, no_owner, error.
# TYPE jurismon_workload_socket_lookups_total counter
jurismon_workload_socket_lookups_total{result="cached"} 1
jurismon_workload_socket_lookups_total{result="error"} 0
jurismon_workload_socket_lookups_total{result="found"} 0
jurismon_workload_socket_lookups_total{result="no_owner"} 0
jurismon_workload_socket_lookups_total{result="no_socket"} 2
`
	if err := testutil.CollectAndCompare(r.Collector(), strings.NewReader(want),
		"jurismon_workload_proc_scans_total", "jurismon_workload_socket_cache_evictions_total", "jurismon_workload_socket_lookups_total"); err != nil {
		t.Error(err)
	}
}
