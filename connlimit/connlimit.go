// Package connlimit caps the connections an HTTP server holds open at once
// without letting idle connections lock out real requests.
//
// golang.org/x/net/netutil.LimitListener stops accepting at the cap: a few
// hundred keep-alive connections that never send a request then hold every
// slot, and the scraper's connection waits in the accept queue until its
// scrape times out. A Limiter instead closes the connection that has been
// idle longest (accepted but no request yet, or kept alive between
// requests) to make room for a new one, and turns a connection away only
// when every slot has a request in progress, which the server's read and
// write timeouts bound.
package connlimit

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Limiter is the cap shared by the listeners it wraps. Set its ConnState as
// the http.Server's ConnState, so that it knows which connections are idle.
type Limiter struct {
	max int

	mu   sync.Mutex
	open int
	// idle holds the idle connections, the longest idle at the front.
	idle list.List

	evicted, rejected atomic.Uint64
}

// New returns a Limiter allowing n connections at once (at least 1).
func New(n int) *Limiter {
	return &Limiter{max: max(n, 1)}
}

// Stats are a Limiter's counters.
type Stats struct {
	Open     int    // connections open now
	Idle     int    // of which idle
	Evicted  uint64 // idle connections closed to make room for a new one
	Rejected uint64 // new connections closed because every slot was busy
}

// Stats returns the current counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Open: l.open, Idle: l.idle.Len(), Evicted: l.evicted.Load(), Rejected: l.rejected.Load()}
}

// Max returns the cap.
func (l *Limiter) Max() int { return l.max }

// Listener wraps ln so that its connections count against the cap.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, l: l}
}

type listener struct {
	net.Listener
	l *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := ln.l.admit(c); tc != nil {
			return tc, nil
		}
		// Every slot has a request in progress: this one is closed at
		// once rather than left waiting, and the next is accepted.
		c.Close()
		ln.l.rejected.Add(1)
	}
}

// conn is an accepted connection; elem is its place in the idle list (nil
// while a request is in progress).
type conn struct {
	net.Conn
	l      *Limiter
	elem   *list.Element // guarded by l.mu
	closed bool          // guarded by l.mu
}

// admit counts c in, evicting the longest idle connection when full; nil
// when there is no room.
func (l *Limiter) admit(c net.Conn) *conn {
	l.mu.Lock()
	var victim *conn
	if l.open >= l.max {
		front := l.idle.Front()
		if front == nil {
			l.mu.Unlock()
			return nil
		}
		victim = front.Value.(*conn)
		l.forgetLocked(victim)
		l.evicted.Add(1)
	}
	tc := &conn{Conn: c, l: l}
	l.open++
	tc.elem = l.idle.PushBack(tc) // idle until its first request
	l.mu.Unlock()
	if victim != nil {
		victim.Conn.Close() // the server's read fails and it lets go of it
	}
	return tc
}

// forgetLocked takes c out of the count, once.
func (l *Limiter) forgetLocked(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	l.open--
	if c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.forgetLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// ConnState tracks which connections are idle; it is the http.Server's
// ConnState hook. Connections are found under TLS through NetConn.
func (l *Limiter) ConnState(nc net.Conn, state http.ConnState) {
	c := unwrap(nc)
	if c == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed {
		return
	}
	switch state {
	case http.StateActive:
		if c.elem != nil {
			l.idle.Remove(c.elem)
			c.elem = nil
		}
	case http.StateIdle:
		if c.elem == nil {
			c.elem = l.idle.PushBack(c)
		}
	case http.StateHijacked:
		// The handler owns it now: it still counts until closed, but
		// is never evicted.
		if c.elem != nil {
			l.idle.Remove(c.elem)
			c.elem = nil
		}
	}
}

func unwrap(nc net.Conn) *conn {
	for nc != nil {
		if c, ok := nc.(*conn); ok {
			return c
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = u.NetConn()
	}
	return nil
}
