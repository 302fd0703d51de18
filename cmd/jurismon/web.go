package main

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/coreos/go-systemd/v22/activation"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/jurismon/jurismon/connlimit"
)

// webFlags bound what one HTTP client can hold: without them idle
// keep-alive connections were never closed and a neighbour could exhaust
// the open-file limit, after which /metrics and reloads failed.
type webFlags struct {
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	maxHeaderBytes                                            int
	maxConnections                                            int
	allowedHosts                                              []string
}

func (f *webFlags) register(cmd *kingpin.CmdClause) {
	cmd.Flag("web.read-header-timeout", "Time allowed to read a request's headers.").Default("10s").DurationVar(&f.readHeaderTimeout)
	cmd.Flag("web.read-timeout", "Time allowed to read a whole request.").Default("30s").DurationVar(&f.readTimeout)
	cmd.Flag("web.write-timeout", "Time allowed to write a response (a scrape's whole answer).").Default("60s").DurationVar(&f.writeTimeout)
	cmd.Flag("web.idle-timeout", "A keep-alive connection with no request for this long is closed (longer than the scrape interval).").Default("2m").DurationVar(&f.idleTimeout)
	cmd.Flag("web.max-header-bytes", "Largest request header accepted, in bytes.").Default("32768").IntVar(&f.maxHeaderBytes)
	cmd.Flag("web.max-connections", "HTTP connections held at once; past it a new connection closes the longest idle one.").Default("512").IntVar(&f.maxConnections)
	cmd.Flag("web.allowed-hosts", "Host header values accepted (repeat; IP addresses and localhost always are). Empty: any. Set it to refuse DNS-rebinding pages.").StringsVar(&f.allowedHosts)
}

func (f *webFlags) check() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-header-timeout", f.readHeaderTimeout}, {"read-timeout", f.readTimeout}, {"write-timeout", f.writeTimeout}, {"idle-timeout", f.idleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("--web.%s must be positive, got %s", d.name, d.v)
		}
	}
	if f.maxHeaderBytes < 1024 {
		return fmt.Errorf("--web.max-header-bytes must be at least 1024, got %d", f.maxHeaderBytes)
	}
	if f.maxConnections < 1 {
		return fmt.Errorf("--web.max-connections must be at least 1, got %d", f.maxConnections)
	}
	return nil
}

// webServer is the agent's HTTP server with its connection cap.
type webServer struct {
	srv     *http.Server
	limiter *connlimit.Limiter
	refused *prometheus.CounterVec
}

func newWebServer(f *webFlags, h http.Handler, reg prometheus.Registerer) *webServer {
	s := &webServer{limiter: connlimit.New(f.maxConnections)}
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jurismon_web_requests_refused_total",
		Help: "HTTP requests refused by the cross-site checks, by reason (host, origin, content_type).",
	}, []string{"reason"})
	for _, r := range []string{"host", "origin", "content_type"} {
		s.refused.WithLabelValues(r)
	}
	stat := func(get func(connlimit.Stats) float64) func() float64 {
		return func() float64 { return get(s.limiter.Stats()) }
	}
	reg.MustRegister(s.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jurismon_web_connections", Help: "HTTP connections open."}, stat(func(st connlimit.Stats) float64 { return float64(st.Open) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jurismon_web_connections_max", Help: "The --web.max-connections cap."}, func() float64 { return float64(s.limiter.Max()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jurismon_web_connections_evicted_total", Help: "Idle HTTP connections closed to make room for a new one at the cap."}, stat(func(st connlimit.Stats) float64 { return float64(st.Evicted) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jurismon_web_connections_rejected_total", Help: "New HTTP connections closed at once because every slot had a request in progress."}, stat(func(st connlimit.Stats) float64 { return float64(st.Rejected) })),
	)
	s.srv = &http.Server{
		Handler:           crossSite(f.allowedHosts, s.refused, h),
		ReadHeaderTimeout: f.readHeaderTimeout,
		ReadTimeout:       f.readTimeout,
		WriteTimeout:      f.writeTimeout,
		IdleTimeout:       f.idleTimeout,
		MaxHeaderBytes:    f.maxHeaderBytes,
		ConnState:         s.limiter.ConnState,
	}
	return s
}

// serve listens as exporter-toolkit's web.ListenAndServe does (the listen
// addresses or systemd's sockets, TLS and basic auth from the web config)
// with every listener under the connection cap.
func (s *webServer) serve(flags *web.FlagConfig, logger *slog.Logger) error {
	var listeners []net.Listener
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		ls, err := activation.Listeners()
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return errors.New("no socket activation file descriptors found")
		}
		listeners = ls
	} else {
		for _, addr := range *flags.WebListenAddresses {
			if strings.HasPrefix(addr, "vsock://") {
				return fmt.Errorf("listen address %s: vsock is not supported", addr)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				for _, l := range listeners {
					l.Close()
				}
				return err
			}
			listeners = append(listeners, ln)
		}
	}
	if len(listeners) == 0 {
		return web.ErrNoListeners
	}
	for i, ln := range listeners {
		listeners[i] = s.limiter.Listener(ln)
	}
	return web.ServeMultiple(listeners, s.srv, flags, logger)
}

// crossSite refuses what a browser on the host could be made to send by a
// page from elsewhere: a state-changing request (POST /-/reload) from a
// foreign origin or with a form content type (the ones a cross-site form or
// no-cors fetch sends without a preflight), and, when allowed is set, any
// Host not in it (a DNS-rebinding page names its own host). IP literals and
// localhost are always accepted as hosts: a page can only send them when it
// was loaded from the agent itself.
func crossSite(allowed []string, refused *prometheus.CounterVec, next http.Handler) http.Handler {
	hosts := make([]string, 0, len(allowed))
	for _, h := range allowed {
		hosts = append(hosts, strings.ToLower(strings.TrimSuffix(h, ".")))
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		refused.WithLabelValues("origin").Inc()
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	guarded := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(hosts) > 0 && !hostAllowed(r.Host, hosts) {
			refused.WithLabelValues("host").Inc()
			http.Error(w, "host not allowed (see --web.allowed-hosts)", http.StatusMisdirectedRequest)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if formType(r.Header.Get("Content-Type")) {
				refused.WithLabelValues("content_type").Inc()
				http.Error(w, "form content types are refused: send the request without a body", http.StatusUnsupportedMediaType)
				return
			}
		}
		guarded.ServeHTTP(w, r)
	})
}

func hostAllowed(host string, allowed []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" {
		return true
	}
	return slices.Contains(allowed, host)
}

// formType reports whether ct is one of the content types a browser sends
// cross-site without a CORS preflight.
func formType(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // unparsable: refuse rather than guess
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}
