package events

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Handler serves GET /api/v1/flagged-flows: {"events":[...]}, most recent
// first, at most ?limit=N of them (bounded by Options.Recent).
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
			return
		}
		limit := 0
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				http.Error(w, fmt.Sprintf("invalid limit %q: want a positive integer", s), http.StatusBadRequest)
				return
			}
			limit = n
		}
		body := struct {
			Events []Event `json:"events"`
		}{l.Recent(limit)}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		// The status line is already sent when encoding fails: the client
		// sees a truncated body, which is all that can be done then.
		_ = enc.Encode(body)
	})
}
