package netnstest

import (
	"errors"
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, 5*time.Second, func() error {
		if n++; n < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 4 {
		t.Errorf("cond called %d times, want 4 (until it held)", n)
	}
}

// fatalRecorder records a Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	if len(args) == 2 {
		f.msg = args[1].(error).Error()
	}
}

func TestEventuallyTimesOut(t *testing.T) {
	r := &fatalRecorder{TB: t}
	start := time.Now()
	Eventually(r, 50*time.Millisecond, func() error { return errors.New("never") })
	if r.msg != "never" {
		t.Errorf("failure %q, want the condition's last error", r.msg)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", d)
	}
}
