package events

import (
	"time"

	"golang.org/x/time/rate"
)

// newBucket returns the token bucket of the log: rate events a second, at
// most burst at once, full at now; a rate <= 0 means no limit. Only
// flagged flows reach it, and they are rare, so its mutex costs nothing.
func newBucket(perSec float64, burst int, now time.Time) *rate.Limiter {
	if perSec <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	l := rate.NewLimiter(rate.Limit(perSec), burst)
	l.AllowN(now, 0) // start the clock at now: the first events meet a full bucket
	return l
}
