package tunnel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Endpoint is the answer about one address: whether it was seen as a
// tunnel endpoint, and when.
type Endpoint struct {
	Address   string     `json:"address"`
	Seen      bool       `json:"seen"`
	Protocol  string     `json:"protocol,omitempty"` // of its latest tunnel
	FirstSeen *time.Time `json:"first_seen,omitempty"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
}

// TunnelsResponse is the body of GET /api/v1/tunnels.
type TunnelsResponse struct {
	Tunnels   []Record  `json:"tunnels"`
	Listed    int       `json:"listed"`    // active tunnels listed (before ?limit)
	Max       int       `json:"max"`       // the inventory's cap (--tunnels.max)
	Untracked uint64    `json:"untracked"` // tunnels not listed because it was full
	Endpoint  *Endpoint `json:"endpoint,omitempty"`
}

// Handler serves GET /api/v1/tunnels: the active tunnels, most bytes
// first, at most ?limit=N of them; with ?endpoint=ADDR only those ending
// at ADDR, and whether (and when) ADDR was ever seen as a tunnel endpoint.
func (inv *Inventory) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		limit := 0
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				http.Error(w, fmt.Sprintf("invalid limit %q: want a positive integer", s), http.StatusBadRequest)
				return
			}
			limit = n
		}
		body := TunnelsResponse{Tunnels: inv.Tunnels(), Max: inv.max, Untracked: inv.Untracked()}
		if s := q.Get("endpoint"); s != "" {
			a, err := netip.ParseAddr(s)
			if err != nil {
				http.Error(w, fmt.Sprintf("invalid endpoint %q: want an IP address", s), http.StatusBadRequest)
				return
			}
			a = a.Unmap()
			kept := body.Tunnels[:0]
			for _, t := range body.Tunnels {
				if t.Remote == a.String() {
					kept = append(kept, t)
				}
			}
			body.Tunnels = kept
			ep := &Endpoint{Address: a.String()}
			if seen, ok := inv.Endpoint(a); ok {
				first, last := time.Unix(0, seen.FirstSeen).UTC(), time.Unix(0, seen.LastSeen).UTC()
				ep.Seen, ep.Protocol, ep.FirstSeen, ep.LastSeen = true, seen.Protocol, &first, &last
			}
			body.Endpoint = ep
		}
		body.Listed = len(body.Tunnels)
		if limit > 0 && len(body.Tunnels) > limit {
			body.Tunnels = body.Tunnels[:limit]
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(body) // a failure here is a client gone: nothing to tell it
	})
}
