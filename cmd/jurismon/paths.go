package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/latency"
	"github.com/jurismon/jurismon/policy"
	"github.com/jurismon/jurismon/probe"
)

// pathFlags configure route probing and the passive RTT and TTL signals.
type pathFlags struct {
	targets  []string
	auto     bool
	interval time.Duration
	maxTTL   int
	rate     float64
	location string
	passive  bool
}

func (p *pathFlags) register(cmd *kingpin.CmdClause) {
	cmd.Flag("probe.target", "Destination whose path is traced: [NAME=]HOST[:PORT][/udp|tcp|icmp] (default udp; tcp needs a port). Repeatable.").StringsVar(&p.targets)
	cmd.Flag("probe.auto", "Also trace destinations picked from the traffic: the busiest remote prefixes and every new one (per /24 and /48, rate-limited).").BoolVar(&p.auto)
	cmd.Flag("probe.interval", "Re-trace every destination this often.").Default("10m").DurationVar(&p.interval)
	cmd.Flag("probe.max-ttl", "Highest TTL probed.").Default("30").IntVar(&p.maxTTL)
	cmd.Flag("probe.rate", "Probes per second, at most, for all traces together.").Default("50").Float64Var(&p.rate)
	cmd.Flag("location", "Where this agent is, for the plausibility of RTTs: \"LAT,LON\" or an ISO country code.").StringVar(&p.location)
	cmd.Flag("rtt.passive", "Measure TCP handshake RTTs and TTL hop counts of live traffic.").Default("true").BoolVar(&p.passive)
}

// parseTarget parses [NAME=]HOST[:PORT][/METHOD].
func parseTarget(s string) (probe.Target, error) {
	t := probe.Target{Method: probe.MethodUDP}
	rest := s
	if name, r, ok := strings.Cut(rest, "="); ok {
		t.Name, rest = name, r
	}
	if hp, m, ok := strings.Cut(rest, "/"); ok {
		method, err := probe.ParseMethod(m)
		if err != nil {
			return t, fmt.Errorf("probe target %q: %w", s, err)
		}
		t.Method, rest = method, hp
	}
	host, port := rest, ""
	switch {
	case strings.HasPrefix(rest, "["): // [v6] or [v6]:port
		end := strings.Index(rest, "]")
		if end < 0 {
			return t, fmt.Errorf("probe target %q: missing ]", s)
		}
		host, port = rest[1:end], strings.TrimPrefix(rest[end+1:], ":")
	case strings.Count(rest, ":") == 1: // host:port; more colons: a bare IPv6 address
		host, port, _ = strings.Cut(rest, ":")
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return t, fmt.Errorf("probe target %q: bad port %q", s, port)
		}
		t.Port = uint16(n)
	}
	if host == "" {
		return t, fmt.Errorf("probe target %q: no host", s)
	}
	t.Host = host
	if t.Name == "" {
		t.Name = host
	}
	if t.Method == probe.MethodTCP && t.Port == 0 {
		return t, fmt.Errorf("probe target %q: a tcp trace needs the destination's port", s)
	}
	return t, nil
}

// paths is the running route prober, if any.
type paths struct {
	prober    *probe.Prober
	scheduler *probe.Scheduler
	passive   *latency.PassiveRTT
	auto      bool // trace destinations picked from the traffic
}

// startPaths builds the prober (opening its raw sockets now, while the
// agent still has the privileges) and the passive signals; observers then
// wires them into the flow accounting.
func startPaths(ctx context.Context, f *pathFlags, env *flow.Env, res *geo.Resolver, lookupDoc bool, reg prometheus.Registerer, logger *slog.Logger) (*paths, error) {
	origin, err := latency.ParseOrigin(f.location)
	if f.location != "" && err != nil {
		return nil, fmt.Errorf("--location: %w", err)
	}
	var targets []probe.Target
	for _, s := range f.targets {
		t, err := parseTarget(s)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	p := &paths{}
	if len(targets) > 0 || f.auto {
		p.prober, err = probe.NewProber(probe.Options{
			MaxTTL:       f.maxTTL,
			ProbesPerSec: f.rate,
			Locator:      res,
			Judge: func(a netip.Addr, loc *geo.Location) (string, bool) {
				f := enrich.At(a, loc)
				v := env.Policy().Evaluate(&f)
				return v.Jurisdiction, v.Flagged()
			},
			Origin: origin,
		})
		if err != nil {
			return nil, fmt.Errorf("route prober: %w", err)
		}
		p.scheduler, err = probe.NewScheduler(p.prober, probe.SchedulerOptions{
			Targets:             targets,
			Interval:            f.interval,
			Auto:                f.auto,
			LookupDocumentation: lookupDoc,
			ChangeLog:           slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("msg_type", "path_change"),
		})
		if err != nil {
			p.prober.Close()
			return nil, err
		}
		if err := reg.Register(probe.NewCollector(p.scheduler, p.prober)); err != nil {
			return nil, err
		}
		go func() {
			if err := p.scheduler.Run(ctx); err != nil && ctx.Err() == nil {
				logger.Error("route prober stopped", "err", err)
			}
		}()
		p.auto = f.auto
		logger.Info("tracing paths", "targets", len(targets), "auto", f.auto)
	}
	if f.passive {
		opts := latency.PassiveOptions{Origin: origin}
		if p.scheduler != nil {
			opts.OnHopChange = p.scheduler.Hint
		}
		p.passive = latency.NewPassiveRTT(opts)
		if err := reg.Register(p.passive.Collector()); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// observers returns what the flow accounting tells the paths: the ends of
// flows (auto targets) and the passive RTT and TTL signals.
func (p *paths) observers() []flow.Observer {
	var obs []flow.Observer
	if p == nil {
		return nil
	}
	if p.auto {
		obs = append(obs, flow.EndedFunc(func(ev *flow.Event) {
			// Both endpoints of a transit flow are remote: either may be
			// worth tracing.
			bytes := ev.BytesTo + ev.BytesFrom
			p.scheduler.Observe(ev.Remote.Addr(), bytes)
			if ev.Transit {
				p.scheduler.Observe(ev.Local.Addr(), bytes)
			}
		}))
	}
	if p.passive != nil {
		obs = append(obs, passiveObserver{p.passive})
	}
	return obs
}

// passiveObserver feeds handshakes and remote TTLs to the passive signals.
type passiveObserver struct{ rtt *latency.PassiveRTT }

func (o passiveObserver) ObserveHandshake(f *enrich.Facts, v policy.Verdict, rtt time.Duration) {
	o.rtt.ObserveHandshake(f.Remote.Addr(), f.Location.Country, v.Jurisdiction, rtt)
}

func (o passiveObserver) ObserveTTL(remote netip.Addr, loc *geo.Location, ttl uint8) {
	o.rtt.ObserveTTL(remote, loc.Country, ttl)
}

func (p *paths) close() {
	if p != nil && p.prober != nil {
		p.prober.Close()
	}
}
