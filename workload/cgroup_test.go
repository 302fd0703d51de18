package workload

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/procfs"
)

const (
	id  = "4b8a0a4c3e0d5f1a9c2b7e6d8f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345"
	uid = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
)

// uidSystemd is uid as the kubelet's systemd driver writes it.
var uidSystemd = strings.ReplaceAll(uid, "-", "_")

func TestParseCgroup(t *testing.T) {
	tests := []struct {
		name, path string
		want       Container
		ok         bool
	}{
		{"containerd, systemd driver, burstable",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice/cri-containerd-" + id + ".scope",
			Container{ID: id, Runtime: RuntimeContainerd, PodUID: uid}, true},
		{"containerd, systemd driver, guaranteed (no QoS slice)",
			"/kubepods.slice/kubepods-pod" + uidSystemd + ".slice/cri-containerd-" + id + ".scope",
			Container{ID: id, Runtime: RuntimeContainerd, PodUID: uid}, true},
		{"systemd's own \\x2d escaping",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", `\x2d`) + ".slice/cri-containerd-" + id + ".scope",
			Container{ID: id, Runtime: RuntimeContainerd, PodUID: uid}, true},
		{"cri-o, systemd driver",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-" + id + ".scope",
			Container{ID: id, Runtime: RuntimeCRIO, PodUID: uid}, true},
		{"cri-o conmon is not the container",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-conmon-" + id + ".scope",
			Container{PodUID: uid}, false},
		{"cgroupfs driver under kubepods",
			"/kubepods/burstable/pod" + uid + "/" + id,
			Container{ID: id, PodUID: uid}, true},
		{"cgroupfs driver, cri-o",
			"/kubepods/besteffort/pod" + uid + "/crio-" + id,
			Container{ID: id, Runtime: RuntimeCRIO, PodUID: uid}, true},
		{"static pod (config hash UID)",
			"/kubepods/pod0123456789abcdef0123456789abcdef/" + id,
			Container{ID: id, PodUID: "0123456789abcdef0123456789abcdef"}, true},
		{"docker, systemd driver", "/system.slice/docker-" + id + ".scope", Container{ID: id, Runtime: RuntimeDocker}, true},
		{"docker, cgroupfs driver", "/docker/" + id, Container{ID: id, Runtime: RuntimeDocker}, true},
		{"podman rootless",
			"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope",
			Container{ID: id, Runtime: RuntimePodman}, true},
		{"podman cgroupfs", "/libpod_parent/libpod-" + id, Container{ID: id, Runtime: RuntimePodman}, true},
		{"podman conmon", "/machine.slice/libpod-conmon-" + id + ".scope", Container{}, false},
		{"nested: docker in a pod gives the innermost",
			"/kubepods/burstable/pod" + uid + "/" + strings.Repeat("a", 64) + "/docker/" + id,
			Container{ID: id, Runtime: RuntimeDocker, PodUID: uid}, true},
		{"host service", "/system.slice/sshd.service", Container{}, false},
		{"root", "/", Container{}, false},
		{"empty", "", Container{}, false},
		{"short id", "/docker/" + id[:12], Container{}, false},
		{"uppercase id", "/docker/" + strings.ToUpper(id), Container{}, false},
		{"bare id outside any runtime's parent", "/foo/" + id, Container{}, false},
		{"pod UID malformed", "/kubepods/burstable/pod1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5g/" + id, Container{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCgroup(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseCgroup(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFromCgroups(t *testing.T) {
	v2 := procfs.Cgroup{HierarchyID: 0, Path: "/kubepods.slice/kubepods-pod" + uidSystemd + ".slice/cri-containerd-" + id + ".scope"}
	docker := func(h int) procfs.Cgroup {
		return procfs.Cgroup{HierarchyID: h, Controllers: []string{"pids"}, Path: "/docker/" + id}
	}
	tests := []struct {
		name    string
		cgroups []procfs.Cgroup
		want    Container
		ok      bool
	}{
		{"v2", []procfs.Cgroup{v2}, Container{ID: id, Runtime: RuntimeContainerd, PodUID: uid}, true},
		{"v2 before v1", []procfs.Cgroup{docker(12), v2}, Container{ID: id, Runtime: RuntimeContainerd, PodUID: uid}, true},
		{"v1 only", []procfs.Cgroup{docker(12), docker(11), {HierarchyID: 0, Path: "/"}}, Container{ID: id, Runtime: RuntimeDocker}, true},
		{"host", []procfs.Cgroup{{HierarchyID: 0, Path: "/init.scope"}}, Container{}, false},
		{"none", nil, Container{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FromCgroups(tt.cgroups)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzParseCgroup: no panic, and what is returned has the shape promised.
func FuzzParseCgroup(f *testing.F) {
	f.Add("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice/cri-containerd-" + id + ".scope")
	f.Add("/kubepods/burstable/pod" + uid + "/" + id)
	f.Add("/docker/" + id)
	f.Add("/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uid, "-", `\x2d`) + ".slice/crio-conmon-" + id + ".scope")
	f.Fuzz(func(t *testing.T, path string) {
		c, ok := ParseCgroup(path)
		if ok != (c.ID != "") {
			t.Fatalf("ok %v with id %q", ok, c.ID)
		}
		if c.ID != "" && !isID(c.ID) {
			t.Fatalf("id %q", c.ID)
		}
		if c.PodUID != "" {
			if _, valid := validUID(c.PodUID); !valid || !utf8.ValidString(c.PodUID) {
				t.Fatalf("pod UID %q", c.PodUID)
			}
		}
		switch c.Runtime {
		case "", RuntimeDocker, RuntimeContainerd, RuntimeCRIO, RuntimePodman:
		default:
			t.Fatalf("runtime %q", c.Runtime)
		}
	})
}
