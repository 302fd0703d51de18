package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/geo"
	"github.com/jurismon/jurismon/policy"
)

// lookup: geo and verdict for addresses given on the command line.
type lookupCommand struct {
	cmd    *kingpin.CmdClause
	addrs  []string
	config string
	json   bool
	agent  string
}

func newLookupCommand(app *kingpin.Application) *lookupCommand {
	c := &lookupCommand{}
	c.cmd = app.Command("lookup", "Show the location and the verdict of addresses.")
	c.cmd.Arg("addresses", "IPv4 or IPv6 addresses.").Required().StringsVar(&c.addrs)
	c.cmd.Flag("config", "Policy file giving the verdicts.").StringVar(&c.config)
	c.cmd.Flag("json", "One JSON object per line instead of text.").BoolVar(&c.json)
	c.cmd.Flag("agent", "URL of a running agent (http://host:9746) to ask whether each address was seen as a tunnel endpoint.").StringVar(&c.agent)
	return c
}

type lookupResult struct {
	Address           string `json:"address"`
	AddressClass      string `json:"address_class"`
	Country           string `json:"country,omitempty"`
	RegisteredCountry string `json:"registered_country,omitempty"`
	Continent         string `json:"continent,omitempty"`
	ASN               uint32 `json:"asn,omitempty"`
	ASOrg             string `json:"as_org,omitempty"`
	Network           string `json:"network,omitempty"`
	Embedded          string `json:"embedded,omitempty"`         // nat64, 6to4 or teredo: located by the IPv4 address it embeds
	EmbeddedAddress   string `json:"embedded_address,omitempty"` // that IPv4 address
	TeredoServer      string `json:"teredo_server,omitempty"`
	Local             bool   `json:"local"`
	Jurisdiction      string `json:"jurisdiction,omitempty"`
	MatchedBy         string `json:"matched_by,omitempty"`
	Exception         string `json:"exception,omitempty"`
	// TunnelEndpoint is the agent's answer (with --agent): whether the
	// address was seen as a tunnel or VPN endpoint.
	TunnelEndpoint *lookupTunnel `json:"tunnel_endpoint,omitempty"`
}

