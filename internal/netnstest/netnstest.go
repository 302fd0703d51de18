//go:build linux

package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Require skips tb unless this process can create network namespaces: it
// runs as root, has the ip command, and `ip netns add` works (it does not
// in some containers). It then waits until no other lab runs on the
// machine, and holds that until tb ends.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root to create network namespaces (run the tests as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("needs the ip command (apt-get install iproute2)")
	}
	name := fmt.Sprintf("jmnetns-chk%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Skipf("ip netns does not work here: %v: %s", err, out)
	}
	_ = exec.Command("ip", "netns", "del", name).Run()
	lock(tb)
}

// The labs of different packages (and of test processes run at once, as
// `go test ./...` does) name their root-namespace links and addresses
// alike: one lab at a time on the machine. A file lock serialises them
// across processes; within a process the tests that hold it nest.
var (
	lockMu   sync.Mutex
	lockFile *os.File
	lockRefs int
)

func lock(tb testing.TB) {
	tb.Helper()
	lockMu.Lock()
	defer lockMu.Unlock()
	if lockRefs == 0 {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "jurismon-netnstest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			tb.Fatalf("netnstest: %v", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			tb.Fatalf("netnstest: lock %s: %v", f.Name(), err)
		}
		lockFile = f
	}
	lockRefs++
	tb.Cleanup(func() {
		lockMu.Lock()
		defer lockMu.Unlock()
		if lockRefs--; lockRefs == 0 {
			lockFile.Close() // releases the lock
			lockFile = nil
		}
	})
}

// Add creates the namespace name and deletes it when tb ends.
func Add(tb testing.TB, name string) {
	tb.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
}

// Run runs fn on an OS thread that joined namespace ns and returns its
// error. Sockets keep the namespace they were made in, so fn may hand them
// out for use from any goroutine. The thread stays locked, so the runtime
// ends it with the goroutine instead of reusing it elsewhere.
func Run(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
