package events

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlushingWritesEveryFinalEvent: at shutdown, 5,000 flagged flows end
// at once, past a burst of 10 and a queue of 64. While running the rate
// limit drops a flood; after Flushing every final event is written.
func TestFlushingWritesEveryFinalEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l := newTestLog(t, Options{Path: path, RatePerSecond: 1, Burst: 10, QueueSize: 64}, nil)
	done := make(chan struct{})
	go func() { defer close(done); l.Run(context.Background()) }()
	// As in the agent, the writer runs before the final flush: without
	// it the events past the queue cannot be written (TestFlushingLogsLost).
	for running := false; !running; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		running = l.running
		l.mu.Unlock()
	}
	for i := range 100 { // a flood while running: the burst gets through
		l.Observe(numbered(uint64(i)))
	}
	l.Flushing()
	const open = 5000
	for i := range open {
		l.Observe(numbered(uint64(1000 + i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	lines := readLines(t, path)
	if len(lines) != 10+open {
		t.Fatalf("%d lines, want the burst of 10 and the %d final events", len(lines), open)
	}
	for i, e := range lines[10:] {
		if e.BytesTo != uint64(1000+i) {
			t.Fatalf("final event %d is %d, want %d", i, e.BytesTo, 1000+i)
		}
	}
	if got := l.dropped[reasonRateLimit].Load(); got != 90 {
		t.Errorf("rate-limit drops %d, want 90 (the flood before Flushing)", got)
	}
	if got := l.dropped[reasonQueueFull].Load(); got != 0 {
		t.Errorf("queue-full drops %d, want 0", got)
	}
}

// TestFlushingLogsLost: without a writer running, final events past the
// queue cannot be written; Close says how many were lost.
func TestFlushingLogsLost(t *testing.T) {
	var logs strings.Builder
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l := newTestLog(t, Options{Path: path, QueueSize: 8, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	l.Flushing()
	for i := range 20 {
		l.Observe(numbered(uint64(i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(readLines(t, path)); got != 8 {
		t.Errorf("%d lines, want the 8 queued", got)
	}
	if !strings.Contains(logs.String(), "lost=12") {
		t.Errorf("log does not count the 12 lost:\n%s", logs.String())
	}
}
