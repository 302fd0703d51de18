package exporter

import "sync/atomic"

// uint64Counter is a counter with a single writer: a load and a store, no
// locked instruction, and still safe to read from a scrape.
type uint64Counter struct{ v atomic.Uint64 }

func (c *uint64Counter) inc()         { c.v.Store(c.v.Load() + 1) }
func (c *uint64Counter) load() uint64 { return c.v.Load() }
