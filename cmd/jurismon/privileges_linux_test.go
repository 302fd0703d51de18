package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const privChildEnv = "JURISMON_PRIVDROP_CHILD"

// procStatus reads the credential lines of a /proc/.../status file.
func procStatus(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// TestPrivilegeDrop drops privileges in a child process (a test binary
// built without cgo, as the release is: AllThreadsSyscall needs that) and
// checks the kernel's view of every one of its threads and of a shell it
// starts afterwards.
func TestPrivilegeDrop(t *testing.T) {
	if os.Getenv(privChildEnv) != "" {
		privChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop from")
	}
	nobody, err := resolveRunAs("nobody")
	if err != nil {
		t.Skip("no nobody user:", err)
	}
	bin := filepath.Join(t.TempDir(), "priv.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test binary without cgo: %v\n%s", err, out)
	}
	rootFile := filepath.Join(t.TempDir(), "root-owned")
	if err := os.WriteFile(rootFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestPrivilegeDrop$", "-test.v")
	cmd.Env = append(os.Environ(), privChildEnv+"="+rootFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	sections := map[string]string{}
	for _, part := range strings.Split(string(out), "=== status ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		sections[name] = body
	}
	nr := fmt.Sprintf("%016x", uint64(1)<<unix.CAP_NET_RAW)
	uid := strconv.Itoa(nobody.uid)
	gid := strconv.Itoa(nobody.gid)
	want := map[string]map[string]string{
		// The agent: nobody, CAP_NET_RAW alone, no way back.
		"agent": {"Uid": strings.Repeat(uid+" ", 3) + uid, "Gid": strings.Repeat(gid+" ", 3) + gid,
			"CapInh": "0000000000000000", "CapPrm": nr, "CapEff": nr, "CapBnd": nr, "CapAmb": "0000000000000000", "NoNewPrivs": "1"},
		// A shell it starts: no capability at all.
		"child": {"Uid": strings.Repeat(uid+" ", 3) + uid,
			"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000", "CapBnd": nr, "CapAmb": "0000000000000000", "NoNewPrivs": "1"},
	}
	var threads int
	for name, body := range sections {
		kind := name
		if strings.HasPrefix(name, "thread") {
			kind = "agent" // every thread, not only the one that dropped
			threads++
		}
		got := procStatus(t, body)
		for k, v := range want[kind] {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got[k], v)
			}
		}
	}
	if sections["agent"] == "" || sections["child"] == "" || threads < 2 {
		t.Fatalf("child output lacks its sections (%d threads):\n%s", threads, out)
	}
	for _, line := range []string{"raw socket: ok", "root-owned file: permission denied"} {
		if !strings.Contains(string(out), line) {
			t.Errorf("child did not report %q:\n%s", line, out)
		}
	}
}

func privChild(t *testing.T) {
	to, err := resolveRunAs("")
	if err != nil || !to.switchUser || to.name != "nobody" {
		t.Fatalf("resolveRunAs as root = %+v, %v; want nobody", to, err)
	}
	if _, err := dropPrivileges(to, neededCaps(false)); err != nil {
		t.Fatal(err)
	}
	// What the agent still needs works: an AF_PACKET socket.
	if fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
		t.Errorf("raw socket after the drop: %v", err)
	} else {
		unix.Close(fd)
		fmt.Println("raw socket: ok")
	}
	// What root could do does not: write a file root owns.
	if f, err := os.OpenFile(os.Getenv(privChildEnv), os.O_WRONLY, 0); errors.Is(err, os.ErrPermission) {
		fmt.Println("root-owned file: permission denied")
	} else {
		t.Errorf("opening a root-owned file for writing: %v", err)
		if f != nil {
			f.Close()
		}
	}
	show := func(name, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("=== status %s\n%s", name, b)
	}
	show("agent", "/proc/self/status")
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		show("thread"+task.Name(), "/proc/self/task/"+task.Name()+"/status")
	}
	out, err := exec.Command("/bin/sh", "-c", "cat /proc/self/status").Output()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("=== status child\n%s", out)
}
