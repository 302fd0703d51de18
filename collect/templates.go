package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// Caps on what exporters can make the collector keep. An exporter (or
// anyone spoofing its address) that announces more templates than this
// floods: the templates past the cap are refused and counted.
const (
	DefaultMaxExporters         = 1024
	DefaultMaxTemplatesExporter = 1024
)

// templates are the NetFlow v9 and IPFIX templates of every exporter, kept
// in goflow2's template system (one per exporter address; goflow2 keys it
// by version, observation domain and template ID), each also compiled
// into the offsets the record path reads. Shared by every worker: an
// exporter's datagrams may reach any socket.
type templates struct {
	mu        sync.RWMutex
	exporters map[netip.Addr]*exporterTemplates
	max       int // exporters
	maxEach   int // templates per exporter
	changed   atomic.Bool
}

// exporterTemplates are one exporter's templates and announced sampling.
type exporterTemplates struct {
	addr netip.Addr
	mu   sync.RWMutex
	sys  netflow.NetFlowTemplateSystem // goflow2's: the templates as announced
	comp map[templateKey]*compiled     // the same, compiled
	// rates announced by options records: per (version, domain) and per
	// (version, domain, sampler ID).
	rates   map[samplerKey]uint32
	sysInit map[samplerKey]int64 // IPFIX systemInitTimeMilliseconds per domain, Unix ns
}

type templateKey struct {
	version uint16
	id      uint16
	domain  uint32
}

type samplerKey struct {
	version uint16
	domain  uint32
	sampler uint64 // 0: the domain's rate
	scoped  bool
}

func newTemplates(maxExporters, maxEach int) *templates {
	if maxExporters <= 0 {
		maxExporters = DefaultMaxExporters
	}
	if maxEach <= 0 {
		maxEach = DefaultMaxTemplatesExporter
	}
	return &templates{exporters: make(map[netip.Addr]*exporterTemplates), max: maxExporters, maxEach: maxEach}
}

var errTooManyExporters = errors.New("too many exporters")

// exporter returns the templates of the exporter at a, making them; nil
// past the exporter cap.
func (t *templates) exporter(a netip.Addr) *exporterTemplates {
	t.mu.RLock()
	e := t.exporters[a]
	t.mu.RUnlock()
	if e != nil {
		return e
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e = t.exporters[a]; e != nil {
		return e
	}
	if len(t.exporters) >= t.max {
		return nil
	}
	e = &exporterTemplates{
		addr:    a,
		sys:     netflow.CreateTemplateSystem(),
		comp:    make(map[templateKey]*compiled),
		rates:   make(map[samplerKey]uint32),
		sysInit: make(map[samplerKey]int64),
	}
	t.exporters[a] = e
	return e
}

// get returns a compiled template, or nil.
func (e *exporterTemplates) get(k templateKey) *compiled {
	e.mu.RLock()
	c := e.comp[k]
	e.mu.RUnlock()
	return c
}

// add stores a template (a netflow.TemplateRecord, NFv9OptionsTemplateRecord
// or IPFIXOptionsTemplateRecord) in goflow2's system and compiled. It
// reports whether anything changed, and refuses a new template past max.
func (e *exporterTemplates) add(k templateKey, tmpl any, max int) (changed bool, err error) {
	c, err := compile(tmpl)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old, ok := e.comp[k]
	if ok && old.equal(c) {
		return false, nil
	}
	if !ok && len(e.comp) >= max {
		return false, errTemplateFlood
	}
	if err := e.sys.AddTemplate(k.version, k.domain, k.id, tmpl); err != nil {
		return false, err
	}
	e.comp[k] = c
	return true, nil
}

func (e *exporterTemplates) setRate(k samplerKey, rate uint32) (changed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rates[k] == rate {
		return false
	}
	if _, ok := e.rates[k]; !ok && len(e.rates) >= maxRates {
		return false
	}
	e.rates[k] = rate
	return true
}

// rate returns the announced rate of sampler s (0: none) of a domain,
// else the domain's, else 0.
func (e *exporterTemplates) rate(version uint16, domain uint32, sampler uint64, scoped bool) uint32 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if scoped {
		if r, ok := e.rates[samplerKey{version, domain, sampler, true}]; ok {
			return r
		}
	}
	return e.rates[samplerKey{version: version, domain: domain}]
}

// maxRates bounds the sampler rates kept per exporter.
const maxRates = 4096

var errTemplateFlood = errors.New("template cap reached")

