package capture

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// errFatal marks open errors that retrying cannot fix (missing privileges).
type errFatal struct{ err error }

func (e errFatal) Error() string { return e.err.Error() }
func (e errFatal) Unwrap() error { return e.err }

// supervise runs capture until ctx is done, and again after each failure
// with exponential backoff from retryMin up to retryMax; a capture that ran
// longer than retryMax before failing starts the backoff again from the
// bottom. An errFatal ends it with that error. The first failure of a
// series is a warning, the retries that follow are logged at debug. Both
// live back-ends (AF_PACKET and libpcap) supervise each interface with it.
func supervise(ctx context.Context, log *slog.Logger, retryMin, retryMax time.Duration, capture func() error) error {
	backoff := retryMin
	failing := false
	for ctx.Err() == nil {
		began := time.Now()
		err := capture()
		if ctx.Err() != nil {
			return nil
		}
		var fatal errFatal
		if errors.As(err, &fatal) {
			return err
		}
		if time.Since(began) > retryMax {
			backoff, failing = retryMin, false
		}
		if !failing {
			log.Warn("capture stopped, retrying with backoff", "err", err, "retry_in", backoff)
			failing = true
		} else {
			log.Debug("interface still unavailable", "err", err, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, retryMax)
	}
	return nil
}
