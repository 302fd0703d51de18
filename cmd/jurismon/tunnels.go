package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jurismon/jurismon/enrich"
	"github.com/jurismon/jurismon/policy"
	"github.com/jurismon/jurismon/tunnel"
)

// tunnels is the tunnel classifier and its provider list, which follows
// the policy (tunnels.providers) on reload, and the inventory of the
// tunnels it recognises.
type tunnels struct {
	providers atomic.Pointer[tunnel.Providers]
	inventory *tunnel.Inventory
	max       int
}

func (t *tunnels) register(cmd *kingpin.CmdClause) {
	cmd.Flag("tunnels.max", "Active tunnels listed in /api/v1/tunnels and counted in jurismon_tunnels; past it new ones are counted as untracked.").Default("4096").IntVar(&t.max)
}

// setup loads the policy's provider list and makes the inventory.
func (t *tunnels) setup(pol *policy.Policy) error {
	if err := t.loadProviders(pol); err != nil {
		return err
	}
	t.inventory = tunnel.NewInventory(tunnel.InventoryOptions{MaxTunnels: t.max})
	return nil
}

// loadProviders reads the provider list the policy names (none: no list).
// A list that does not load leaves the previous one in use.
func (t *tunnels) loadProviders(pol *policy.Policy) error {
	path := pol.TunnelProviders()
	if path == "" {
		t.providers.Store(nil)
		return nil
	}
	p, err := tunnel.LoadProviders(path)
	if err != nil {
		return fmt.Errorf("tunnels.providers: %w", err)
	}
	t.providers.Store(p)
	return nil
}

// inspector is the classifier, which locates the outer endpoints of the
// tunnels the decoder removes with loc.
func (t *tunnels) inspector(loc enrich.Locator) enrich.Inspector {
	return tunnel.Classifier{Reloaded: &t.providers, Locator: loc}
}

// agentEndpoint asks a running agent (its /api/v1/tunnels) whether addr
// was seen as a tunnel endpoint.
func agentEndpoint(ctx context.Context, client *http.Client, base, addr string) (*tunnel.TunnelsResponse, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/api/v1/tunnels")
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--agent %q: want the agent's URL, such as http://localhost:9746", base)
	}
	u.RawQuery = url.Values{"endpoint": {addr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent: %s: %s", u.Redacted(), resp.Status)
	}
	var body tunnel.TunnelsResponse
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("agent: %s: %w", u.Redacted(), err)
	}
	if body.Endpoint == nil {
		return nil, fmt.Errorf("agent: %s: no endpoint in the answer (an agent without tunnels?)", u.Redacted())
	}
	return &body, nil
}

// lookupTimeout bounds a lookup's question to the agent.
const lookupTimeout = 10 * time.Second
