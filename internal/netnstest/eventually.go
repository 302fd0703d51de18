package netnstest

import (
	"testing"
	"time"
)

// Eventually polls cond until it returns nil, and fails tb with cond's last
// error if that has not happened within timeout: the readiness condition
// that namespace tests wait on instead of a fixed sleep. It polls often at
// first and then at most every 250ms, so that a slow condition (a
// Prometheus query) is not hammered.
func Eventually(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not within %v: %v", timeout, err)
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 250*time.Millisecond)
	}
}
