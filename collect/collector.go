package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/jurismon/jurismon/flow"
)

// Options configure a Collector.
type Options struct {
	// Listen are UDP addresses ("host:port"); "[::]:2055" takes IPv4 and
	// IPv6 datagrams. NetFlow v5, v9, IPFIX and sFlow are told apart by
	// their version field, so one port may take them all.
	Listen []string
	// QueueSize is the number of datagrams waiting for each worker: past it
	// they are dropped and counted.
	QueueSize int
	// ReadBuffer is each socket's receive buffer (SO_RCVBUF), in bytes.
	ReadBuffer int
	// StateFile keeps the templates and sampling rates across restarts
	// (JSON; empty: kept in memory only). Written every SaveEvery when
	// they changed, and on stop.
	StateFile string
	SaveEvery time.Duration
	Config    *Config // nil: the default configuration

	MaxExporters, MaxTemplates, MaxInterfaces int
	Logger                                    *slog.Logger
}

// DefaultQueueSize is the default queue of a worker, in datagrams.
const DefaultQueueSize = 1024

// maxDatagram is the largest datagram read: a larger one (an IPv4 jumbo
// past 9000 bytes) is cut and counted as malformed.
const maxDatagram = 9216

type datagram struct {
	n     int
	trunc bool
	from  netip.AddrPort
	at    int64
	buf   [maxDatagram]byte
}

// Collector receives flow datagrams on SO_REUSEPORT sockets, one per
// worker and listen address, each read by its own goroutine into the
// bounded queue of its worker; each worker goroutine owns a decoder and a
// flow.Worker, so accounting takes no lock, as with live capture.
type Collector struct {
	opts     Options
	tmpl     *templates
	workers  []*flow.Worker
	decoders []*Decoder
	stats    []*workerStats
	conns    [][]*net.UDPConn // [address][worker]

	saveErrors atomic.Uint64
	started    atomic.Bool
}

// New binds the sockets for workers (one flow.Worker per worker
// goroutine) and loads the state file.
func New(opts Options, workers []*flow.Worker) (*Collector, error) {
	if len(workers) == 0 {
		return nil, errors.New("collect: no workers")
	}
	if len(opts.Listen) == 0 {
		return nil, errors.New("collect: no listen address")
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Config == nil {
		opts.Config, _ = LoadConfig("")
	}
	c := &Collector{opts: opts, tmpl: newTemplates(opts.MaxExporters, opts.MaxTemplates), workers: workers}
	if opts.StateFile != "" {
		if err := c.tmpl.load(opts.StateFile); err != nil {
			return nil, fmt.Errorf("collect: template state: %w", err)
		}
	}
	for _, w := range workers {
		s := newWorkerStats(opts.MaxInterfaces)
		c.stats = append(c.stats, s)
		c.decoders = append(c.decoders, newDecoder(opts.Config, c.tmpl, s, w))
	}
	for _, addr := range opts.Listen {
		conns, err := listen(addr, len(workers), opts.ReadBuffer)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("collect: %w", err)
		}
		c.conns = append(c.conns, conns)
	}
	return c, nil
}

// listen binds n SO_REUSEPORT sockets to addr (the kernel spreads the
// exporters over them by their address and port).
func listen(addr string, n, rcvbuf int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	var conns []*net.UDPConn
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		uc := pc.(*net.UDPConn)
		if rcvbuf > 0 {
			_ = uc.SetReadBuffer(rcvbuf) // best effort: capped by net.core.rmem_max
		}
		conns = append(conns, uc)
		// A port 0 becomes the first socket's port, for the others to share.
		addr = uc.LocalAddr().String()
	}
	return conns, nil
}

// Addrs returns the bound address of each listen address.
func (c *Collector) Addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, cs := range c.conns {
		out = append(out, cs[0].LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return out
}

// Started reports whether Run is receiving.
func (c *Collector) Started() bool { return c.started.Load() }

// Metrics returns the collector's prometheus.Collector.
func (c *Collector) Metrics() prometheus.Collector { return newMetrics(c) }

func (c *Collector) close() {
	for _, cs := range c.conns {
		for _, conn := range cs {
			conn.Close()
		}
	}
}

// Run receives until ctx ends, then drains the queues, saves the state and
// returns. The flow workers are the caller's again when it returns (to
// Flush).
func (c *Collector) Run(ctx context.Context) error {
	var readers, workers sync.WaitGroup
	queues := make([]chan *datagram, len(c.workers))
	for w := range c.workers {
		queues[w] = make(chan *datagram, c.opts.QueueSize)
		free := make(chan *datagram, c.opts.QueueSize+len(c.conns))
		for range cap(free) {
			free <- new(datagram)
		}
		for a := range c.conns {
			readers.Add(1)
			go func() {
				defer readers.Done()
				c.read(c.conns[a][w], queues[w], free, c.stats[w])
			}()
		}
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.work(w, queues[w], free)
		}()
	}
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		t := time.NewTicker(c.opts.SaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.save()
			}
		}
	}()
	c.started.Store(true)
	<-ctx.Done()
	c.close()
	readers.Wait()
	for _, q := range queues {
		close(q)
	}
	workers.Wait()
	<-saved
	c.tmpl.changed.Store(true)
	c.save()
	return nil
}

func (c *Collector) save() {
	if c.opts.StateFile == "" || !c.tmpl.changed.Swap(false) {
		return
	}
	if err := c.tmpl.save(c.opts.StateFile); err != nil {
		c.saveErrors.Add(1)
		c.tmpl.changed.Store(true) // try again next time
		c.opts.Logger.Error("saving the template state", "file", c.opts.StateFile, "err", err)
	}
}

// read is the goflow2 pattern: read, and hand over without waiting; a
// full queue drops the datagram (counted).
func (c *Collector) read(conn *net.UDPConn, q chan<- *datagram, free chan *datagram, s *workerStats) {
	var scratch datagram
	for {
		var d *datagram
		select {
		case d = <-free:
		default:
			d = &scratch // every buffer is queued: this one is dropped
		}
		n, _, flags, from, err := conn.ReadMsgUDPAddrPort(d.buf[:], nil)
		if err != nil {
			if d != &scratch {
				free <- d
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.opts.Logger.Debug("collector read", "err", err)
			continue
		}
		s.received.Add(1)
		if d == &scratch {
			s.dropped.Add(1)
			continue
		}
		d.n, d.from, d.at, d.trunc = n, from, time.Now().UnixNano(), flags&unix.MSG_TRUNC != 0
		select {
		case q <- d:
		default:
			s.dropped.Add(1)
			free <- d
		}
	}
}

// idleEvery is how often an idle worker moves its accountant's clock, so
// that flows end and flagged ones are reported on a quiet collector.
const idleEvery = time.Second

func (c *Collector) work(w int, q <-chan *datagram, free chan<- *datagram) {
	dec, fw := c.decoders[w], c.workers[w]
	t := time.NewTicker(idleEvery)
	defer t.Stop()
	busy := false
	for {
		select {
		case d, ok := <-q:
			if !ok {
				return
			}
			if d.trunc {
				dec.exporter(d.from.Addr().Unmap()).c.count(Malformed)
			} else {
				dec.Decode(d.from.Addr(), d.buf[:d.n], d.at)
			}
			free <- d
			busy = true
		case <-t.C:
			if !busy {
				fw.Handle(nil)
			}
			busy = false
		}
	}
}
