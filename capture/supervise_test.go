package capture

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestSupervise(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Run("retries until done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := supervise(ctx, log, time.Millisecond, 4*time.Millisecond, func() error {
			if calls++; calls == 5 {
				cancel() // the fifth capture runs until the context ends
			}
			return errors.New("interface went down or away")
		})
		if err != nil || calls != 5 {
			t.Errorf("supervise = %v after %d captures, want nil after 5", err, calls)
		}
	})
	t.Run("fatal ends it", func(t *testing.T) {
		calls := 0
		fatal := errFatal{errors.New("needs CAP_NET_RAW")}
		err := supervise(context.Background(), log, time.Millisecond, time.Millisecond, func() error {
			calls++
			return fatal
		})
		if !errors.Is(err, fatal) || calls != 1 {
			t.Errorf("supervise = %v after %d captures, want the fatal error after 1", err, calls)
		}
	})
	t.Run("backoff doubles to its cap", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var at []time.Time
		_ = supervise(ctx, log, 10*time.Millisecond, 40*time.Millisecond, func() error {
			if at = append(at, time.Now()); len(at) == 5 {
				cancel()
			}
			return errors.New("down")
		})
		// Waits of at least 10, 20, 40, 40 ms (sleeps only ever run long).
		for i, want := range []time.Duration{10, 20, 40, 40} {
			if d := at[i+1].Sub(at[i]); d < want*time.Millisecond {
				t.Errorf("wait %d = %v, want at least %v", i, d, want*time.Millisecond)
			}
		}
	})
}
