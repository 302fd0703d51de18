package probe

import (
	"testing"
	"time"
)

// TestBucketCounts counts admissions against a fake clock: the burst at
// once, then rate × elapsed, never more.
func TestBucketCounts(t *testing.T) {
	for _, c := range []struct {
		name        string
		rate        float64
		burst       int
		elapsed     time.Duration
		wantInitial int
		wantAfter   int
	}{
		{"burst only", 10, 5, 0, 5, 0},
		{"one second at 10/s", 10, 5, time.Second, 5, 5}, // refill capped at the burst
		{"half second at 4/s", 4, 10, 500 * time.Millisecond, 10, 2},
		{"slow rate", 0.5, 1, 3 * time.Second, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			b := newBucket(c.rate, c.burst)
			b.now = func() time.Time { return now }
			count := func() int {
				n := 0
				for b.allow() {
					n++
				}
				return n
			}
			if got := count(); got != c.wantInitial {
				t.Fatalf("initial admissions %d, want %d", got, c.wantInitial)
			}
			now = now.Add(c.elapsed)
			if got := count(); got != c.wantAfter {
				t.Fatalf("admissions after %v: %d, want %d", c.elapsed, got, c.wantAfter)
			}
		})
	}
}

// TestBucketReserveQueues checks that waiters are spaced 1/rate apart.
func TestBucketReserveQueues(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBucket(4, 2)
	b.now = func() time.Time { return now }
	var waits []time.Duration
	for range 5 {
		_, d := b.reserve()
		waits = append(waits, d)
	}
	want := []time.Duration{0, 0, 250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}
