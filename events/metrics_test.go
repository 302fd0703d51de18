package events

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagged.jsonl")
	// Room for one line a file, a bucket of 4 and a queue of 3.
	l := newTestLog(t, Options{Path: path, MaxSize: 10, MaxFiles: 2, RatePerSecond: 1, Burst: 4, QueueSize: 3}, nil)
	// 6 observed at one instant: 4 pass the bucket (2 rate-limited), 3 of
	// those fit the queue (1 queue full). Each of the 3 lines exceeds
	// MaxSize, so the second and third rotate.
	for i := range 6 {
		l.Observe(numbered(uint64(1000 + i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(l.Collector()); err != nil {
		t.Fatal(err)
	}
	const want = `
# HELP jurismon_event_log_rotations_total Times the event file was rotated for size.
# TYPE jurismon_event_log_rotations_total counter
jurismon_event_log_rotations_total 2
# HELP jurismon_events_dropped_total Flagged-flow events lost, by reason: rate_limit, queue_full (the writer fell behind) or write_error.
# TYPE jurismon_events_dropped_total counter
jurismon_events_dropped_total{reason="queue_full"} 1
jurismon_events_dropped_total{reason="rate_limit"} 2
jurismon_events_dropped_total{reason="write_error"} 0
# HELP jurismon_events_written_total Flagged-flow events recorded: written to the event file or standard output, or kept in memory only when there is no file.
# TYPE jurismon_events_written_total counter
jurismon_events_written_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if err := testutil.CollectAndCompare(l.Collector(), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 5 {
		t.Errorf("%d series (err %v), want 5", n, err)
	}
}