type lookupTunnel struct {
	Seen      bool       `json:"seen"`
	Protocol  string     `json:"protocol,omitempty"`
	FirstSeen *time.Time `json:"first_seen,omitempty"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	Active    int        `json:"active"` // tunnels to it active now
}

func (c *lookupCommand) run(logger *slog.Logger, gf *geoFlags) error {
	addrs := make([]netip.Addr, 0, len(c.addrs))
	for _, s := range c.addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return usageError{fmt.Errorf("%q is not an IP address", s)}
		}
		addrs = append(addrs, a.Unmap())
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
	enc := json.NewEncoder(os.Stdout)
	for _, a := range addrs {
		loc := res.Lookup(a)
		r := lookupResult{Address: a.String(), AddressClass: loc.Class.String(), Local: loc.Class.Local() || pol.IsLocal(a)}
		if loc.Class == geo.ClassPublic {
			r.Country, r.RegisteredCountry, r.Continent = loc.Country, loc.RegisteredCountry, loc.Continent
			r.ASN, r.ASOrg = loc.ASN, loc.ASOrg
			if loc.Network.IsValid() {
				r.Network = loc.Network.String()
			}
			if loc.Embedded != geo.EmbedNone {
				_, v4 := geo.Embedded(a)
				r.Embedded, r.EmbeddedAddress = loc.Embedded.String(), v4.String()
				if srv, ok := geo.TeredoServer(a); ok {
					r.TeredoServer = srv.String()
				}
			}
		}
		if !r.Local {
			f := enrich.At(a, loc)
			v := pol.Evaluate(&f)
			r.Jurisdiction, r.Exception = v.Jurisdiction, v.Excepted
			if v.Flagged() {
				r.MatchedBy = v.MatchedBy.String()
			}
		}
		if c.agent != "" {
			ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
			ans, err := agentEndpoint(ctx, http.DefaultClient, c.agent, a.String())
			cancel()
			if err != nil {
				return err
			}
			ep := ans.Endpoint
			r.TunnelEndpoint = &lookupTunnel{Seen: ep.Seen, Protocol: ep.Protocol, FirstSeen: ep.FirstSeen, LastSeen: ep.LastSeen, Active: len(ans.Tunnels)}
		}
		if c.json {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		printLookup(os.Stdout, &r)
	}
	return nil
}

func printLookup(w io.Writer, r *lookupResult) {
	fmt.Fprintf(w, "%s\n", r.Address)
	if r.AddressClass != "public" {
		fmt.Fprintf(w, "  class:              %s (special-purpose, not looked up)\n", r.AddressClass)
	} else {
		fmt.Fprintf(w, "  country:            %s\n  registered country: %s\n  continent:          %s\n", r.Country, r.RegisteredCountry, r.Continent)
		asn := geo.Unknown
		if r.ASN != 0 {
			asn = fmt.Sprintf("AS%d", r.ASN)
		}
		fmt.Fprintf(w, "  asn:                %s %s\n  network:            %s\n", asn, r.ASOrg, r.Network)
		if r.Embedded != "" {
			fmt.Fprintf(w, "  embedded:           %s, located by %s\n", r.Embedded, r.EmbeddedAddress)
			if r.TeredoServer != "" {
				fmt.Fprintf(w, "  teredo server:      %s\n", r.TeredoServer)
			}
		}
	}
	switch {
	case r.Local:
		fmt.Fprintf(w, "  verdict:            local (never flagged)\n")
	case r.Jurisdiction != "":
		fmt.Fprintf(w, "  verdict:            FLAGGED: %s (matched by %s)\n", r.Jurisdiction, r.MatchedBy)
	case r.Exception != "":
		fmt.Fprintf(w, "  verdict:            not flagged: exception (%s)\n", r.Exception)
	default:
		fmt.Fprintf(w, "  verdict:            not flagged\n")
	}
	switch t := r.TunnelEndpoint; {
	case t == nil:
	case t.Seen:
		fmt.Fprintf(w, "  tunnel endpoint:    yes: %s, first seen %s, last seen %s, %d active\n", t.Protocol,
			t.FirstSeen.Format(time.RFC3339), t.LastSeen.Format(time.RFC3339), t.Active)
	default:
		fmt.Fprintf(w, "  tunnel endpoint:    not seen by the agent\n")
	}
}

// printVersion prints the build and each geo database's provenance.
func printVersion(w io.Writer, logger *slog.Logger, gf *geoFlags, vf *vendorFlags) error {
	fmt.Fprintln(w, version.Print("jurismon"))
	res, err := gf.open(logger)
	if err != nil {
		return err
	}
	defer res.Close()
	now := time.Now()
	for _, db := range res.Databases() {
		fmt.Fprintf(w, "%s database: %s, built %s (%d days ago), source: %s\n",
			db.Name, db.Type, db.BuildTime.UTC().Format(time.DateOnly), int(db.Age(now).Hours()/24), db.Source)
	}
	src, err := vf.open(logger)
	if err != nil {
		return err
	}
	files := src.Registry().Files()
	if len(files) == 0 {
		fmt.Fprintf(w, "MAC vendor registry: none in %s (install Debian's ieee-data, or pass --vendors.registry-dir)\n", src.Dir())
	}
	for _, f := range files {
		fmt.Fprintf(w, "MAC vendor registry: %s %s, %d assignments, modified %s\n",
			f.Registry, f.Path, f.Entries, f.ModTime.UTC().Format(time.DateOnly))
	}
	return nil
}

type checkConfigCommand struct {
	cmd  *kingpin.CmdClause
	file string
}

func newCheckConfigCommand(app *kingpin.Application) *checkConfigCommand {
	c := &checkConfigCommand{}
	c.cmd = app.Command("check-config", "Check a policy file and print what it flags.")
	c.cmd.Arg("file", "Policy file.").Required().StringVar(&c.file)
	return c
}

func (c *checkConfigCommand) run() error {
	p, err := policy.Load(c.file)
	if err != nil {
		return err
	}
	fmt.Printf("%s: ok, %d jurisdictions (%v), %d local networks", c.file, len(p.Jurisdictions()), p.Jurisdictions(), len(p.LocalNetworks()))
	if r := p.VendorRules(); len(r) > 0 {
		fmt.Printf(", %d vendors rules (%v)", len(r), r)
	}
	fmt.Println()
	return nil
}
