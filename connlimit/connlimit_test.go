package connlimit_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jurismon/jurismon/connlimit"
)

// serve starts a real HTTP server behind a Limiter of max connections.
func serve(t *testing.T, max int, h http.Handler) (*connlimit.Limiter, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := connlimit.New(max)
	srv := &http.Server{Handler: h, ConnState: lim.ConnState, ReadHeaderTimeout: time.Minute}
	go srv.Serve(lim.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return lim, ln.Addr().String()
}

func get(t *testing.T, addr string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func dial(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	return out
}

func waitStats(t *testing.T, lim *connlimit.Limiter, what string, ok func(connlimit.Stats) bool) connlimit.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := lim.Stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIdleConnectionsAreEvicted(t *testing.T) {
	const max = 20
	lim, addr := serve(t, max, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	// Connections that never send a request, and keep-alive ones that
	// sent one and stay open: both idle.
	silent := dial(t, addr, 3*max)
	for _, c := range dial(t, addr, max) {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	st := waitStats(t, lim, "cap held", func(st connlimit.Stats) bool { return st.Open == max && st.Evicted >= 3*max })
	// A new client is served although 4*max connections were opened.
	for i := range 10 {
		if body, err := get(t, addr); err != nil || body != "ok" {
			t.Fatalf("request %d behind %d idle connections: %q, %v", i, len(silent)+max, body, err)
		}
	}
	st = lim.Stats()
	if st.Open > max || st.Rejected != 0 {
		t.Errorf("stats %+v: want at most %d open, none rejected", st, max)
	}
	// The longest idle went first: the earliest silent connections are
	// closed by the server.
	silent[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := silent[0].Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("oldest idle connection: read %v, want EOF (evicted)", err)
	}
}

func TestBusyConnectionsAreKept(t *testing.T) {
	const max = 4
	release := make(chan struct{})
	entered := make(chan struct{}, max)
	lim, addr := serve(t, max, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		fmt.Fprint(w, "ok")
	}))
	done := make(chan error, max)
	for range max {
		go func() {
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get("http://" + addr + "/slow")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for range max {
		<-entered
	}
	// Every slot has a request in progress: a new connection is closed at
	// once, not queued and not at the expense of a request.
	if _, err := get(t, addr); err == nil {
		t.Fatal("a request got through with every slot busy")
	}
	if st := lim.Stats(); st.Rejected == 0 || st.Evicted != 0 || st.Open != max {
		t.Errorf("stats %+v: want a rejection, no eviction, %d open", st, max)
	}
	close(release)
	for range max {
		if err := <-done; err != nil {
			t.Errorf("a request in progress failed: %v", err)
		}
	}
	if body, err := get(t, addr); err != nil || body != "ok" {
		t.Fatalf("after the slow requests: %q, %v", body, err)
	}
	// The clients closed every connection: none is still counted.
	waitStats(t, lim, "connections counted out", func(st connlimit.Stats) bool { return st.Open == 0 && st.Idle == 0 })
}
