package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// neededCaps returns the capabilities the agent keeps once capture runs:
// CAP_NET_RAW to open AF_PACKET sockets again when an interface comes back
// (and the prober's raw sockets), CAP_NET_ADMIN only for promiscuous mode.
// Everything else is dropped, from the bounding set too.
func neededCaps(promiscuous bool) uint64 {
	caps := uint64(1) << unix.CAP_NET_RAW
	if promiscuous {
		caps |= 1 << unix.CAP_NET_ADMIN
	}
	return caps
}

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
		logger.Warn("running as full root: jurismon only needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); once capture has started it switches to --run-as (nobody by default) and drops the rest")
	}
}

// runAs is who the agent becomes once capture has started.
type runAs struct {
	switchUser bool // false: keep the uid it was started with
	name       string
	uid, gid   int
	groups     []int
}

// resolveRunAs looks up --run-as. Empty means nobody when started as root
// and no switch otherwise; "root" or "0" keeps root (capabilities are still
// dropped). It runs before anything is opened, so a typo fails at once.
func resolveRunAs(name string) (runAs, error) {
	root := os.Geteuid() == 0
	if name == "" {
		if !root {
			return runAs{}, nil
		}
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return runAs{}, fmt.Errorf("--run-as %s: no such user", name)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == os.Geteuid() {
		return runAs{}, nil
	}
	if !root {
		return runAs{}, fmt.Errorf("--run-as %s: switching user needs the agent to start as root", name)
	}
	r := runAs{switchUser: true, name: u.Username, uid: uid, gid: gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil {
				r.groups = append(r.groups, g)
			}
		}
	}
	if len(r.groups) == 0 {
		r.groups = []int{gid}
	}
	return r, nil
}

// allThreads runs a per-thread system call (prctl, capset) on every thread
// of the process: Linux keeps credentials per thread, and a thread left out
// would keep what the others dropped. syscall.AllThreadsSyscall works only
// in binaries built without cgo (the release build); cgo builds get ENOTSUP.
func allThreads(trap, a1, a2, a3 uintptr) error {
	if _, _, errno := syscall.AllThreadsSyscall(trap, a1, a2, a3); errno != 0 {
		return errno
	}
	return nil
}

func prctl(option, arg uintptr) error {
	return allThreads(unix.SYS_PRCTL, option, arg, 0)
}

