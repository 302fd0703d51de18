package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
)

// Defaults of Options' zero values.
const (
	DefaultMaxSize       = 64 << 20
	DefaultMaxFiles      = 5
	DefaultRatePerSecond = 100
	DefaultBurst         = 1000
	DefaultRecent        = 1000
	DefaultQueueSize     = 4096
)

// Options configure a Log. Zero values take the defaults above.
type Options struct {
	// Path is the file written, "-" for standard output, "" for none (the
	// events are then only kept in memory for the API).
	Path string
	// MaxSize rotates the file before a line would take it past this many
	// bytes (a single longer line still gets a file of its own).
	MaxSize int64
	// MaxFiles is how many rotated files are kept: Path.1 (newest) to
	// Path.MaxFiles; older ones are removed.
	MaxFiles int
	// RatePerSecond and Burst size the token bucket every event goes
	// through, so that a flood of flagged flows cannot fill a disk.
	// A negative RatePerSecond disables the limit.
	RatePerSecond float64
	Burst         int
	// Recent is how many of the latest events are kept for the API.
	Recent int
	// QueueSize bounds the events waiting for the writer.
	QueueSize int
	Logger    *slog.Logger

	now func() time.Time // the clock; tests inject one
}

func (o *Options) applyDefaults() error {
	switch {
	case o.MaxSize < 0:
		return fmt.Errorf("events: max size must not be negative, got %d", o.MaxSize)
	case o.MaxFiles < 0:
		return fmt.Errorf("events: max files must not be negative, got %d", o.MaxFiles)
	case o.Burst < 0:
		return fmt.Errorf("events: burst must not be negative, got %d", o.Burst)
	case o.Recent < 0:
		return fmt.Errorf("events: recent must not be negative, got %d", o.Recent)
	case o.QueueSize < 0:
		return fmt.Errorf("events: queue size must not be negative, got %d", o.QueueSize)
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.RatePerSecond == 0 {
		o.RatePerSecond = DefaultRatePerSecond
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.Recent == 0 {
		o.Recent = DefaultRecent
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	return nil
}

// Drop reasons, the values of the reason label.
const (
	reasonRateLimit = iota
	reasonQueueFull
	reasonWriteError
	numReasons
)

var reasonNames = [numReasons]string{"rate_limit", "queue_full", "write_error"}

// Log writes flagged flows as JSON lines. Observe may be called from any
// number of goroutines; one goroutine runs Run.
type Log struct {
	opts  Options
	limit *rate.Limiter
	queue chan pending
	ring  ring

	written   atomic.Uint64
	dropped   [numReasons]atomic.Uint64
	rotations atomic.Uint64
	closed    atomic.Bool
	final     atomic.Bool   // see Flushing
	finalLost atomic.Uint64 // events lost after Flushing for want of a writer
	finalFrom atomic.Uint64 // write errors before Flushing

	// mu orders Run against Close so that exactly one goroutine writes.
	mu      sync.Mutex
	running bool
	stop    chan struct{} // closed by Close
	exited  chan struct{} // closed when Run returns

	// Writer state, owned by whichever of Run or Close is writing.
	out     io.Writer // nil when there is no output or it could not be reopened
	file    *os.File  // nil for stdout and no output
	regular bool      // file is a regular file, which a partial line can be cut from
	size    int64     // of the file, up to the end of its last whole line
	partial bool      // the file ends in a partial line that could not be cut off yet
	buf     bytes.Buffer
	enc     *json.Encoder
	failing bool // the last write failed: log recovery, not every failure
	stuck   bool // the last rotation failed: log once, not every line
}

// New opens (or creates, mode 0640) the file and returns a Log ready for
// Observe. Events are written once Run is started.
func New(opts Options) (*Log, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	l := &Log{
		opts:   opts,
		queue:  make(chan pending, opts.QueueSize),
		ring:   newRing(opts.Recent),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	l.limit = newBucket(opts.RatePerSecond, opts.Burst, opts.now())
	l.enc = json.NewEncoder(&l.buf)
	// Organisation names such as "AT&T" stay readable in the file.
	l.enc.SetEscapeHTML(false)
	switch opts.Path {
	case "":
	case "-":
		l.out = os.Stdout
	default:
		if err := l.open(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// open opens the file for appending and learns its current size.
func (l *Log) open() error {
	p := l.opts.Path
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("events: cannot create %s: directory %s does not exist", p, filepath.Dir(p))
		}
		return fmt.Errorf("events: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("events: %w", err)
	}
	l.file, l.out, l.size, l.regular = f, f, st.Size(), st.Mode().IsRegular()
	// A crash or a full disk in an earlier run may have left half a line
	// at the end: cut it off, so that the next line does not extend it.
	if l.regular && l.size > 0 {
		end, err := lastLineEnd(p, l.size)
		if err == nil && end < l.size {
			l.opts.Logger.Warn("event log ended in a partial line; cutting it off", "path", p, "bytes", l.size-end)
			l.size, l.partial = end, true
			l.cutPartial()
		}
	}
	return nil
}

// lastLineEnd returns the offset just past the last newline among the
// first size bytes of the file at path, 0 if there is none. (The log's own
// descriptor is write-only.)
func lastLineEnd(path string, size int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf [4096]byte
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// cutPartial truncates the file back to the end of its last whole line
// after a write that stopped short (ENOSPC, EDQUOT, EFBIG). Truncating
// frees space, so it works on a full disk; until it succeeds no line is
// written, since it would be glued onto the partial one.
func (l *Log) cutPartial() bool {
	if !l.partial {
		return true
	}
	if err := l.file.Truncate(l.size); err != nil {
		return false
	}
	l.partial = false
	return true
}

// pending is an observed flow waiting for the writer. It holds copies of
// the flow and its location, not pointers: the accountant reuses its
// event, and formatting addresses is left to the writer so that Observe
// does not allocate.
type pending struct {
	at  time.Time
	ev  flow.Event
	loc geo.Location
}

func (p *pending) event() Event {
	if p.ev.Location != nil {
		p.ev.Location = &p.loc
	}
	return FromFlow(&p.ev, p.at)
}

// Observe records a flagged flow. It runs on the packet path: it copies the
// event out of e and hands it to the writer without ever blocking, dropping
// and counting it when the rate limit is exceeded or the queue is full.
// After Flushing it neither applies the rate limit nor drops on a full
// queue. Events observed after Close are ignored.
func (l *Log) Observe(e *flow.Event) {
	if l.closed.Load() {
		return
	}
	now := l.opts.now()
	final := l.final.Load()
	if !final && !l.limit.AllowN(now, 1) {
		l.dropped[reasonRateLimit].Add(1)
		return
	}
	p := pending{at: now, ev: *e}
	if e.Location != nil {
		p.loc = *e.Location
	}
	select {
	case l.queue <- p:
		return
	default:
	}
	if final {
		// Capture has stopped: waiting for the writer delays nothing.
		l.mu.Lock()
		running := l.running
		l.mu.Unlock()
		if running {
			select {
			case l.queue <- p:
				return
			case <-l.exited:
			}
		}
		l.finalLost.Add(1)
	}
	l.dropped[reasonQueueFull].Add(1)
}

// Flushing starts the final flush at shutdown, after capture has stopped
// and before the accountants report the flows still open: the rate limit
// is for floods while running, and a flow's final event is its only record,
// so from now on every event is written, Observe waiting for the writer
// when the queue is full. Close logs how many were lost all the same (Run
// not running, or the disk failing).
func (l *Log) Flushing() {
	l.finalFrom.Store(l.dropped[reasonWriteError].Load())
	l.final.Store(true)
}

// Run writes queued events until ctx is cancelled or Close is called,
// whichever comes first. Call it once, in its own goroutine.
func (l *Log) Run(ctx context.Context) {
	l.mu.Lock()
	if l.running || l.closed.Load() {
		l.mu.Unlock()
		l.opts.Logger.Warn("event log: Run called twice or after Close")
		return
	}
	l.running = true
	l.mu.Unlock()
	defer close(l.exited)
	for {
		select {
		case <-ctx.Done():
			l.drain()
			return
		case <-l.stop:
			l.drain()
			return
		case p := <-l.queue:
			l.record(p.event())
		}
	}
}

// drain records what is queued now, without waiting for more.
func (l *Log) drain() {
	for {
		select {
		case p := <-l.queue:
			l.record(p.event())
		default:
			return
		}
	}
}

// Close stops Run, writes every event observed before it, and closes the
// file. It is safe after Run's context was cancelled, without Run, and
// more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed.Swap(true) {
		l.mu.Unlock()
		return nil
	}
	close(l.stop)
	running := l.running
	l.mu.Unlock()
	if running {
		<-l.exited
	}
	// Run has returned (or never ran): this goroutine owns the writer now.
	l.drain()
	if l.final.Load() {
		if lost := l.finalLost.Load() + l.dropped[reasonWriteError].Load() - l.finalFrom.Load(); lost > 0 {
			l.opts.Logger.Error("event log: final events of flows open at shutdown lost", "lost", lost, "path", l.opts.Path)
		}
	}
	if l.file != nil {
		err := l.file.Close()
		l.file, l.out = nil, nil
		if err != nil {
			return fmt.Errorf("events: closing %s: %w", l.opts.Path, err)
		}
	}
	return nil
}

// record keeps the event for the API and writes it as one line.
func (l *Log) record(e Event) {
	l.ring.add(e)
	if l.opts.Path == "" {
		l.written.Add(1)
		return
	}
	l.buf.Reset()
	if err := l.enc.Encode(&e); err != nil {
		// Every field is a plain value: this cannot happen, but a line
		// that cannot be encoded is a lost line, so count it as one.
		l.writeFailed(err)
		return
	}
	line := l.buf.Bytes()
	if l.file != nil && l.size > 0 && l.size+int64(len(line)) > l.opts.MaxSize {
		l.rotate()
	}
	if l.out == nil && l.opts.Path != "-" {
		// A failed rotation left no file open: try again for each line
		// rather than stop logging for good.
		if err := l.open(); err != nil {
			l.writeFailed(err)
			return
		}
	}
	if l.partial && !l.cutPartial() {
		l.writeFailed(errors.New("cannot cut off the partial line left by a failed write"))
		return
	}
	// One write a line: lines are rare (rate-limited), a reader tailing the
	// file sees whole lines, and a failure is counted against exactly one.
	// A write that stops short (a full disk) is cut off again, so that the
	// file only ever holds whole lines.
	n, err := l.out.Write(line)
	if err != nil {
		if n > 0 && l.file != nil && l.regular {
			l.partial = true
			l.cutPartial()
		}
		l.writeFailed(err)
		return
	}
	l.size += int64(n)
	l.written.Add(1)
	if l.failing {
		l.failing = false
		l.opts.Logger.Info("event log writes succeed again", "path", l.opts.Path)
	}
}

func (l *Log) writeFailed(err error) {
	l.dropped[reasonWriteError].Add(1)
	if !l.failing {
		l.failing = true
		l.opts.Logger.Error("event log write failed; dropping events until it works again", "path", l.opts.Path, "err", err)
	}
}

// rotate shifts Path.i to Path.i+1 (dropping the oldest), renames Path to
// Path.1 and opens a new Path. On failure the old file is reopened or, if
// that fails too, record retries on the next line.
func (l *Log) rotate() {
	p := l.opts.Path
	if err := l.file.Close(); err != nil {
		l.opts.Logger.Warn("event log close before rotation", "path", p, "err", err)
	}
	l.file, l.out = nil, nil
	n := l.opts.MaxFiles
	if err := os.Remove(fmt.Sprintf("%s.%d", p, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.opts.Logger.Warn("event log rotation: removing the oldest file", "err", err)
	}
	for i := n - 1; i >= 1; i-- {
		from, to := fmt.Sprintf("%s.%d", p, i), fmt.Sprintf("%s.%d", p, i+1)
		if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.opts.Logger.Warn("event log rotation", "from", from, "to", to, "err", err)
		}
	}
	rotated := true
	if err := os.Rename(p, p+".1"); err != nil {
		// Keep appending to the oversized file rather than lose lines;
		// the next line tries again.
		rotated = false
		if !l.stuck {
			l.stuck = true
			l.opts.Logger.Error("event log rotation failed; appending to the current file", "path", p, "err", err)
		}
	}
	if err := l.open(); err != nil {
		l.opts.Logger.Error("event log reopen after rotation failed", "path", p, "err", err)
		return
	}
	if rotated {
		l.rotations.Add(1)
		l.stuck = false
	}
}

// Recent returns up to n of the latest events, most recent first; all that
// are kept when n <= 0.
func (l *Log) Recent(n int) []Event { return l.ring.latest(n) }
