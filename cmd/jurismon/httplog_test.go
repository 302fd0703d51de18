package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Go's http: lines come out as JSON records of the structured logger, and a
// flood of them is cut to the burst, the next line counting the rest.
func TestHTTPErrorLog(t *testing.T) {
	var buf bytes.Buffer
	l := httpErrorLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	for range 100 {
		l.Printf("http: TLS handshake error from 192.0.2.1:4000: EOF")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) > 11 {
		t.Errorf("%d lines written for a flood of 100: not rate-limited", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not a structured record: %q", lines[0])
	}
	if rec["level"] != "WARN" || rec["component"] != "http" || !strings.HasPrefix(rec["msg"].(string), "http: TLS handshake error") {
		t.Errorf("record %v", rec)
	}
	buf.Reset()
	time.Sleep(1100 * time.Millisecond) // a token comes back
	l.Printf("http: TLS handshake error from 192.0.2.1:4001: EOF")
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["suppressed"] != float64(100-(len(lines))) {
		t.Errorf("the line after the flood: %s, want suppressed=%d", buf.String(), 100-len(lines))
	}
}
