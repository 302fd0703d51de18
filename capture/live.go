package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// LiveOptions configure a live capture.
type LiveOptions struct {
	// Interfaces to capture on. Empty means every interface that is up and
	// not a loopback when NewLive runs. "any" means every up interface,
	// loopback included; it opens one set of sockets per interface rather
	// than one Linux "any" socket, so each interface keeps its own link type
	// (no SLL header to decode), fanout group and drop counters. Interfaces
	// created after NewLive are not picked up until the capture is rebuilt.
	Interfaces []string
	// Workers is the number of sockets (and goroutines) per interface,
	// joined in one fanout group hashed by flow. 0 means 1.
	Workers int
	// SnapLen bounds the bytes kept of each frame. 0 means 128. On Linux
	// the kernel filter keeps only the headers (see CutOptions) and at most
	// this many bytes of them.
	SnapLen int
	// Payload is how many bytes after a TCP or UDP header are kept (0:
	// none, the default: no feature needs any today).
	Payload int
	// Decapsulate keeps the inner headers of tunnelled packets, for a
	// decoder that decapsulates them.
	Decapsulate bool
	// BufferSize is the ring size of each socket in bytes. 0 means 8 MiB.
	BufferSize int
	// Promiscuous puts the interfaces into promiscuous mode.
	Promiscuous bool
	// Filter is a capture filter in the subset CompileFilter documents.
	Filter string
	// PollTimeout bounds how long a worker waits for frames before it checks
	// whether it should stop. 0 means 100ms.
	PollTimeout time.Duration
	// Logger receives interface up/down and retry messages. nil means
	// slog.Default().
	Logger *slog.Logger
	// Engine reads the AF_PACKET rings on Linux: EngineRing (the default)
	// or EngineAFPacket. Builds with libpcap ignore it.
	Engine string
}

// Engines for LiveOptions.Engine. Both read the same TPACKET_V3 ring
// without copying; "ring" reads it directly and waits for blocks in the Go
// runtime's network poller, "afpacket" goes through gopacket/afpacket,
// which waits in a blocking poll(2) and costs more CPU per packet (see the
// README's performance section).
const (
	EngineRing     = "ring"
	EngineAFPacket = "afpacket"
)

// Defaults applied by NewLive.
const (
	DefaultSnapLen     = 128
	DefaultBufferSize  = 8 << 20
	DefaultPollTimeout = 100 * time.Millisecond
	minBufferSize      = 64 << 10
	maxWorkers         = 64
)

// InterfaceStats are cumulative counters of one captured interface.
type InterfaceStats struct {
	Interface string
	// Packets is the number of frames handed to the handler.
	Packets uint64
	// KernelDrops is the number of frames the kernel dropped because a
	// ring was full.
	KernelDrops uint64
	// QueueFreezes counts the times a TPACKET_V3 ring froze its queue
	// because no block was free.
	QueueFreezes uint64
	// Up is true while sockets are capturing on the interface.
	Up bool
	// Restarts counts the times capture came back on the interface after
	// it had stopped (the interface went down or away, or a read failed).
	Restarts uint64
}

// ErrNoInterfaces is returned by NewLive when no interface is given and none
// is up.
var ErrNoInterfaces = errors.New("capture: no up, non-loopback interface to capture on")

