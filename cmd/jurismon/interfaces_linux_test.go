package main

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jurismon/jurismon/internal/netnstest"
)

// run -i nosuch0 says that the interface does not exist, and keeps running
// (capture retries until it appears).
func TestRunMissingInterface(t *testing.T) {
	netnstest.Require(t)
	ns := "jmnoif-" + strconv.Itoa(os.Getpid()%100000)
	netnstest.Add(t, ns)
	cmd := exec.Command("ip", "netns", "exec", ns, binary, "run", "-i", "nosuch0", "--web.listen-address", "127.0.0.1:9746")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `interface \"nosuch0\" does not exist`) {
				found <- sc.Text()
				return
			}
		}
		close(found)
	}()
	select {
	case line, ok := <-found:
		if !ok {
			t.Fatal("the agent ended without saying that nosuch0 does not exist")
		}
		if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "retries") {
			t.Errorf("message %q", line)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no message about the missing interface after 15s")
	}
	time.Sleep(500 * time.Millisecond)
	if cmd.ProcessState != nil {
		t.Error("the agent stopped: it must keep retrying")
	}
}
