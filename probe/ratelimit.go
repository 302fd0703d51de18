package probe

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// bucket is a token bucket (golang.org/x/time/rate) read through a clock
// that tests replace, so that they count admissions without sleeping.
type bucket struct {
	lim *rate.Limiter
	now func() time.Time
}

// newBucket returns a bucket of rate tokens a second, at most burst (at
// least 1) stored, full.
func newBucket(perSec float64, burst int) *bucket {
	return &bucket{lim: rate.NewLimiter(rate.Limit(perSec), max(burst, 1)), now: time.Now}
}

// reserve takes one token and returns how long the caller must wait
// before using it (0 when one was in the bucket). Waiters are served in
// order, one every 1/rate.
func (b *bucket) reserve() (*rate.Reservation, time.Duration) {
	now := b.now()
	r := b.lim.ReserveN(now, 1)
	return r, r.DelayFrom(now)
}

// allow takes a token only if one is available now.
func (b *bucket) allow() bool { return b.lim.AllowN(b.now(), 1) }

// wait blocks until a token is available or ctx ends, giving the token
// back in the second case.
func (b *bucket) wait(ctx context.Context) error {
	r, d := b.reserve()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.CancelAt(b.now())
		return ctx.Err()
	}
}
