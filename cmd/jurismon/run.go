package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
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

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/events"
	"github.com/jurismon/jurismon/exporter"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/latency"
	"github.com/jurismon/jurismon/macvendor"
	"github.com/jurismon/jurismon/policy"
	"github.com/jurismon/jurismon/probe"
	"github.com/jurismon/jurismon/tunnel"
	"github.com/jurismon/jurismon/ui"
)

type runCommand struct {
	cmd         *kingpin.CmdClause
	web         *web.FlagConfig
	webLimits   webFlags
	live        capture.LiveOptions
	decapsulate bool
	config      string
	asnMode     string
	topASN      int
	flows       flow.Config
	events      events.Options
	eventsEvery time.Duration
	stopTimeout time.Duration
	addrEvery   time.Duration
	paths       pathFlags
	attribution attributionFlags
	tunnels     tunnels
	cpuProfile  string
	runAs       string
	vendors     vendorFlags
	vendorMode  string
	topVendors  int
}

func newRunCommand(app *kingpin.Application) *runCommand {
	c := &runCommand{flows: flow.DefaultConfig()}
	c.cmd = app.Command("run", "Capture live traffic and serve Prometheus metrics (the default command).").Default()
	c.web = kingpinflag.AddFlags(c.cmd, ":9746")
	c.webLimits.register(c.cmd)
	// The same variable configures healthcheck, so that a container's
	// HEALTHCHECK follows the agent's TLS and basic auth.
	c.cmd.GetFlag("web.config.file").Envar("JURISMON_WEB_CONFIG_FILE")
	c.cmd.Flag("interface", "Interface to capture on; repeat for several; \"any\" for all. Default: every up, non-loopback interface.").Short('i').StringsVar(&c.live.Interfaces)
	c.cmd.Flag("capture.workers", "Sockets per interface, joined in a fanout group hashed by flow.").Default("1").IntVar(&c.live.Workers)
	c.cmd.Flag("capture.snaplen", "Bytes kept of each frame: headers only, never payload.").Default(fmt.Sprint(capture.DefaultSnapLen)).IntVar(&c.live.SnapLen)
	c.cmd.Flag("capture.buffer-size", "Ring size of each socket, in bytes.").Default(fmt.Sprint(capture.DefaultBufferSize)).IntVar(&c.live.BufferSize)
	c.cmd.Flag("capture.promiscuous", "Put the interfaces into promiscuous mode.").BoolVar(&c.live.Promiscuous)
	enumFlag(c.cmd, "capture.engine", "How AF_PACKET rings are read on Linux: ring (jurismon's own reader, waits in the Go poller) or afpacket (gopacket/afpacket, blocking poll).", capture.EngineRing, &c.live.Engine, capture.EngineRing, capture.EngineAFPacket)
	c.cmd.Flag("capture.filter", "Capture filter (a documented subset of tcpdump's syntax, compiled without libpcap).").StringVar(&c.live.Filter)
	c.cmd.Flag("capture.decapsulate", "Attribute tunnelled traffic to the inner hosts.").Default("true").BoolVar(&c.decapsulate)
	c.cmd.Flag("capture.payload", "Bytes kept after a TCP or UDP header, for the tunnel classifier's signatures, read and dropped (0: headers only; tunnels are then found by protocol number alone: ESP, GRE, decapsulated tunnels).").Default(fmt.Sprint(tunnel.PayloadBytes)).IntVar(&c.live.Payload)
	c.cmd.Flag("config", "Policy file (YAML); re-read on SIGHUP and POST /-/reload.").StringVar(&c.config)
	enumFlag(c.cmd, "metrics.asn", "Per-ASN series: none, flagged (ASNs of flagged traffic), top (the top N by bytes, the rest as asn=\"other\").", "flagged", &c.asnMode, "none", "flagged", "top")
	c.cmd.Flag("metrics.asn-top", "N for --metrics.asn=top.").Default("50").IntVar(&c.topASN)
	c.cmd.Flag("flow.idle-timeout", "A flow with no packet for this long ends.").Default(c.flows.IdleTimeout.String()).DurationVar(&c.flows.IdleTimeout)
	c.cmd.Flag("flow.max", "Flow table cap per worker: the least recently used flow is evicted past it.").Default(fmt.Sprint(c.flows.MaxFlows)).IntVar(&c.flows.MaxFlows)
	c.cmd.Flag("flow.max-aggregates", "Aggregate cap per worker: past it, new ASNs fold into their country.").Default(fmt.Sprint(c.flows.MaxAggregates)).IntVar(&c.flows.MaxAggregates)
	c.cmd.Flag("events.file", "Write flagged flows as JSON lines to this file (- for stdout, empty for none).").Envar("JURISMON_EVENTS_FILE").StringVar(&c.events.Path)
	c.cmd.Flag("events.max-size", "Rotate the event file past this many bytes.").Default(fmt.Sprint(64 << 20)).Int64Var(&c.events.MaxSize)
	c.cmd.Flag("events.max-files", "Rotated event files kept.").Default("5").IntVar(&c.events.MaxFiles)
	c.cmd.Flag("events.rate", "Event lines written per second at most (bursts of 10x).").Default("100").Float64Var(&c.events.RatePerSecond)
	c.cmd.Flag("events.recent", "Flagged flows kept for /api/v1/flagged-flows.").Default("1000").IntVar(&c.events.Recent)
	c.cmd.Flag("events.interval", "Also report live flagged flows this often (0: only when they end).").Default("60s").DurationVar(&c.eventsEvery)
	c.cmd.Flag("host.addresses-interval", "How often the host's addresses are re-read (they are also re-read on change notifications).").Default("30s").DurationVar(&c.addrEvery)
	c.paths.register(c.cmd)
	c.attribution.register(c.cmd, true)
	c.vendors.register(c.cmd, true)
	enumFlag(c.cmd, "metrics.vendor", "Per-vendor series of jurismon_device_bytes_total: flagged (devices a vendors rule flags), top (every device, the top N vendors by bytes, the rest as vendor=\"other\").", "flagged", &c.vendorMode, "flagged", "top")
	c.cmd.Flag("metrics.vendor-top", "N for --metrics.vendor=top.").Default("20").IntVar(&c.topVendors)
	c.tunnels.register(c.cmd)
	c.cmd.Flag("debug.cpu-profile", "Write a CPU profile of the run to this file.").Hidden().StringVar(&c.cpuProfile)
	c.cmd.Flag("run-as", "User to become once capture has started (keeping only CAP_NET_RAW, and CAP_NET_ADMIN with --capture.promiscuous). Default: nobody when started as root, else no switch; root keeps root.").StringVar(&c.runAs)
	c.cmd.Flag("shutdown-timeout", "Time allowed for an orderly stop.").Default("10s").DurationVar(&c.stopTimeout)
	return c
}

