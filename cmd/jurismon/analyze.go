package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/gopacket/gopacket/layers"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/capture/pcapfile"
	"github.com/jurismon/jurismon/collect"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/macvendor"
	"github.com/jurismon/jurismon/policy"
	"github.com/jurismon/jurismon/report"
)

type analyzeCommand struct {
	cmd           *kingpin.CmdClause
	files         []string
	config        string
	by            string
	format        string
	failOnFlagged bool
	decapsulate   bool
	top           int
	localNets     []string
	progress      string
	cpuProfile    string
	workers       int
	split         string
	flowRecords   bool
	flows         flow.Config
	attribution   attributionFlags
	vendors       vendorFlags
}

func newAnalyzeCommand(app *kingpin.Application) *analyzeCommand {
	c := &analyzeCommand{flows: flow.DefaultConfig()}
	c.cmd = app.Command("analyze", fmt.Sprintf("Report where the traffic in capture files goes (pcap or pcapng, plain or gzip; - for stdin). Several files make one report. A file cut short is reported up to the cut, and the exit code is then %d.", exitTruncated))
	c.cmd.Arg("files", "Capture files.").Required().StringsVar(&c.files)
	c.cmd.Flag("config", "Policy file (YAML) naming the flagged jurisdictions.").StringVar(&c.config)
	enumFlag(c.cmd, "by", "Grouping of the rows: location, country, asn, remote, local-remote, device (the local device's MAC and vendor), domain (the registrable domain the DNS answers seen in the files name), tunnel (one row per tunnel or VPN).", "location", &c.by, "location", "country", "asn", "remote", "local-remote", "device", "domain", "tunnel")
	enumFlag(c.cmd, "format", "Output format: table, json, csv, html (a self-contained report to read and print), svg (the map alone).", "table", &c.format, report.Formats...)
	c.cmd.Flag("top", "Show only the N largest rows (0: all); the summary's totals still count every row.").Default("0").IntVar(&c.top)
	c.cmd.Flag("local-network", "A network on the capture host's side (CIDR or address; repeatable), for captures taken on a host with a public address.").StringsVar(&c.localNets)
	c.cmd.Flag("fail-on-flagged", fmt.Sprintf("Exit with code %d when any flagged traffic was seen.", exitFlagged)).BoolVar(&c.failOnFlagged)
	c.cmd.Flag("decapsulate", "Attribute tunnelled traffic (VXLAN, GENEVE, GRE, ERSPAN, IP-in-IP) to the inner hosts; --no-decapsulate counts outer headers.").Default("true").BoolVar(&c.decapsulate)
	c.cmd.Flag("flow-records", "The files hold exported flow datagrams (NetFlow v5/v9, IPFIX, sFlow over UDP): account their records, not the packets.").BoolVar(&c.flowRecords)
	enumFlag(c.cmd, "progress", "Progress line on stderr: auto (when stderr is a terminal), always, never.", "auto", &c.progress, "auto", "always", "never")
	c.cmd.Flag("workers", "Goroutines that account the traffic, each its share of the flows (default: the cores available). The report is the same with any number.").Default(fmt.Sprint(runtime.GOMAXPROCS(0))).IntVar(&c.workers)
	enumFlag(c.cmd, "debug.split", "How --workers share the input: route (one reader decodes and hands each worker its packets) or share (each worker reads every file and accounts its flows; 28–40% more CPU in all than one worker, against route's 0–10%).", "route", &c.split, "share", "route")
	c.cmd.Flag("debug.cpu-profile", "Write a CPU profile of the run to this file.").Hidden().StringVar(&c.cpuProfile)
	c.cmd.Flag("flow.idle-timeout", "A flow with no packet for this long ends.").Default(c.flows.IdleTimeout.String()).DurationVar(&c.flows.IdleTimeout)
	c.cmd.Flag("flow.max", "Flow table cap: the least recently used flow is evicted past it.").Default(fmt.Sprint(c.flows.MaxFlows)).IntVar(&c.flows.MaxFlows)
	c.cmd.Flag("report.max-rows", "Aggregate (row) cap: past it, new aggregates fold into one row per country and verdict.").Default(fmt.Sprint(c.flows.MaxAggregates)).IntVar(&c.flows.MaxAggregates)
	c.attribution.register(c.cmd, false)
	c.vendors.register(c.cmd, false)
	c.cmd.Flag("report.max-hosts", "Distinct remote hosts tracked for the host counts.").Default(fmt.Sprint(c.flows.MaxHosts)).IntVar(&c.flows.MaxHosts)
	return c
}

