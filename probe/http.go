package probe

import (
	"encoding/json"
	"net/http"
)

// PathsHandler serves the latest trace of every destination as JSON
// (GET /api/v1/paths): {"paths": [Trace, ...]}, an empty list (never null)
// when nothing has been traced, or when s is nil (no prober configured), so
// that the endpoint exists whatever the flags.
func PathsHandler(s *Scheduler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		paths := []*Trace{}
		if s != nil {
			paths = append(paths, s.Paths()...)
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Paths []*Trace `json:"paths"`
		}{paths})
	})
}
