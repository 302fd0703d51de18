package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/jurismon/jurismon/collect"
	"github.com/jurismon/jurismon/events"
	"github.com/jurismon/jurismon/exporter"
	"github.com/jurismon/jurismon/flow"
)

// collectCommand is `jurismon collect`: flow records from routers instead
// of captured packets, into the same accounting, metrics and events. A
// command of its own rather than flags of run: it captures nothing, needs
// no capture privilege, and its flags (listen addresses, state file,
// exporter configuration) mean nothing to a capturing agent.
type collectCommand struct {
	cmd         *kingpin.CmdClause
	web         *web.FlagConfig
	opts        collect.Options
	workers     int
	exporters   string
	config      string
	asnMode     string
	topASN      int
	flows       flow.Config
	events      events.Options
	eventsEvery time.Duration
	stopTimeout time.Duration
}

func newCollectCommand(app *kingpin.Application) *collectCommand {
	c := &collectCommand{flows: flow.DefaultConfig()}
	c.cmd = app.Command("collect", "Receive NetFlow v5/v9, IPFIX and sFlow v5 records from routers and serve Prometheus metrics.")
	c.web = kingpinflag.AddFlags(c.cmd, ":9746")
	c.cmd.Flag("collector.listen", "UDP address to receive flow datagrams on (any of the four formats); repeat for several. [::]:PORT takes IPv4 and IPv6.").Default("[::]:2055", "[::]:6343").StringsVar(&c.opts.Listen)
	c.cmd.Flag("collector.workers", "Worker goroutines, each with its own SO_REUSEPORT socket per listen address, queue and flow table.").Default("1").IntVar(&c.workers)
	c.cmd.Flag("collector.queue-size", "Datagrams waiting per worker; past it they are dropped and counted.").Default(fmt.Sprint(collect.DefaultQueueSize)).IntVar(&c.opts.QueueSize)
	c.cmd.Flag("collector.read-buffer", "Receive buffer of each socket, in bytes (capped by net.core.rmem_max).").Default(fmt.Sprint(4 << 20)).IntVar(&c.opts.ReadBuffer)
	c.cmd.Flag("collector.state-file", "Keep the NetFlow v9/IPFIX templates and sampling rates in this JSON file across restarts.").StringVar(&c.opts.StateFile)
	c.cmd.Flag("collector.config", "Exporters file (YAML): sampling default and overrides, interface names and roles.").StringVar(&c.exporters)
	c.cmd.Flag("collector.max-exporters", "Exporters whose templates and series are kept; past it they count as exporter=\"other\".").Default(fmt.Sprint(collect.DefaultMaxExporters)).IntVar(&c.opts.MaxExporters)
	c.cmd.Flag("collector.max-templates", "Templates kept per exporter; past it they are refused and counted.").Default(fmt.Sprint(collect.DefaultMaxTemplatesExporter)).IntVar(&c.opts.MaxTemplates)
	c.cmd.Flag("collector.max-interfaces", "Interface series per exporter; past it they count as interface=\"other\".").Default(fmt.Sprint(collect.DefaultMaxInterfaces)).IntVar(&c.opts.MaxInterfaces)
	c.cmd.Flag("config", "Policy file (YAML); its local networks tell the direction of records. Re-read on SIGHUP and POST /-/reload.").StringVar(&c.config)
	c.cmd.Flag("metrics.asn", "Per-ASN series: none, flagged, top.").Default("flagged").EnumVar(&c.asnMode, "none", "flagged", "top")
	c.cmd.Flag("metrics.asn-top", "N for --metrics.asn=top.").Default("50").IntVar(&c.topASN)
	c.cmd.Flag("flow.idle-timeout", "A flow with no record for this long ends.").Default(c.flows.IdleTimeout.String()).DurationVar(&c.flows.IdleTimeout)
	c.cmd.Flag("flow.max", "Flow table cap per worker.").Default(fmt.Sprint(c.flows.MaxFlows)).IntVar(&c.flows.MaxFlows)
	c.cmd.Flag("flow.max-aggregates", "Aggregate cap per worker.").Default(fmt.Sprint(c.flows.MaxAggregates)).IntVar(&c.flows.MaxAggregates)
	c.cmd.Flag("events.file", "Write flagged flows as JSON lines to this file (- for stdout, empty for none).").StringVar(&c.events.Path)
	c.cmd.Flag("events.max-size", "Rotate the event file past this many bytes.").Default(fmt.Sprint(64 << 20)).Int64Var(&c.events.MaxSize)
	c.cmd.Flag("events.max-files", "Rotated event files kept.").Default("5").IntVar(&c.events.MaxFiles)
	c.cmd.Flag("events.rate", "Event lines written per second at most (bursts of 10x).").Default("100").Float64Var(&c.events.RatePerSecond)
	c.cmd.Flag("events.recent", "Flagged flows kept for /api/v1/flagged-flows.").Default("1000").IntVar(&c.events.Recent)
	c.cmd.Flag("events.interval", "Also report live flagged flows this often (0: only when they end).").Default("60s").DurationVar(&c.eventsEvery)
	c.cmd.Flag("shutdown-timeout", "Time allowed for an orderly stop.").Default("10s").DurationVar(&c.stopTimeout)
	return c
}

