package events

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzHandlerQuery sends arbitrary query strings to /api/v1/flagged-flows:
// the answer is 400 for a limit that is not a positive integer and
// otherwise JSON with at most limit events, whatever else the query holds.
func FuzzHandlerQuery(f *testing.F) {
	for _, q := range []string{"", "limit=2", "limit=0", "limit=-1", "limit=ten", "limit=99999999999999999999",
		"limit=1&limit=2", "limit=%zz", "a;b", "limit=+3"} {
		f.Add(q)
	}
	c := newClock()
	l := newTestLog(f, Options{Recent: 4}, c)
	for i := range 6 {
		l.Observe(numbered(uint64(1000 + i)))
		c.add(time.Second)
	}
	l.drain()
	h := l.Handler()
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/api/v1/flagged-flows", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := http.StatusOK
		limit := 4
		if s := parseLimit(query); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				want = http.StatusBadRequest
			} else {
				limit = min(n, limit)
			}
		}
		if rec.Code != want {
			t.Fatalf("?%s: status %d, want %d; body %q", query, rec.Code, want, rec.Body)
		}
		if want != http.StatusOK {
			return
		}
		var body struct{ Events []Event }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("?%s: %v", query, err)
		}
		if len(body.Events) != limit {
			t.Fatalf("?%s: %d events, want %d", query, len(body.Events), limit)
		}
	})
}

// parseLimit is the limit the handler should see: the first value, as
// net/url parses it (pairs it cannot parse are skipped).
func parseLimit(query string) string {
	v, _ := url.ParseQuery(query)
	return v.Get("limit")
}
