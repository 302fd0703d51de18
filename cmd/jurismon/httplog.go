package main

import (
	"context"
	"log"
	"log/slog"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// httpErrorLog is the http.Server's ErrorLog: Go's own "http: TLS handshake
// error ..." lines go through the structured logger (--log.format) at warn
// level, with component=http. A scanner or a broken client can make a line
// per connection, so at most 1 line a second is written (bursts of 10);
// the next line written says how many were suppressed.
func httpErrorLog(logger *slog.Logger) *log.Logger {
	h := &limitedHandler{h: logger.With("component", "http").Handler(), lim: rate.NewLimiter(1, 10), dropped: new(atomic.Uint64)}
	return slog.NewLogLogger(h, slog.LevelWarn)
}

// limitedHandler drops records past its rate and counts them.
type limitedHandler struct {
	h       slog.Handler
	lim     *rate.Limiter
	dropped *atomic.Uint64
}

func (l *limitedHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return l.h.Enabled(ctx, lv)
}

func (l *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	if !l.lim.Allow() {
		l.dropped.Add(1)
		return nil
	}
	if n := l.dropped.Swap(0); n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Uint64("suppressed", n))
	}
	return l.h.Handle(ctx, r)
}

func (l *limitedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &limitedHandler{h: l.h.WithAttrs(as), lim: l.lim, dropped: l.dropped}
}

func (l *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{h: l.h.WithGroup(name), lim: l.lim, dropped: l.dropped}
}
