// Command jurismon shows where a network's traffic goes, in whose
// jurisdiction, and flags traffic that goes where it should not.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/jurismon/jurismon/geo"
)

// Exit codes. Scripts rely on them: keep them stable.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitFlagged = 3 // analyze --fail-on-flagged saw flagged traffic
)

// errFlagged makes analyze exit with exitFlagged.
var errFlagged = errors.New("flagged traffic seen")

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

// stdinArgs spells a lone "-" (standard input) as /dev/stdin: kingpin
// would otherwise take it for an empty flag and pass an empty name.
func stdinArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-" {
			a = "/dev/stdin"
		}
		out[i] = a
	}
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

func run(args []string) int {
	app := kingpin.New("jurismon", "Shows where a network's traffic goes, in whose jurisdiction, and alerts when it goes where it should not.")
	app.Version(version.Print("jurismon"))
	app.HelpFlag.Short('h')
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)
	var gf geoFlags
	gf.register(app)

	runCmd := newRunCommand(app)
	analyze := newAnalyzeCommand(app)
	collectCmd := newCollectCommand(app)
	lookup := newLookupCommand(app)
	versionCmd := app.Command("version", "Print the build and the geo databases' provenance.")
	checkConfig := newCheckConfigCommand(app)
	health := newHealthcheckCommand(app)

	cmd, err := app.Parse(stdinArgs(args))
	if err != nil {
		fmt.Fprintf(os.Stderr, "jurismon: %v (see jurismon --help)\n", err)
		return exitUsage
	}
	logger := promslog.New(logCfg)

	switch cmd {
	case runCmd.cmd.FullCommand():
		err = runCmd.run(logger, &gf)
	case collectCmd.cmd.FullCommand():
		err = collectCmd.run(logger, &gf)
	case analyze.cmd.FullCommand():
		err = analyze.run(logger, &gf)
	case lookup.cmd.FullCommand():
		err = lookup.run(logger, &gf)
	case versionCmd.FullCommand():
		err = printVersion(os.Stdout, logger, &gf)
	case checkConfig.cmd.FullCommand():
		err = checkConfig.run()
	case health.cmd.FullCommand():
		err = health.run()
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFlagged):
		return exitFlagged
	default:
		fmt.Fprintf(os.Stderr, "jurismon: %v\n", err)
		return exitError
	}
}