// withDefaults validates opts and fills in the zero values.
func (o LiveOptions) withDefaults() (LiveOptions, error) {
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.Workers < 0 || o.Workers > maxWorkers {
		return o, fmt.Errorf("capture: workers %d out of range 1..%d", o.Workers, maxWorkers)
	}
	if o.SnapLen == 0 {
		o.SnapLen = DefaultSnapLen
	}
	if o.Payload < 0 || o.Payload > MaxSnapLen {
		return o, fmt.Errorf("capture: payload bytes %d out of range 0..%d", o.Payload, MaxSnapLen)
	}
	if o.SnapLen < 64 || o.SnapLen > MaxSnapLen {
		return o, fmt.Errorf("capture: snap length %d out of range 64..%d", o.SnapLen, MaxSnapLen)
	}
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.BufferSize < minBufferSize {
		return o, fmt.Errorf("capture: buffer size %d below the minimum of %d bytes", o.BufferSize, minBufferSize)
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = DefaultPollTimeout
	}
	if o.PollTimeout < time.Millisecond {
		return o, fmt.Errorf("capture: poll timeout %s below 1ms", o.PollTimeout)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch o.Engine {
	case "":
		o.Engine = EngineRing
	case EngineRing, EngineAFPacket:
	default:
		return o, fmt.Errorf("capture: unknown engine %q (want %s or %s)", o.Engine, EngineRing, EngineAFPacket)
	}
	names, err := resolveInterfaces(o.Interfaces)
	if err != nil {
		return o, err
	}
	o.Interfaces = names
	return o, nil
}

// resolveInterfaces expands an empty list and "any", and removes duplicates.
// Named interfaces need not exist yet: they are retried until they appear.
func resolveInterfaces(names []string) ([]string, error) {
	var out []string
	if len(names) == 0 {
		up, err := UpInterfaces()
		if err != nil {
			return nil, err
		}
		if len(up) == 0 {
			return nil, ErrNoInterfaces
		}
		return up, nil
	}
	for _, n := range names {
		switch {
		case n == "any":
			all, err := upInterfaces(true)
			if err != nil {
				return nil, err
			}
			out = append(out, all...)
		case n == "" || len(n) >= 16 || slices.ContainsFunc([]byte(n), func(c byte) bool { return c == '/' || c <= ' ' }):
			return nil, fmt.Errorf("capture: invalid interface name %q", n)
		default:
			out = append(out, n)
		}
	}
	seen := map[string]bool{}
	out = slices.DeleteFunc(out, func(n string) bool {
		dup := seen[n]
		seen[n] = true
		return dup
	})
	return out, nil
}

// UpInterfaces returns the names of the interfaces that are up and not
// loopback, in index order.
func UpInterfaces() ([]string, error) { return upInterfaces(false) }

func upInterfaces(loopback bool) ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("capture: listing interfaces: %w", err)
	}
	var out []string
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || (!loopback && ifi.Flags&net.FlagLoopback != 0) {
			continue
		}
		out = append(out, ifi.Name)
	}
	return out, nil
}

// retrier paces the re-opens of one interface: exponential backoff within
// an outage, starting again from the bottom once capture has come back, so
// that separate outages each get the short first retries. It logs a warning
// when an outage begins; the open that ends it logs the outage's length.
type retrier struct {
	min, max time.Duration
	backoff  time.Duration
	// opened is the interface's open count at the last failure: when it
	// has moved, capture came back in between and this failure begins a
	// new outage.
	opened   uint64
	since    time.Time // when the current outage began; zero before the first
	attempts int       // failed opens in the current outage
}

func (r *retrier) init(min, max time.Duration) { r.min, r.max, r.backoff = min, max, min }

// failed records a failure of capture on the interface (opened is its open
// count now) and returns how long to wait before the next attempt.
func (r *retrier) failed(opened uint64, log *slog.Logger, err error) time.Duration {
	if r.since.IsZero() || opened != r.opened {
		r.opened, r.since, r.attempts, r.backoff = opened, time.Now(), 0, r.min
		log.Warn("capture stopped, retrying with backoff", "err", err, "retry_in", r.backoff)
	} else {
		log.Debug("interface still unavailable", "err", err, "retry_in", r.backoff, "outage", time.Since(r.since).Round(time.Millisecond))
	}
	r.attempts++
	wait := r.backoff
	r.backoff = min(2*r.backoff, r.max)
	return wait
}

// down returns log attributes describing the current outage, for the line
// the next successful open writes; none before the first failure.
func (r *retrier) down() []any {
	if r.since.IsZero() {
		return nil
	}
	return []any{"outage", time.Since(r.since).Round(time.Millisecond), "failed_attempts", r.attempts}
}

// restarts converts an open count into the number of re-opens.
func restarts(opened uint64) uint64 {
	if opened == 0 {
		return 0
	}
	return opened - 1
}