// The state file: the templates as announced (goflow2's types, which
// marshal to JSON as they are), and the sampling rates, per exporter.
type stateFile struct {
	Version   int             `json:"version"`
	Exporters []savedExporter `json:"exporters"`
}

type savedExporter struct {
	Address   netip.Addr      `json:"address"`
	Templates []savedTemplate `json:"templates"`
	Rates     []savedRate     `json:"rates,omitempty"`
}

type savedTemplate struct {
	Version uint16 `json:"version"`
	Domain  uint32 `json:"domain"`
	ID      uint16 `json:"id"`
	// One of the three, as goflow2 decoded it.
	Data      *netflow.TemplateRecord             `json:"data,omitempty"`
	NFv9Opts  *netflow.NFv9OptionsTemplateRecord  `json:"nfv9_options,omitempty"`
	IPFIXOpts *netflow.IPFIXOptionsTemplateRecord `json:"ipfix_options,omitempty"`
}

type savedRate struct {
	Version uint16 `json:"version"`
	Domain  uint32 `json:"domain"`
	Sampler uint64 `json:"sampler,omitempty"`
	Scoped  bool   `json:"scoped,omitempty"`
	Rate    uint32 `json:"rate"`
}

const stateVersion = 1

// save writes the state file atomically (a temporary file renamed over it).
func (t *templates) save(path string) error {
	var s stateFile
	s.Version = stateVersion
	t.mu.RLock()
	for _, e := range t.exporters {
		es := savedExporter{Address: e.addr}
		e.mu.RLock()
		for key, tmpl := range e.sys.GetTemplates() {
			ts := savedTemplate{Version: uint16(key >> 48), Domain: uint32(key >> 16), ID: uint16(key)}
			switch v := tmpl.(type) {
			case netflow.TemplateRecord:
				ts.Data = &v
			case netflow.NFv9OptionsTemplateRecord:
				ts.NFv9Opts = &v
			case netflow.IPFIXOptionsTemplateRecord:
				ts.IPFIXOpts = &v
			default:
				continue
			}
			es.Templates = append(es.Templates, ts)
		}
		for k, r := range e.rates {
			es.Rates = append(es.Rates, savedRate{Version: k.version, Domain: k.domain, Sampler: k.sampler, Scoped: k.scoped, Rate: r})
		}
		e.mu.RUnlock()
		s.Exporters = append(s.Exporters, es)
	}
	t.mu.RUnlock()
	b, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// load reads a state file written by save; a missing file is no state.
func (t *templates) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if s.Version != stateVersion {
		return fmt.Errorf("%s: state version %d, want %d", path, s.Version, stateVersion)
	}
	for _, es := range s.Exporters {
		e := t.exporter(es.Address.Unmap())
		if e == nil {
			return fmt.Errorf("%s: %w (%d)", path, errTooManyExporters, t.max)
		}
		for _, ts := range es.Templates {
			var tmpl any
			switch {
			case ts.Data != nil:
				tmpl = *ts.Data
			case ts.NFv9Opts != nil:
				tmpl = *ts.NFv9Opts
			case ts.IPFIXOpts != nil:
				tmpl = *ts.IPFIXOpts
			default:
				return fmt.Errorf("%s: exporter %s template %d: no fields", path, es.Address, ts.ID)
			}
			if _, err := e.add(templateKey{version: ts.Version, id: ts.ID, domain: ts.Domain}, tmpl, t.maxEach); err != nil {
				return fmt.Errorf("%s: exporter %s template %d: %w", path, es.Address, ts.ID, err)
			}
		}
		for _, r := range es.Rates {
			e.setRate(samplerKey{version: r.Version, domain: r.Domain, sampler: r.Sampler, scoped: r.Scoped}, r.Rate)
		}
	}
	return nil
}

func (e *exporterTemplates) setSysInit(domain uint32, t int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.sysInit) < maxRates {
		e.sysInit[samplerKey{version: 10, domain: domain}] = t
	}
}

// sysInitTime returns an IPFIX domain's boot time (Unix ns), or 0.
func (e *exporterTemplates) sysInitTime(domain uint32) int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.sysInit[samplerKey{version: 10, domain: domain}]
}

// count returns the number of exporters and templates.
func (t *templates) count() (exporters, templates int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, e := range t.exporters {
		e.mu.RLock()
		templates += len(e.comp)
		e.mu.RUnlock()
	}
	return len(t.exporters), templates
}
