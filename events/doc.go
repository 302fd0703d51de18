// Package events records flagged flows: which local host talked to which
// flagged remote endpoint, how much, and why it was flagged. Prometheus
// metrics cannot say that without unbounded labels; a rate-limited JSON
// lines file and a small in-memory window served over HTTP can.
package events
