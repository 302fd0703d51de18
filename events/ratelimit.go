package events

import (
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens a second, at most burst stored.
// golang.org/x/time/rate is not a dependency and this is all we need of it.
// A mutex is fine here: only flagged flows reach it, and they are rare.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second; <= 0 means no limit
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// allow takes one token if there is one at time now.
func (b *bucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// A clock that steps back must not mint tokens nor stall the bucket.
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
