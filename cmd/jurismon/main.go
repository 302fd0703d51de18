package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/jurismon/jurismon/geo"
)

// Exit codes. Scripts rely on them: keep them stable.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitFlagged   = 3 // analyze --fail-on-flagged saw flagged traffic
	exitTruncated = 4 // analyze read a capture file cut short (the report covers what comes before the cut)
)

// errFlagged makes analyze exit with exitFlagged.
var errFlagged = errors.New("flagged traffic seen")

// usageError is a bad argument found after parsing (an address that is not
// one): the command exits with exitUsage, as for a parse error.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// geoFlags are the database flags every subcommand that resolves shares.
type geoFlags struct {
	country, asn string
	lookupDoc    bool
	cacheSize    int
}

func (g *geoFlags) register(app *kingpin.Application) {
	app.Flag("geoip.country", "GeoLite2/GeoIP2 Country or City .mmdb file (default: the usual places, then the built-in database).").StringVar(&g.country)
	app.Flag("geoip.asn", "GeoLite2/GeoIP2 ASN .mmdb file (default: the usual places, then the built-in database).").StringVar(&g.asn)
	app.Flag("geoip.lookup-documentation", "Look up the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) like public addresses, for tests and labs.").BoolVar(&g.lookupDoc)
	app.Flag("geoip.cache-size", "Number of database networks whose lookups are cached.").Default("65536").IntVar(&g.cacheSize)
}

func (g *geoFlags) open(logger *slog.Logger) (*geo.Resolver, error) {
	return geo.NewResolver(geo.Options{
		CountryFile:         g.country,
		ASNFile:             g.asn,
		LookupDocumentation: g.lookupDoc,
		CacheSize:           g.cacheSize,
		Logger:              logger,
	})
}

// stdinArgs prepares the arguments for kingpin, which reads a lone "-"
// as an empty value. A "-" that is the value of a flag (--events.file -,
// where it means standard output) is joined to its flag (--events.file=-);
// any other "-" is a file argument meaning standard input (analyze -) and
// becomes /dev/stdin. valueFlags says which flags take a value.
func stdinArgs(args []string, valueFlags map[string]bool) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" { // the rest are arguments
			for _, rest := range args[i:] {
				if rest == "-" {
					rest = "/dev/stdin"
				}
				out = append(out, rest)
			}
			return out
		}
		if a == "-" && i > 0 {
			if prev := args[i-1]; valueFlags[prev] && len(out) > 0 && out[len(out)-1] == prev {
				if strings.HasPrefix(prev, "--") {
					out[len(out)-1] = prev + "=-"
				} else {
					out[len(out)-1] = prev + "-" // -X- is the short flag X with the value "-"
				}
				continue
			}
		}
		if a == "-" {
			a = "/dev/stdin"
		}
		out = append(out, a)
	}
	return out
}

// valueFlags lists the spellings (--name, -c) of every flag of app and its
// commands that takes a value (is not boolean).
func valueFlags(app *kingpin.Application) map[string]bool {
	m := app.Model()
	out := map[string]bool{}
	add := func(fs []*kingpin.FlagModel) {
		for _, f := range fs {
			if f.IsBoolFlag() {
				continue
			}
			out["--"+f.Name] = true
			if f.Short != 0 {
				out["-"+string(f.Short)] = true
			}
		}
	}
	add(m.Flags)
	var walk func([]*kingpin.CmdModel)
	walk = func(cs []*kingpin.CmdModel) {
		for _, c := range cs {
			add(c.Flags)
			walk(c.Commands)
		}
	}
	walk(m.Commands)
	return out
}

func main() {
	fillVersion()
	os.Exit(run(os.Args[1:]))
}

// fillVersion takes the version and revision from the Go build information
// when the build did not set them with -ldflags (go build, go run), so
// that jurismon_build_info and version always say something.
func fillVersion() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if version.Version == "" {
		version.Version = strings.TrimPrefix(bi.Main.Version, "v")
		if version.Version == "" || version.Version == "(devel)" {
			version.Version = "devel"
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (version.Revision == "" || version.Revision == "unknown") {
			version.Revision = s.Value
		}
	}
}

// cli is the command line: the application and what each command parses.
type cli struct {
	app         *kingpin.Application
	logCfg      *promslog.Config
	gf          geoFlags
	runCmd      *runCommand
	analyze     *analyzeCommand
	collect     *collectCommand
	lookup      *lookupCommand
	versionCmd  *kingpin.CmdClause
	versionVF   vendorFlags
	checkConfig *checkConfigCommand
	health      *healthcheckCommand
}

// newCLI builds the command line. manPage is set when the man page is being
// generated: kingpin puts the version into the page's .TH line, which
// takes one word, not the several lines of --version.
func newCLI(manPage bool) *cli {
	c := &cli{app: kingpin.New("jurismon", "Shows where a network's traffic goes, in whose jurisdiction, and alerts when it goes where it should not.")}
	if manPage {
		c.app.Version(`"` + version.Version + `"`)
	} else {
		c.app.Version(version.Print("jurismon"))
	}
	c.app.HelpFlag.Short('h')
	c.logCfg = &promslog.Config{}
	promslogflag.AddFlags(c.app, c.logCfg)
	c.gf.register(c.app)
	c.runCmd = newRunCommand(c.app)
	c.analyze = newAnalyzeCommand(c.app)
	c.collect = newCollectCommand(c.app)
	c.lookup = newLookupCommand(c.app)
	c.versionCmd = c.app.Command("version", "Print the build, the geo databases' provenance and the IEEE MAC registry files in use.")
	c.versionVF.register(c.versionCmd, false)
	c.checkConfig = newCheckConfigCommand(c.app)
	c.health = newHealthcheckCommand(c.app)
	return c
}

// parse parses args (without the program name) and returns the command.
func (c *cli) parse(args []string) (string, error) {
	return c.app.Parse(stdinArgs(args, valueFlags(c.app)))
}

func run(args []string) int {
	c := newCLI(slices.Contains(args, "--help-man"))
	cmd, err := c.parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "jurismon: %v (see jurismon --help)\n", err)
		return exitUsage
	}
	logger := promslog.New(c.logCfg)

	switch cmd {
	case c.runCmd.cmd.FullCommand():
		err = c.runCmd.run(logger, &c.gf)
	case c.collect.cmd.FullCommand():
		err = c.collect.run(logger, &c.gf)
	case c.analyze.cmd.FullCommand():
		err = c.analyze.run(logger, &c.gf)
	case c.lookup.cmd.FullCommand():
		err = c.lookup.run(logger, &c.gf)
	case c.versionCmd.FullCommand():
		err = printVersion(os.Stdout, logger, &c.gf, &c.versionVF)
	case c.checkConfig.cmd.FullCommand():
		err = c.checkConfig.run()
	case c.health.cmd.FullCommand():
		err = c.health.run()
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFlagged):
		return exitFlagged
	case errors.Is(err, errTruncated): // said in the summary and logged
		return exitTruncated
	case errors.As(err, new(usageError)):
		fmt.Fprintf(os.Stderr, "jurismon: %v (see jurismon --help)\n", err)
		return exitUsage
	default:
		fmt.Fprintf(os.Stderr, "jurismon: %v\n", err)
		return exitError
	}
}