// dropPrivileges leaves the process with keep and nothing else, for good:
// no_new_privs (an exec cannot gain anything back, setuid bits and file
// capabilities included), the bounding set reduced to keep, no inheritable
// or ambient capabilities (a child process gets none), and, with
// to.switchUser, the uid and gids of that user (files root owns become
// read-only or unreadable). It returns the steps it could not take that do
// not weaken the rest (the bounding set without CAP_SETPCAP).
func dropPrivileges(to runAs, keep uint64) (skipped []string, err error) {
	if err := prctl(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return nil, fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	_, perm, err := capabilities()
	if err != nil {
		return nil, err
	}
	// The bounding set first, while CAP_SETPCAP is still held.
	if perm&(1<<unix.CAP_SETPCAP) != 0 {
		last, err := lastCap()
		if err != nil {
			return nil, err
		}
		for c := 0; c <= last; c++ {
			if keep&(1<<c) != 0 {
				continue
			}
			if err := prctl(unix.PR_CAPBSET_DROP, uintptr(c)); err != nil && !errors.Is(err, unix.EINVAL) {
				return nil, fmt.Errorf("PR_CAPBSET_DROP %d: %w", c, err)
			}
		}
	} else {
		skipped = append(skipped, "bounding set (needs CAP_SETPCAP; no_new_privs keeps exec from using it)")
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil {
		return nil, fmt.Errorf("clearing the ambient set: %w", err)
	}
	if to.switchUser {
		// Keep the permitted set across the uid change (the effective one
		// is cleared and restored below).
		if err := prctl(unix.PR_SET_KEEPCAPS, 1); err != nil {
			return nil, fmt.Errorf("PR_SET_KEEPCAPS: %w", err)
		}
		// Since Go 1.16 these apply to every thread.
		if err := syscall.Setgroups(to.groups); err != nil {
			return nil, fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(to.gid); err != nil {
			return nil, fmt.Errorf("setgid %d: %w", to.gid, err)
		}
		if err := syscall.Setuid(to.uid); err != nil {
			return nil, fmt.Errorf("setuid %d: %w", to.uid, err)
		}
		if err := prctl(unix.PR_SET_KEEPCAPS, 0); err != nil {
			return nil, fmt.Errorf("PR_SET_KEEPCAPS: %w", err)
		}
		// A uid change makes the process non-dumpable, which hands
		// /proc/self to root: the process collector could no longer read
		// its own file descriptors. Dumpable again, only processes with
		// at least our capabilities can trace it.
		if err := prctl(unix.PR_SET_DUMPABLE, 1); err != nil {
			return nil, fmt.Errorf("PR_SET_DUMPABLE: %w", err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	kept := perm & keep
	data[0].Effective, data[1].Effective = uint32(kept), uint32(kept>>32)
	data[0].Permitted, data[1].Permitted = uint32(kept), uint32(kept>>32)
	// Inheritable stays zero.
	if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return nil, fmt.Errorf("capset: %w", err)
	}
	return skipped, nil
}

func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// handOver gives the files the agent keeps writing after the switch to the
// user it becomes: the event log, which rotation renames (in a sticky
// directory such as /tmp only the owner may). The directory must be
// writable by that user for rotation to create the next file; it is
// checked, and a warning says what to fix.
func handOver(to runAs, eventsPath string, reread []string, logger *slog.Logger) {
	if !to.switchUser {
		return
	}
	// Files re-read later (the policy, the databases, the web config and
	// its certificates, which exporter-toolkit reads for every connection)
	// must be readable by the user too.
	for _, f := range reread {
		if f == "" {
			continue
		}
		if !accessibleBy(f, to, 0o4) {
			logger.Warn("a file the agent re-reads is not readable by the --run-as user: reloads (or, for the web config, TLS connections) will fail", "file", f, "user", to.name)
		}
	}
	if eventsPath == "" || eventsPath == "-" {
		return
	}
	if err := os.Chown(eventsPath, to.uid, to.gid); err != nil && !errors.Is(err, os.ErrNotExist) {
		logger.Warn("cannot hand the event file over to the --run-as user; rotation will fail", "file", eventsPath, "user", to.name, "err", err)
	}
	dir := eventsPath[:strings.LastIndexByte("/"+eventsPath, '/')]
	if dir == "" {
		dir = "."
	}
	if !accessibleBy(dir, to, 0o3) {
		logger.Warn("the event file's directory is not writable by the --run-as user: rotation will fail (chown it, or use --events.file in a directory it owns)", "dir", dir, "user", to.name)
	}
}

// accessibleBy reports whether to has the access bits want (0o4 read, 0o3
// write and search) on path by its mode bits. The directories above are
// not checked.
func accessibleBy(path string, to runAs, want os.FileMode) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	m := fi.Mode().Perm()
	switch {
	case int(st.Uid) == to.uid:
		return m>>6&want == want
	case containsGid(to.groups, int(st.Gid)) || int(st.Gid) == to.gid:
		return m>>3&want == want
	}
	return m&want == want
}

func containsGid(gs []int, g int) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
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
	to := a.runAs
	handOver(to, a.cmd.events.Path, []string{a.cmd.config, *a.cmd.web.WebConfigFile}, a.logger)
	skipped, err := dropPrivileges(to, neededCaps(a.cmd.live.Promiscuous))
	if err != nil {
		a.logger.Error("could not drop privileges (a cgo build cannot; use the systemd unit's User= and capability settings)", "err", err)
		return
	}
	eff, _, _ := capabilities()
	a.logger.Info("privileges dropped", "uid", os.Getuid(), "gid", os.Getgid(), "capabilities", capNames(eff), "no_new_privs", true, "skipped", skipped)
}

func capNames(set uint64) string {
	var out []string
	for _, c := range []struct {
		bit  int
		name string
	}{{unix.CAP_NET_RAW, "CAP_NET_RAW"}, {unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"}} {
		if set&(1<<c.bit) != 0 {
			out = append(out, c.name)
			set &^= 1 << c.bit
		}
	}
	if set != 0 {
		out = append(out, fmt.Sprintf("%#x", set))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}
