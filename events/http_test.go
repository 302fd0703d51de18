package events

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	c := newClock()
	l := newTestLog(t, Options{Recent: 4}, c)
	// Six events through a ring of four: the API must show 1005..1002.
	for i := range 6 {
		l.Observe(numbered(uint64(1000 + i)))
		c.add(time.Second)
	}
	l.drain()
	h := l.Handler()
	for _, tc := range []struct {
		name       string
		method     string
		query      string
		wantStatus int
		wantBytes  []uint64 // BytesTo of the events returned, in order
		wantBody   string   // exact body for errors
	}{
		{name: "all kept", method: "GET", wantStatus: 200, wantBytes: []uint64{1005, 1004, 1003, 1002}},
		{name: "limit", method: "GET", query: "?limit=2", wantStatus: 200, wantBytes: []uint64{1005, 1004}},
		{name: "limit past recent", method: "GET", query: "?limit=100", wantStatus: 200, wantBytes: []uint64{1005, 1004, 1003, 1002}},
		{name: "zero limit", method: "GET", query: "?limit=0", wantStatus: 400, wantBody: "invalid limit \"0\": want a positive integer\n"},
		{name: "bad limit", method: "GET", query: "?limit=ten", wantStatus: 400, wantBody: "invalid limit \"ten\": want a positive integer\n"},
		{name: "post", method: "POST", wantStatus: 405, wantBody: "method not allowed: use GET\n"},
		{name: "delete", method: "DELETE", wantStatus: 405, wantBody: "method not allowed: use GET\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/api/v1/flagged-flows"+tc.query, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want \"GET, HEAD\"", rec.Header().Get("Allow"))
			}
			if tc.wantStatus != http.StatusOK {
				if rec.Body.String() != tc.wantBody {
					t.Errorf("body %q, want %q", rec.Body, tc.wantBody)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct{ Events []Event }
			dec := json.NewDecoder(rec.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				t.Fatal(err)
			}
			if len(body.Events) != len(tc.wantBytes) {
				t.Fatalf("%d events, want %d", len(body.Events), len(tc.wantBytes))
			}
			for i, e := range body.Events {
				if e.BytesTo != tc.wantBytes[i] {
					t.Errorf("event %d is %d, want %d", i, e.BytesTo, tc.wantBytes[i])
				}
				// Each was observed a second after the previous one.
				if want := newClock().now().Add(time.Duration(e.BytesTo-1000) * time.Second); !e.Time.Equal(want) {
					t.Errorf("event %d time %v, want %v", i, e.Time, want)
				}
			}
		})
	}
}

func TestHandlerEmpty(t *testing.T) {
	l := newTestLog(t, Options{}, nil)
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/flagged-flows", nil))
	// An empty list, not null, so clients can iterate without a check.
	if got := strings.TrimSpace(rec.Body.String()); got != `{"events":[]}` {
		t.Errorf("body %q, want {\"events\":[]}", got)
	}
}
