package macvendor

import (
	"log/slog"
	"sync"
	"sync/atomic"
)

// Source is the registry in use, re-read from its directory on Reload. A
// reload that fails keeps the last good registry, so that a half-written
// update never leaves devices without vendors. It is safe for concurrent
// use; Lookup never locks.
type Source struct {
	dir    string
	logger *slog.Logger
	cur    atomic.Pointer[Registry]
	mu     sync.Mutex // serialises Reload
	fails  atomic.Uint64
	loads  atomic.Uint64
}

// Open loads the registry in dir (DefaultDir when empty).
func Open(dir string, logger *slog.Logger) (*Source, error) {
	if dir == "" {
		dir = DefaultDir
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{dir: dir, logger: logger}
	r, err := Load(dir)
	if err != nil {
		return nil, err
	}
	s.cur.Store(r)
	s.loads.Add(1)
	return s, nil
}

// Empty returns a source without any registry: devices are still recorded
// by MAC (and randomised ones told apart), without vendors, until a Reload
// finds the registry files in dir.
func Empty(dir string, logger *slog.Logger) *Source {
	if dir == "" {
		dir = DefaultDir
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{dir: dir, logger: logger}
	s.cur.Store(newRegistry())
	return s
}

// Dir returns the directory the registry is read from.
func (s *Source) Dir() string { return s.dir }

// Registry returns the registry in use.
func (s *Source) Registry() *Registry { return s.cur.Load() }

// Lookup names the vendor of mac in the registry in use.
func (s *Source) Lookup(mac [6]byte) (Vendor, bool) { return s.cur.Load().Lookup(mac) }

// Reload re-reads the directory. On error the registry in use stays and
// the error is returned (and counted).
func (s *Source) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := Load(s.dir)
	if err != nil {
		s.fails.Add(1)
		s.logger.Warn("cannot reload the IEEE MAC registry; keeping the last good one", "dir", s.dir, "err", err)
		return err
	}
	s.cur.Store(r)
	s.loads.Add(1)
	s.logger.Info("IEEE MAC registry loaded", "dir", s.dir, "assignments", r.Len())
	return nil
}

// Paths returns the files in use, for a file watcher.
func (s *Source) Paths() []string {
	var ps []string
	for _, f := range s.cur.Load().files {
		ps = append(ps, f.Path)
	}
	return ps
}
