package events

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkObserve measures the packet-path cost of a flagged flow: the
// conversion, the token bucket and the queue hand-off, with the writer
// running on a real file.
func BenchmarkObserve(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"accepted", Options{RatePerSecond: -1, QueueSize: 1 << 16}},
		{"rate limited", Options{RatePerSecond: 1, Burst: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opts.Path = filepath.Join(b.TempDir(), "flagged.jsonl")
			l, err := New(bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go l.Run(ctx)
			ev := numbered(1000)
			b.ReportAllocs()
			for b.Loop() {
				l.Observe(ev)
			}
			b.StopTimer()
			cancel()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			var dropped uint64
			for i := range l.dropped {
				dropped += l.dropped[i].Load()
			}
			b.ReportMetric(float64(dropped)/float64(b.N), "drops/op")
		})
	}
}