func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Empty(), nil
	}
	return policy.Load(path)
}

func (c *analyzeCommand) run(logger *slog.Logger, gf *geoFlags) error {
	if c.workers < 1 {
		return usageError{fmt.Errorf("--workers %d: must be 1 or more", c.workers)}
	}
	if c.top < 0 {
		return usageError{fmt.Errorf("--top %d: must be 0 (every row) or more", c.top)}
	}
	local, err := parseLocalNetworks(c.localNets)
	if err != nil {
		return usageError{err}
	}
	if err := distinctFiles(c.files); err != nil {
		return err
	}
	pol, err := loadPolicy(c.config)
	if err != nil {
		return err
	}
	if c.failOnFlagged && c.config == "" {
		logger.Warn("--fail-on-flagged without --config: there is no policy, so nothing can be flagged and the exit code is never 3")
	}
	res, err := gf.open(logger)
	if err != nil {
		return err
	}
	defer res.Close()
	if c.cpuProfile != "" {
		stopProfile, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	by, _ := flow.ParseGrouping(c.by)
	c.flows.Grouping = by
	var tun tunnels
	if err := tun.setup(pol); err != nil {
		return err
	}
	env := flow.NewEnv(res, pol, gf.lookupDoc)
	env.LocalNetworks = local
	vendors, err := c.vendors.open(logger)
	if err != nil {
		return err
	}
	env.Enrichers = append(env.Enrichers, macvendor.Enricher{Source: vendors})
	env.Inspectors = append(env.Inspectors, tun.inspector(res))
	findHost := len(local) == 0 && len(pol.LocalNetworks()) == 0
	attr := c.attribution.open(logger, env, nil)
	attr.setup(env)
	an, err := c.analyze(env, attr, findHost, tun.inventory)
	if err != nil {
		return err
	}
	acct, hosts := an.w.Acct, an.hosts

	s := an.summary(c.files, res, &an.decodes)
	s.LocalNetworks = prefixStrings(local)
	if hosts != nil {
		s.CaptureHost = hosts.hint(s)
	}
	s.Tunnels = tun.inventory.Started()
	rep := report.Build(acct.Aggregates(), by, s)
	rep.Top(c.top)
	rep.Summary.FirstPacket, rep.Summary.LastPacket = an.span.times()
	rep.Summary.Policy = policySummary(c.config, pol)
	rep.Created = time.Now()
	if err := rep.Write(os.Stdout, c.format); err != nil {
		return err
	}
	an.warn(logger, s)
	if c.failOnFlagged && rep.Flagged() {
		return errFlagged
	}
	if len(an.truncated) > 0 {
		return errTruncated
	}
	return nil
}

// errTruncated makes analyze exit with exitTruncated once the report of
// what could be read is written.
var errTruncated = errors.New("truncated capture")

// parseLocalNetworks reads the --local-network values: CIDR prefixes or
// single addresses.
func parseLocalNetworks(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("--local-network %q: not a CIDR prefix or an address (write 192.0.2.0/24 or 2001:db8::/32)", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("--local-network %s: host bits set (the network is %s; a single host is %s/%d)", v, p.Masked(), p.Addr(), p.Addr().BitLen())
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// distinctFiles refuses a file given twice (under one name or two): its
// traffic would be counted twice and every total would be wrong.
func distinctFiles(files []string) error {
	type seen struct {
		name string
		fi   os.FileInfo
	}
	var infos []seen
	for _, name := range files {
		fi, err := os.Stat(name)
		if err != nil {
			continue // OpenFile reports it, with the file's name
		}
		for _, o := range infos {
			if os.SameFile(o.fi, fi) {
				if o.name == name {
					return fmt.Errorf("%s is given twice: give each capture file once (its traffic would be counted twice)", name)
				}
				return fmt.Errorf("%s and %s are the same file: give each capture file once (its traffic would be counted twice)", o.name, name)
			}
		}
		infos = append(infos, seen{name, fi})
	}
	return nil
}

// policySummary names the policy file in the report, or nil without one.
func policySummary(path string, pol *policy.Policy) *report.Policy {
	if path == "" {
		return nil
	}
	sum := pol.Checksum()
	text, _ := os.ReadFile(path) // just parsed; the checksum is what counts if it changed since
	return &report.Policy{File: path, SHA256: hex.EncodeToString(sum[:]), Jurisdictions: pol.Jurisdictions(), Text: string(text)}
}

// timeSpan is the capture time of the earliest and latest frame read.
type timeSpan struct{ first, last int64 } // Unix nanoseconds; first 0 until a frame

func (s *timeSpan) add(ts int64) {
	if ts < s.first || s.first == 0 {
		s.first = ts
	}
	s.last = max(s.last, ts)
}

// times returns the span, zero times when no frame was read.
func (s *timeSpan) times() (first, last time.Time) {
	if s.first == 0 && s.last == 0 {
		return time.Time{}, time.Time{}
	}
	return time.Unix(0, s.first).UTC(), time.Unix(0, s.last).UTC()
}

func (c *analyzeCommand) showProgress() bool {
	switch c.progress {
	case "always":
		return true
	case "never":
		return false
	}
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// startCPUProfile profiles the process into path until the returned func runs.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// analysis reads the files into one flow.Worker and keeps what the
// summary says about the files themselves.
type analysis struct {
	w     *flow.Worker
	route *router      // with --debug.split=route, the reader's
	hosts *hostCounter // nil when there are local networks
	// decodes are the decode results of every worker, once they are done.
	decodes flow.DecodeCounts
	// rec, with --flow-records: the frames are flow datagrams whose
	// records are accounted.
	rec *collect.Decoder
	// unsupported counts the frames of each link type the decoder does not
	// know, so that the summary can name them.
	unsupported map[capture.LinkType]uint64
	truncated   []report.Truncation
	span        timeSpan // capture times of the first and last packets read
}

// analyze reads the files with c.workers workers and merges what they
// counted into the first one's analysis. With --debug.split=share each
// worker reads every file and accounts its share of the flows
// (flow.Worker.Share): nothing is copied between goroutines, but the files
// are read and decoded c.workers times. With route, one goroutine reads
// and decodes, and the workers only account (see router). A stream
// (standard input, a pipe) can be read only once: it is always routed.
func (c *analyzeCommand) analyze(env *flow.Env, attr *attribution, findHost bool, shared ...flow.Observer) (*analysis, error) {
	n := c.workers
	if c.flowRecords {
		// Records carry their own flows, decoded with the templates
		// their exporters sent before: one worker reads them all.
		n = 1
	}
	split := c.split
	if slices.ContainsFunc(c.files, func(name string) bool {
		fi, err := os.Stat(name)
		return err == nil && !fi.Mode().IsRegular()
	}) {
		split = "route"
	}
	cfg := c.flows
	cfg.Mergeable = n > 1
	ans := make([]*analysis, n)
	for i := range ans {
		obs := append([]flow.Observer(nil), shared...) // every worker tells the same tunnel inventory
		an := &analysis{unsupported: map[capture.LinkType]uint64{}}
		if findHost {
			an.hosts = newHostCounter()
			obs = append(obs, an.hosts)
		}
		an.w = flow.NewWorker(flow.NewAccountant(env, cfg, obs...), c.decapsulate)
		an.w.Share(i, n)
		attr.worker(an.w)
		if c.flowRecords {
			an.rec = collect.NewDecoder(nil, an.w)
		}
		ans[i] = an
	}
	if split == "route" && n > 1 {
		return c.analyzeRouted(ans, attr)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, an := range ans {
		wg.Go(func() {
			// Only the first worker shows progress and keeps the
			// frames it cannot decode and the cuts: the others see
			// the same files (see flow.Worker.Share).
			progress := i == 0 && c.showProgress()
			for _, name := range c.files {
				if errs[i] = an.file(name, progress); errs[i] != nil {
					return
				}
			}
			an.w.Flush()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // every worker reads the same files: the first says it
		}
	}
	return merge(ans), nil
}

// analyzeRouted reads the files once, in this goroutine, and routes the
// packets to ans's workers (see router).
func (c *analyzeCommand) analyzeRouted(ans []*analysis, attr *attribution) (*analysis, error) {
	first := ans[0]
	first.route = newRouter(len(ans), c.decapsulate)
	if attr.dns != nil {
		// The one reader reads the DNS answers before it routes the
		// packets after them: a flow is named as one worker would name it.
		first.route.dns = attr.dns.NewTap()
	}
	var wg sync.WaitGroup
	for i, an := range ans {
		in := first.route.out[i]
		wg.Go(func() { first.route.account(an.w, in) })
	}
	var err error
	for _, name := range c.files {
		if err = first.file(name, c.showProgress()); err != nil {
			break
		}
	}
	first.route.close()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for r, n := range first.route.counts {
		first.decodes[r].Add(n)
	}
	return merge(ans), nil
}

// merge adds what every worker counted to the first one's analysis.
func merge(ans []*analysis) *analysis {
	first := ans[0]
	for _, an := range ans {
		for r := range capture.NumResults {
			first.decodes[r].Add(an.w.Decodes.Load(r))
		}
		if an == first {
			continue
		}
		first.w.Acct.Merge(an.w.Acct)
		if an.hosts != nil {
			first.hosts.merge(an.hosts)
		}
	}
	return first
}

// progressMin is the file size from which a progress line is worth showing.
const progressMin = 64 << 20

// file feeds every frame of a file to the worker. A file cut short (a
// capture still being written, a copy that did not finish) is not an error:
// everything before the cut is accounted, as tcpdump reads it, and the cut
// is recorded for the summary.
func (an *analysis) file(name string, progress bool) error {
	fs, err := pcapfile.OpenFile(name) // "-" arrives as /dev/stdin, which streams
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			an.cut(name, 0, err)
			return nil
		}
		return err // capture's errors name the file
	}
	defer fs.Close()
	if _, total := fs.Progress(); total < progressMin {
		progress = false
	}
	var (
		f    capture.Frame
		read uint64 // frames of this file
		last = time.Now()
	)
	for {
		if err := fs.Next(&f); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				an.cut(name, read, err)
				break
			}
			return err
		}
		read++
		an.span.add(f.Timestamp)
		var r capture.Result
		switch {
		case an.rec != nil:
			an.rec.Frame(&f)
		case an.route != nil:
			r = an.route.handle(&f)
		default:
			r = an.w.Handle(&f)
		}
		if r == capture.UnsupportedLink {
			an.unsupported[f.Link]++
		}
		if progress && read&0xffff == 0 && time.Since(last) > 500*time.Millisecond {
			last = time.Now()
			done, total := fs.Progress()
			fmt.Fprintf(os.Stderr, "\r%s: %5.1f%% %d packets", name, 100*float64(done)/float64(max(total, 1)), read)
		}
	}
	if progress {
		fmt.Fprintf(os.Stderr, "\r%s: 100.0%% %d packets\n", name, read)
	}
	return nil
}

// cut records that name ended short after packets whole packets.
func (an *analysis) cut(name string, packets uint64, err error) {
	// capture's messages start with "capture: NAME: "; the summary names
	// the file itself.
	msg := strings.TrimPrefix(err.Error(), "capture: ")
	msg = strings.TrimPrefix(msg, name+": ")
	an.truncated = append(an.truncated, report.Truncation{File: name, Packets: packets, Error: msg})
}

// warn repeats on stderr what a user must not miss in the summary, which a
// script may not show them: truncated files and undecodable link types.
func (an *analysis) warn(logger *slog.Logger, s report.Summary) {
	for _, t := range s.Truncated {
		logger.Warn("capture file is truncated: the report covers what comes before the cut",
			"file", t.File, "packets_read", t.Packets, "cut", t.Error)
	}
	for _, u := range s.UnsupportedLinks {
		logger.Warn("frames of an unsupported link type were not decoded", "link_type", u.String(), "frames", u.Frames)
	}
}

func (an *analysis) summary(files []string, res *geo.Resolver, d *flow.DecodeCounts) report.Summary {
	acct := an.w.Acct
	s := report.Summary{
		Files:            files,
		PacketsRead:      d.Frames(),
		Decoded:          d.Load(capture.Decoded),
		NotIP:            d.Load(capture.NotIP),
		Malformed:        map[string]uint64{},
		Directions:       map[string]report.Direction{},
		UnknownLookups:   acct.Stats.UnknownLookups.Load(),
		FlowsEvicted:     acct.Stats.FlowsEvicted.Load(),
		AggregatesFolded: acct.Folded(),
		HostsUntracked:   acct.Stats.HostsUntracked.Load(),
	}
	for r := range capture.NumResults {
		if n := d.Load(r); r.Malformed() && n > 0 {
			s.Malformed[r.String()] = n
		}
	}
	for d := range flow.NumDirections {
		s.Directions[d.String()] = report.Direction{
			Bytes:   acct.Totals.Bytes[d],
			Packets: acct.Totals.Packets[d],
			Flows:   acct.Totals.Flows[d],
		}
	}
	for _, l := range slices.Sorted(maps.Keys(an.unsupported)) {
		s.UnsupportedLinks = append(s.UnsupportedLinks, report.LinkType{
			LinkType: uint16(l), Name: linkTypeName(l), Frames: an.unsupported[l]})
	}
	s.Truncated = an.truncated
	for _, db := range res.Databases() {
		s.Databases = append(s.Databases, report.Database{
			Name: db.Name, Type: db.Type, Source: db.Source,
			BuildTime: db.BuildTime.UTC().Format(time.DateOnly),
		})
	}
	return s
}

// linkTypeName is gopacket's name of a pcap link type in lower case
// (radiotap, ppp), or "" for a number it does not know.
func linkTypeName(l capture.LinkType) string {
	n := layers.LinkType(l).String()
	if n == "UnknownLinkType" || n == "" {
		return ""
	}
	return strings.ToLower(n)
}

// hostCounter finds the capture host of a capture without local networks:
// on a host with a public address every flow is transit (both endpoints
// remote) and the host is one endpoint of nearly all of them. It counts
// the flows of each remote endpoint as flows end, for a bounded number of
// addresses: the capture host shows up early and in most flows, so an
// address first seen after the table is full cannot be it.
type hostCounter struct {
	flows map[netip.Addr]uint64
	ended uint64 // endpoints of ended flows
}

const maxHostCandidates = 4096

func newHostCounter() *hostCounter {
	return &hostCounter{flows: make(map[netip.Addr]uint64)}
}

// ObserveEnded counts the remote endpoints of an ended flow: both of a
// transit flow (flow.EndObserver).
func (h *hostCounter) ObserveEnded(ev *flow.Event) {
	h.count(ev.Remote.Addr())
	if ev.Transit {
		h.count(ev.Local.Addr())
	}
}

func (h *hostCounter) count(remote netip.Addr) {
	h.ended++
	if n, ok := h.flows[remote]; ok || len(h.flows) < maxHostCandidates {
		h.flows[remote] = n + 1
	}
}

// merge adds the counts of o, which saw other flows of the same capture.
func (h *hostCounter) merge(o *hostCounter) {
	h.ended += o.ended
	for a, n := range o.flows {
		h.flows[a] += n
	}
}

// hint names the address in most flows when nothing was local (no egress
// nor ingress) and it is in more than half of the transit flows.
func (h *hostCounter) hint(s report.Summary) *report.CaptureHost {
	if s.Directions["egress"].Flows+s.Directions["ingress"].Flows > 0 {
		return nil
	}
	transit := s.Directions["transit"].Flows
	var best netip.Addr
	var most uint64
	for a, n := range h.flows {
		if n > most || (n == most && a.Less(best)) {
			best, most = a, n
		}
	}
	if transit == 0 || 2*most <= transit {
		return nil
	}
	p := netip.PrefixFrom(best, best.BitLen())
	return &report.CaptureHost{
		Address: best.String(), Flows: most, TransitFlows: transit,
		Hint: fmt.Sprintf("%s looks like the capture host; pass --local-network %s", best, p),
	}
}