func (c *collectCommand) run(logger *slog.Logger, gf *geoFlags) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if c.workers < 1 {
		return errors.New("--collector.workers must be at least 1")
	}
	cfg, err := collect.LoadConfig(c.exporters)
	if err != nil {
		return err
	}
	pol, err := loadPolicy(c.config)
	if err != nil {
		return err
	}
	res, err := gf.open(logger)
	if err != nil {
		return err
	}
	defer res.Close()
	env := flow.NewEnv(res, pol, gf.lookupDoc)
	var evlog *events.Log
	if c.events.Path != "" || c.events.Recent > 0 {
		c.events.Burst = int(10 * c.events.RatePerSecond)
		c.events.Logger = logger
		if evlog, err = events.New(c.events); err != nil {
			return err
		}
	}
	fc := c.flows
	fc.Grouping = flow.ByMetrics
	fc.PublishEvery = time.Second
	fc.NoHosts = true
	fc.EventInterval = c.eventsEvery
	var obs []flow.Observer
	if evlog != nil {
		obs = append(obs, flow.FlaggedFunc(evlog.Observe))
	}
	workers := make([]*flow.Worker, c.workers)
	accts := make([]*flow.Accountant, c.workers)
	for i := range workers {
		accts[i] = flow.NewAccountant(env, fc, obs...)
		workers[i] = flow.NewWorker(accts[i], false)
	}
	c.opts.Config, c.opts.Logger = cfg, logger
	col, err := collect.New(c.opts, workers)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reloads := newReloadMetrics()
	reloads.succeeded()
	reg.MustRegister(
		versioncollector.NewCollector("jurismon"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		exporter.New(exporter.Sources{Accountants: func() []*flow.Accountant { return accts }, Geo: res},
			exporter.Options{ASN: exporter.ASNMode(c.asnMode), TopASN: c.topASN}),
		col.Metrics(),
		reloads,
	)
	if evlog != nil {
		reg.MustRegister(evlog.Collector())
	}
	var policySum = pol.Checksum()
	var reloadMu sync.Mutex
	reload := func() error {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		if c.config != "" {
			p, err := loadPolicy(c.config)
			if err != nil {
				reloads.failed()
				return err
			}
			if sum := p.Checksum(); sum != policySum {
				env.SetPolicy(p)
				policySum = sum
			}
		}
		if err := res.Reload(); err != nil {
			reloads.failed()
			return fmt.Errorf("geo databases: %w", err)
		}
		reloads.succeeded()
		return nil
	}
	go func() {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := reload(); err != nil {
					logger.Error("reload failed; keeping the running configuration", "err", err)
				}
			}
		}
	}()

	var wg sync.WaitGroup
	evCtx, evStop := context.WithCancel(context.Background())
	if evlog != nil {
		wg.Add(1)
		go func() { defer wg.Done(); evlog.Run(evCtx) }()
	}
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(ctx) }()

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError), Registry: reg}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !col.Started() {
			http.Error(w, "Not ready: the collector has not started", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		if err := reload(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	if evlog != nil {
		mux.Handle("/api/v1/flagged-flows", evlog.Handler())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- web.ListenAndServe(srv, c.web, logger) }()
	logger.Info("jurismon collector started", "version", version.Info(), "listen", col.Addrs(), "workers", c.workers)

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("stopping")
	case err := <-srvErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("web server: %w", err)
		}
	}
	stop()
	deadline, cancel := context.WithTimeout(context.Background(), c.stopTimeout)
	defer cancel()
	select {
	case <-colDone:
		// The workers have returned: the accountants are ours now.
		for _, w := range workers {
			w.Flush()
		}
	case <-deadline.Done():
		logger.Warn("the collector did not stop in time; the flows still open are not reported")
	}
	if evlog != nil {
		if err := evlog.Close(); err != nil {
			logger.Error("closing the event log", "err", err)
		}
	}
	evStop()
	wg.Wait()
	if err := srv.Shutdown(deadline); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("web server shutdown", "err", err)
	}
	return runErr
}
