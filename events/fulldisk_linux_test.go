package events

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFullDisk fills a real tmpfs while events are written, then frees it:
// every line in the file stays whole (a write that stops short is cut off
// again, rather than left for the next line to be glued onto), each lost
// event is counted, and logging resumes once there is room.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=64k,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	path := filepath.Join(dir, "events.jsonl")
	l := newTestLog(t, Options{Path: path, RatePerSecond: -1, QueueSize: 1000}, nil)
	total := 0
	observe := func(n int) {
		for range n {
			l.Observe(numbered(uint64(1000 + total)))
			total++
		}
		l.drain()
	}
	observe(5)

	// Fill the file system: what is left is the slack in the event file's
	// last page, which the next lines fill before a write stops short.
	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	observe(50)
	failed := l.dropped[reasonWriteError].Load()
	if failed == 0 {
		t.Fatal("no write failed on a full file system")
	}
	checkWhole(t, path, l.written.Load())

	// Room again: the next events are written after the whole lines.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	observe(5)
	if got := l.dropped[reasonWriteError].Load(); got != failed {
		t.Errorf("%d more write failures after space was freed", got-failed)
	}
	if got := l.written.Load() + l.dropped[reasonWriteError].Load(); got != uint64(total) {
		t.Errorf("written + dropped = %d, want the %d observed", got, total)
	}
	lines := checkWhole(t, path, l.written.Load())
	for i, e := range lines[len(lines)-5:] {
		if want := uint64(1000 + total - 5 + i); e.BytesTo != want {
			t.Errorf("line %d after recovery is event %d, want %d", len(lines)-5+i, e.BytesTo, want)
		}
	}
}

// fill writes to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{4096, 1} {
		b := make([]byte, chunk)
		for {
			if _, err := f.Write(b); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

// checkWhole reads the event file: want lines, each a whole event, the
// file ending in a newline.
func checkWhole(t *testing.T, path string, want uint64) []Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("the file ends in a partial line: %q", b[bytes.LastIndexByte(b, '\n')+1:])
	}
	lines := readLines(t, path)
	if uint64(len(lines)) != want {
		t.Fatalf("%d lines in the file, want %d written", len(lines), want)
	}
	return lines
}

// TestOpenCutsPartialLine: a file left ending in half a line (a crash in
// mid-write, or a full disk in an earlier run) is cut back to its last
// whole line when opened, so that the first new line starts a line.
func TestOpenCutsPartialLine(t *testing.T) {
	for name, tc := range map[string]struct{ before, after string }{
		"partial":      {"{\"a\":1}\n{\"a\":", "{\"a\":1}\n"},
		"whole":        {"{\"a\":1}\n", "{\"a\":1}\n"},
		"only partial": {"{\"a\":", ""},
		"long partial": {"{\"a\":1}\n" + string(bytes.Repeat([]byte("x"), 10000)), "{\"a\":1}\n"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			if err := os.WriteFile(path, []byte(tc.before), 0o640); err != nil {
				t.Fatal(err)
			}
			l := newTestLog(t, Options{Path: path, RatePerSecond: -1}, nil)
			l.Observe(numbered(1000))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte(tc.after)) || bytes.Count(b, []byte("\n")) != bytes.Count([]byte(tc.after), []byte("\n"))+1 ||
				b[len(b)-1] != '\n' || !bytes.HasPrefix(b[len(tc.after):], []byte(`{"time":`)) {
				t.Errorf("file after one event:\n%s", b)
			}
		})
	}
}
