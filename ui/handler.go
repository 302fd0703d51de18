package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/jurismon/jurismon/report"
	"github.com/jurismon/jurismon/report/worldmap"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every page and asset of the overview:
// nothing but this origin, no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

var indexTemplate = template.Must(template.ParseFS(static, "static/index.html.tmpl"))

// Register adds the overview to mux: the page at /, its assets under /ui/
// and GET /api/v1/overview. page gives the name, version and links that
// the landing page had.
func Register(mux *http.ServeMux, src Sources, page web.LandingConfig, logger *slog.Logger) {
	// Only the page's own assets: no directory listing, not the template.
	for _, name := range []string{"app.js", "style.css", "favicon.svg"} {
		mux.Handle("/ui/"+name, secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if methodGet(w, r) {
				http.ServeFileFS(w, r, static, "static/"+name)
			}
		})))
	}
	mux.Handle("/ui/map.svg", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !methodGet(w, r) {
			return
		}
		var b bytes.Buffer
		if err := src.renderMap(&b, src.overview(time.Now())); err != nil {
			logger.Error("overview map", "err", err)
			http.Error(w, "map: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b.Bytes())
	})))
	mux.Handle("/api/v1/overview", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !methodGet(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(src.overview(time.Now())) // a failed write is the client gone
	}))
	mux.Handle("/{$}", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !methodGet(w, r) {
			return
		}
		var m bytes.Buffer
		o := src.overview(time.Now())
		if err := src.renderMap(&m, o); err != nil {
			logger.Error("overview map", "err", err)
		}
		var b bytes.Buffer
		err := indexTemplate.Execute(&b, struct {
			web.LandingConfig
			Map    template.HTML
			Legend []worldmap.LegendItem
		}{page, template.HTML(m.String()), o.Legend}) // worldmap escapes its text
		if err != nil {
			logger.Error("overview page", "err", err)
			http.Error(w, "overview: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b.Bytes())
	})))
}

func (s *Sources) renderMap(b *bytes.Buffer, o *Overview) error {
	return worldmap.Render(b, worldmap.Options{
		Title:    "Traffic by country",
		Shades:   report.Shades(o.Countries),
		Routes:   s.routes(),
		ID:       "live",
		NoLegend: true, // the page shows it as HTML, which follows the font size
	})
}

// secure adds the headers that keep the page to its own origin.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