// agent holds the running components; they start in order and stop in reverse.
type agent struct {
	logger  *slog.Logger
	cmd     *runCommand
	res     *geo.Resolver
	env     *flow.Env
	live    *capture.LiveCapture
	workers []*flow.Worker // one per capture worker: each owns its decoder and accountant
	events  *events.Log
	paths   *paths
	attr    *attribution
	vendors *macvendor.Source
	devices *macvendor.Inventory
	reg     *prometheus.Registry

	runAs runAs

	reloadMu  sync.Mutex
	policySum [32]byte
	reloads   *reloadMetrics
}

func (c *runCommand) run(logger *slog.Logger, gf *geoFlags) error {
	warnIfRoot(logger)
	if err := c.webLimits.check(); err != nil {
		return err
	}
	if c.cpuProfile != "" {
		stopProfile, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	a := &agent{logger: logger, cmd: c, reg: prometheus.NewRegistry()}
	var err error
	if a.runAs, err = resolveRunAs(c.runAs); err != nil {
		return err
	}
	pol, err := loadPolicy(c.config)
	if err != nil {
		return err
	}
	a.policySum = pol.Checksum()
	if err := c.tunnels.setup(pol); err != nil {
		return err
	}
	if a.res, err = gf.open(logger); err != nil {
		return err
	}
	defer a.res.Close()
	a.env = flow.NewEnv(a.res, pol, gf.lookupDoc)
	if a.vendors, err = c.vendors.open(logger); err != nil {
		return err
	}
	a.env.Enrichers = append(a.env.Enrichers, macvendor.Enricher{Source: a.vendors})
	a.devices = macvendor.NewInventory(macvendor.InventoryOptions{Policy: a.env.Policy, MaxDevices: c.vendors.maxDevices, Window: c.vendors.window})
	a.env.Inspectors = []enrich.Inspector{c.tunnels.inspector(a.res)}

	if c.live.Payload < 0 {
		return usageError{fmt.Errorf("--capture.payload %d: want 0 or more bytes", c.live.Payload)}
	}
	c.live.Logger = logger
	if c.attribution.dns {
		c.live.DNSSnapLen = c.attribution.dnsSnapLen // the answers are payload
	}
	warnMissingInterfaces(logger, c.live.Interfaces)
	c.live.Decapsulate = c.decapsulate // keep the inner headers the decoder reads
	if a.live, err = capture.NewLive(c.live); err != nil {
		return err
	}
	if c.events.Path != "" || c.events.Recent > 0 {
		c.events.Burst = int(10 * c.events.RatePerSecond)
		c.events.Logger = logger
		if a.events, err = events.New(c.events); err != nil {
			return err
		}
	}
	a.attr = c.attribution.open(logger, a.env, a.events)
	a.attr.setup(a.env)
	if a.paths, err = startPaths(ctx, &c.paths, a.env, a.res, gf.lookupDoc, a.reg, logger); err != nil {
		return err
	}
	defer a.paths.close()
	a.newWorkers(c.flows)
	a.registerMetrics(c)
	a.attr.register(a.reg)
	a.attr.run(ctx)

	// Components start in order: event writer, address watch, capture, HTTP.
	var wg sync.WaitGroup
	evCtx, evStop := context.WithCancel(context.Background())
	if a.events != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.events.Run(evCtx) }()
	}
	// The host's own addresses are local (its neighbours are not): read
	// them before the first packet, then follow changes.
	setHostAddrs := func(addrs []netip.Addr) {
		a.env.SetHostAddrs(addrs)
		logger.Debug("host addresses", "addresses", addrs)
	}
	if addrs, err := flow.HostAddrs(); err != nil {
		logger.Warn("cannot read the host's addresses; direction relies on the configured local networks", "err", err)
	} else {
		setHostAddrs(addrs)
	}
	go flow.WatchHostAddrs(ctx, c.addrEvery, setHostAddrs)
	go a.watchDatabases(ctx)

	capErr := make(chan error, 1)
	go func() {
		capErr <- a.live.Run(ctx, a.handle)
	}()
	go a.signalReloads(ctx)
	go a.dropPrivilegesWhenStarted(ctx)

	ws := newWebServer(&c.webLimits, a.routes(c), a.reg)
	srv := ws.srv
	srv.ErrorLog = httpErrorLog(logger)
	srvErr := make(chan error, 1)
	go func() { srvErr <- ws.serve(c.web, logger) }()
	logger.Info("jurismon started", "version", version.Info(), "interfaces", a.live.Interfaces(), "workers", a.live.Workers())

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("stopping")
	case err := <-capErr:
		runErr = err  // says "capture: ..." itself
		capErr <- nil // for the wait below: the workers have returned
	case err := <-srvErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("web server: %w", err)
		}
	}
	// Stop in reverse: capture, then flush flows into the event log, close
	// it, then the HTTP server (last, so the final state can be scraped).
	stop()
	deadline, cancel := context.WithTimeout(context.Background(), c.stopTimeout)
	defer cancel()
	select {
	case <-capErr:
		// The workers have returned: the accountants are ours now. Every
		// flagged flow still open gets its final event, past the rate limit.
		if a.events != nil {
			a.events.Flushing()
		}
		for _, w := range a.workers {
			w.Flush()
		}
	case <-deadline.Done():
		var open int64
		for _, w := range a.workers {
			open += w.Acct.Stats.FlowEntries.Load()
		}
		logger.Error("capture did not stop in time; the flows still open are not reported", "flows", open)
	}
	if a.events != nil {
		if err := a.events.Close(); err != nil {
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

// newWorkers makes one pipeline per capture worker, each with its own
// decoder and accountant, all telling the same observers.
func (a *agent) newWorkers(cfg flow.Config) {
	cfg.Grouping = flow.ByMetrics
	cfg.AllVendors = a.cmd.vendorMode == string(exporter.VendorTop)
	cfg.PublishEvery = time.Second // a scrape is at most this stale
	cfg.NoHosts = true             // no metric counts hosts: save the memory
	cfg.EventInterval = a.cmd.eventsEvery
	obs := append(a.paths.observers(), a.devices)
	obs = append(obs, a.attr.observers()...)
	if a.events != nil {
		obs = append(obs, a.attr.flagged(a.events.Observe))
	}
	obs = append(obs, a.cmd.tunnels.inventory)
	a.workers = make([]*flow.Worker, a.live.Workers())
	for i := range a.workers {
		a.workers[i] = flow.NewWorker(flow.NewAccountant(a.env, cfg, obs...), a.cmd.decapsulate)
		a.attr.worker(a.workers[i])
		if a.paths.prober != nil {
			// The agent's own probes and their replies: jurismon_path_probe_* only.
			a.workers[i].Exclude = a.paths.prober.Owns
		}
	}
}

// handle is the packet path of live worker w (see flow.Worker.Handle).
func (a *agent) handle(w int, f *capture.Frame) { a.workers[w].Handle(f) }

func (a *agent) accountants() []*flow.Accountant {
	out := make([]*flow.Accountant, len(a.workers))
	for i, w := range a.workers {
		out[i] = w.Acct
	}
	return out
}

func (a *agent) decodeCounts() []*flow.DecodeCounts {
	out := make([]*flow.DecodeCounts, len(a.workers))
	for i, w := range a.workers {
		out[i] = &w.Decodes
	}
	return out
}

func (a *agent) registerMetrics(c *runCommand) {
	a.reg.MustRegister(
		versioncollector.NewCollector("jurismon"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		exporter.New(exporter.Sources{
			Accountants: a.accountants,
			Decoders:    a.decodeCounts,
			Capture:     a.live.Stats,
			Geo:         a.res,
		}, exporter.Options{ASN: exporter.ASNMode(c.asnMode), TopASN: c.topASN,
			Vendor: exporter.VendorMode(c.vendorMode), TopVendors: c.topVendors}),
	)
	a.reg.MustRegister(a.vendors, a.devices.Collector())
	a.reloads = newReloadMetrics()
	a.reloads.succeeded() // the configuration the agent started with
	a.reg.MustRegister(a.reloads)
	if a.events != nil {
		a.reg.MustRegister(a.events.Collector())
	}
	a.reg.MustRegister(c.tunnels.inventory.Collector())
}

func (a *agent) routes(c *runCommand) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.logger.Handler(), slog.LevelError), Registry: a.reg}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		// Ready means every interface is capturing: one that is missing
		// or down (and being retried) is named, so an orchestrator or a
		// person sees which.
		var down []string
		for _, s := range a.live.Stats() {
			if !s.Up {
				down = append(down, s.Interface)
			}
		}
		if len(down) > 0 || !a.live.Started() {
			http.Error(w, "Not ready: capture is down on "+strings.Join(down, ", "), http.StatusServiceUnavailable)
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
		if err := a.reload(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	// The landing page links exactly what is served.
	links := []web.LandingLinks{{Address: "/metrics", Text: "Metrics"}}
	if a.events != nil {
		mux.Handle("/api/v1/flagged-flows", a.events.Handler())
		links = append(links, web.LandingLinks{Address: "/api/v1/flagged-flows", Text: "Flagged flows", Description: "the most recent flagged flows, as JSON"})
	}
	var sched *probe.Scheduler
	if a.paths != nil {
		sched = a.paths.scheduler
	}
	mux.Handle("/api/v1/paths", probe.PathsHandler(sched)) // {"paths": []} without --probe.target or --probe.auto
	mux.Handle("/api/v1/devices", a.devices.Handler())
	mux.Handle("/api/v1/tunnels", c.tunnels.inventory.Handler())
	links = append(links,
		web.LandingLinks{Address: "/api/v1/tunnels", Text: "Tunnels", Description: "the active tunnels and VPNs, where they end, as JSON"},
		web.LandingLinks{Address: "/api/v1/paths", Text: "Paths", Description: "the traced paths, hop by hop, as JSON (with --probe.target or --probe.auto)"},
		web.LandingLinks{Address: "/api/v1/devices", Text: "Devices", Description: "the local devices seen, with their vendors and where they talk to, as JSON"},
		web.LandingLinks{Address: "/-/healthy", Text: "Health"},
		web.LandingLinks{Address: "/-/ready", Text: "Readiness"},
	)
	// The landing page is the live overview, with these links.
	src := ui.Sources{Accountants: a.accountants, Policy: a.env.Policy, FlaggedFlows: a.events != nil}
	if sched != nil {
		src.Paths = sched.Paths
		if o, err := latency.ParseOrigin(c.paths.location); err == nil {
			src.Home = o.Country
		}
	}
	ui.Register(mux, src, web.LandingConfig{
		Name:        "jurismon",
		Description: "Where this host's traffic goes, in whose jurisdiction",
		Version:     version.Info(),
		Links:       links,
	}, a.logger)
	return mux
}

// reload re-reads the policy (skipped when unchanged) and the databases.
// A bad file keeps the last good state running.
func (a *agent) reload() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	err := a.reloadLocked()
	if err != nil {
		a.reloads.failed()
		a.logger.Error("reload failed; keeping the running configuration", "err", err)
		return err
	}
	a.reloads.succeeded()
	return nil
}

func (a *agent) reloadLocked() error {
	if a.cmd.config != "" {
		p, err := policy.Load(a.cmd.config)
		if err != nil {
			return err
		}
		// The provider list may change without the policy: read it each time.
		if err := a.cmd.tunnels.loadProviders(p); err != nil {
			return err
		}
		if sum := p.Checksum(); sum != a.policySum {
			a.env.SetPolicy(p)
			a.policySum = sum
			a.logger.Info("policy reloaded", "file", a.cmd.config, "jurisdictions", p.Jurisdictions())
		}
	}
	if err := a.res.Reload(); err != nil {
		return fmt.Errorf("geo databases: %w", err)
	}
	// Without ieee-data installed there is nothing to reload, and that is
	// not a failure; a registry that was there and is now broken is.
	if err := a.vendors.Reload(); err != nil && !(errors.Is(err, macvendor.ErrNoRegistry) && a.vendors.Registry().Len() == 0) {
		return fmt.Errorf("IEEE MAC registry: %w", err)
	}
	return nil
}

func (a *agent) signalReloads(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = a.reload() // logged and exported by reload
		}
	}
}
