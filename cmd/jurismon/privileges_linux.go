package main

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The capabilities the agent keeps once capture runs: CAP_NET_RAW to open
// AF_PACKET sockets (again, when an interface comes back) and CAP_NET_ADMIN
// for promiscuous mode and fanout. Everything else root has is dropped.
const keptCaps = 1<<unix.CAP_NET_RAW | 1<<unix.CAP_NET_ADMIN

// attributionCaps are kept as well while process attribution is on: reading
// another process's /proc/PID/fd needs CAP_SYS_PTRACE (a process with
// capabilities the agent lacks is out of reach even under the same uid),
// and CAP_DAC_READ_SEARCH reads other users' descriptors' directories.
const attributionCaps = 1<<unix.CAP_SYS_PTRACE | 1<<unix.CAP_DAC_READ_SEARCH

func capabilities() (effective, permitted uint64, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, 0, err
	}
	effective = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	permitted = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	return effective, permitted, nil
}

func warnIfRoot(logger *slog.Logger) {
	eff, _, err := capabilities()
	if err == nil && os.Geteuid() == 0 && eff&(1<<unix.CAP_SYS_ADMIN) != 0 {
		logger.Warn("running as full root: jurismon only needs CAP_NET_RAW and CAP_NET_ADMIN (see the systemd unit's AmbientCapabilities=); it drops the rest once capture has started")
	}
}

// dropCapabilities reduces every thread's capabilities to kept. Linux
// keeps capabilities per thread, so this goes through AllThreadsSyscall,
// which works only in binaries built without cgo (the release build).
func dropCapabilities(kept uint64) error {
	eff, perm, err := capabilities()
	if err != nil {
		return err
	}
	if perm&^kept == 0 {
		return nil // nothing to drop
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	keep := func(v uint64) (lo, hi uint32) { v &= kept; return uint32(v), uint32(v >> 32) }
	data[0].Effective, data[1].Effective = keep(eff)
	data[0].Permitted, data[1].Permitted = keep(perm)
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// dropPrivilegesWhenStarted waits for the first sockets, then drops.
func (a *agent) dropPrivilegesWhenStarted(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !a.live.Started() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	kept, names := uint64(keptCaps), "CAP_NET_RAW and CAP_NET_ADMIN"
	if a.attr != nil && a.attr.procs != nil {
		kept, names = kept|attributionCaps, "CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (process attribution)"
	}
	if err := dropCapabilities(kept); err != nil {
		a.logger.Warn("could not drop capabilities (a cgo build cannot; use the systemd unit's capability settings)", "err", err)
		return
	}
	a.logger.Debug("capabilities reduced to " + names)
}
