package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jurismon/jurismon/capture"
	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/flow"
	"github.com/jurismon/jurismon/geo"
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
	progress      string
	cpuProfile    string
	flows         flow.Config
}

func newAnalyzeCommand(app *kingpin.Application) *analyzeCommand {
	c := &analyzeCommand{flows: flow.DefaultConfig()}
	c.cmd = app.Command("analyze", "Report where the traffic in capture files goes (pcap or pcapng, plain or gzip; - for stdin). Several files make one report.")
	c.cmd.Arg("files", "Capture files.").Required().StringsVar(&c.files)
	c.cmd.Flag("config", "Policy file (YAML) naming the flagged jurisdictions.").StringVar(&c.config)
	c.cmd.Flag("by", "Grouping of the rows: location, country, asn, remote, local-remote, tunnel (one row per tunnel or VPN).").Default("location").EnumVar(&c.by, "location", "country", "asn", "remote", "local-remote", "tunnel")
	c.cmd.Flag("format", "Output format: table, json, csv.").Default("table").EnumVar(&c.format, report.Formats...)
	c.cmd.Flag("fail-on-flagged", fmt.Sprintf("Exit with code %d when any flagged traffic was seen.", exitFlagged)).BoolVar(&c.failOnFlagged)
	c.cmd.Flag("decapsulate", "Attribute tunnelled traffic (VXLAN, GENEVE, GRE, ERSPAN, IP-in-IP) to the inner hosts; --no-decapsulate counts outer headers.").Default("true").BoolVar(&c.decapsulate)
	c.cmd.Flag("progress", "Progress line on stderr: auto (when stderr is a terminal), always, never.").Default("auto").EnumVar(&c.progress, "auto", "always", "never")
	c.cmd.Flag("debug.cpu-profile", "Write a CPU profile of the run to this file.").Hidden().StringVar(&c.cpuProfile)
	c.cmd.Flag("flow.idle-timeout", "A flow with no packet for this long ends.").Default(c.flows.IdleTimeout.String()).DurationVar(&c.flows.IdleTimeout)
	c.cmd.Flag("flow.max", "Flow table cap: the least recently used flow is evicted past it.").Default(fmt.Sprint(c.flows.MaxFlows)).IntVar(&c.flows.MaxFlows)
	c.cmd.Flag("report.max-rows", "Row cap: past it, new groups fold into one row per country and verdict.").Default(fmt.Sprint(c.flows.MaxGroups)).IntVar(&c.flows.MaxGroups)
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
	pol, err := loadPolicy(c.config)
	if err != nil {
		return err
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
	env.Inspectors = []enrich.Inspector{tun.inspector(res)}
	acct := flow.NewAccountant(env, c.flows, tun.inventory)
	w := flow.NewWorker(acct, c.decapsulate)
	for _, name := range c.files {
		if err := analyzeFile(w, name, c.showProgress()); err != nil {
			return err
		}
	}
	w.Flush()

	s := summary(c.files, w, res)
	s.Tunnels = tun.inventory.Started()
	rep := report.Build(acct.Groups(), by, s)
	if err := rep.Write(os.Stdout, c.format); err != nil {
		return err
	}
	if c.failOnFlagged && rep.Flagged() {
		return errFlagged
	}
	return nil
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

// progressMin is the file size from which a progress line is worth showing.
const progressMin = 64 << 20

// analyzeFile feeds every frame of a file to w.
func analyzeFile(w *flow.Worker, name string, progress bool) error {
	fs, err := capture.OpenFile(name) // "-" arrives as /dev/stdin, which streams
	if err != nil {
		return err
	}
	defer fs.Close()
	if _, total := fs.Progress(); total < progressMin {
		progress = false
	}
	var (
		f    capture.Frame
		read = w.Decodes.Frames() // of the files before
		last = time.Now()
	)
	for {
		if err := fs.Next(&f); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		read++
		w.Handle(&f)
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

func summary(files []string, w *flow.Worker, res *geo.Resolver) report.Summary {
	acct, d := w.Acct, &w.Decodes
	s := report.Summary{
		Files:          files,
		PacketsRead:    d.Frames(),
		Decoded:        d.Load(capture.Decoded),
		NotIP:          d.Load(capture.NotIP),
		Malformed:      map[string]uint64{},
		Directions:     map[string]report.Direction{},
		UnknownLookups: acct.Stats.UnknownLookups.Load(),
		FlowsEvicted:   acct.Stats.FlowsEvicted.Load(),
		GroupsFolded:   acct.Folded(),
		HostsUntracked: acct.Stats.HostsUntracked.Load(),
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
	for _, db := range res.Databases() {
		s.Databases = append(s.Databases, report.Database{
			Name: db.Name, Type: db.Type, Source: db.Source,
			BuildTime: db.BuildTime.UTC().Format(time.DateOnly),
		})
	}
	return s
}
