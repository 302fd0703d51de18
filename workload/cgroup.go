// Package workload tells which process owns a local socket, and which
// container and Kubernetes pod that process runs in, from /proc and the
// process's cgroup path.
package workload

import (
	"strings"

	"github.com/prometheus/procfs"
)

// Container runtimes as Container.Runtime names them.
const (
	RuntimeDocker     = "docker"
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimePodman     = "podman"
)

// Container is what a cgroup path tells of the container a process runs in.
type Container struct {
	// ID is the container id: 64 lowercase hex digits.
	ID string
	// Runtime is one of the Runtime constants, or "" where the path names
	// no runtime (the cgroupfs driver under kubepods: /kubepods/.../<id>).
	Runtime string
	// PodUID is the Kubernetes pod's UID (with its dashes, as the API
	// server shows it), when the path is under a kubepods hierarchy.
	PodUID string
}

// The prefixes runtimes give a container's cgroup: <prefix><id>.scope
// with the systemd driver, <prefix><id> with CRI-O's and podman's cgroupfs
// driver. The conmon scopes of CRI-O and podman (crio-conmon-<id>,
// libpod-conmon-<id>) hold the container monitor, not the container, and
// do not match: the id must follow the prefix.
var prefixes = []struct{ prefix, runtime string }{
	{"docker-", RuntimeDocker},
	{"cri-containerd-", RuntimeContainerd},
	{"crio-", RuntimeCRIO},
	{"libpod-", RuntimePodman},
}

// maxCgroupPath bounds the work on one path; the kernel's own limit is
// PATH_MAX.
const maxCgroupPath = 4096

// ParseCgroup reads a cgroup path (a line's path field in /proc/PID/cgroup,
// such as /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-
// pod1f2e..._....slice/cri-containerd-<id>.scope) and returns the
// container it names. ok is false when it names none (a host process, a
// systemd service). Nested containers give the innermost.
func ParseCgroup(path string) (c Container, ok bool) {
	if len(path) > maxCgroupPath {
		return Container{}, false
	}
	elems := strings.Split(strings.Trim(path, "/"), "/")
	for i, e := range elems {
		if uid, ok := podUID(e); ok {
			c.PodUID = uid
			continue
		}
		if id, rt, ok := prefixed(e); ok {
			c.ID, c.Runtime = id, rt
			continue
		}
		// cgroupfs drivers: docker's /docker/<id>, and the kubelet's
		// /kubepods/<qos>/pod<uid>/<id>, which does not say the runtime.
		if i > 0 && isID(e) {
			switch prev := elems[i-1]; {
			case prev == "docker":
				c.ID, c.Runtime = e, RuntimeDocker
			case strings.HasPrefix(prev, "pod") && c.PodUID != "":
				c.ID, c.Runtime = e, ""
			}
		}
	}
	return c, c.ID != ""
}

// prefixed matches a runtime's container cgroup: <prefix><id>[.scope].
func prefixed(e string) (id, runtime string, ok bool) {
	name, _ := strings.CutSuffix(e, ".scope")
	for _, s := range prefixes {
		if id, found := strings.CutPrefix(name, s.prefix); found && isID(id) {
			return id, s.runtime, true
		}
	}
	return "", "", false
}

// podUID matches a pod's cgroup: pod<uid> (cgroupfs driver) or
// kubepods[-<qos>]-pod<escaped uid>.slice (systemd driver, which writes the
// UID's dashes as underscores, since a dash separates a slice's parents).
func podUID(e string) (string, bool) {
	if name, found := strings.CutSuffix(e, ".slice"); found {
		i := strings.LastIndex(name, "-pod")
		if i < 0 || !strings.HasPrefix(name, "kubepods") {
			return "", false
		}
		return validUID(unescapeSystemd(name[i+len("-pod"):]))
	}
	if uid, found := strings.CutPrefix(e, "pod"); found {
		return validUID(uid)
	}
	return "", false
}

// unescapeSystemd undoes the kubelet's escaping of a pod UID in a systemd
// slice name: underscores for dashes, and systemd's own \x2d.
func unescapeSystemd(s string) string {
	s = strings.ReplaceAll(s, `\x2d`, "-")
	return strings.ReplaceAll(s, "_", "-")
}

// validUID accepts a UUID (8-4-4-4-12 hex digits, as the API server gives
// pods) or 32 hex digits (the config hash a static pod's UID is).
func validUID(s string) (string, bool) {
	switch len(s) {
	case 32:
		return s, isHex(s)
	case 36:
		for i := range len(s) {
			switch i {
			case 8, 13, 18, 23:
				if s[i] != '-' {
					return "", false
				}
			default:
				if !isHex(s[i : i+1]) {
					return "", false
				}
			}
		}
		return s, true
	}
	return "", false
}

// isID reports whether s is a container id: 64 lowercase hex digits, as
// docker, containerd, CRI-O and podman all make them.
func isID(s string) bool { return len(s) == 64 && isHex(s) }

func isHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// FromCgroups returns the container named by a process's cgroups (as
// procfs reads /proc/PID/cgroup): the unified (v2) hierarchy's path first,
// else the first v1 hierarchy's path that names one.
func FromCgroups(cgroups []procfs.Cgroup) (Container, bool) {
	var v1 Container
	found := false
	for _, cg := range cgroups {
		c, ok := ParseCgroup(cg.Path)
		if !ok {
			continue
		}
		if cg.HierarchyID == 0 {
			return c, true
		}
		if !found {
			v1, found = c, true
		}
	}
	return v1, found
}
