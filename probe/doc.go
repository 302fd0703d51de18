// Package probe traces the network paths to chosen destinations, Paris
// traceroute style, resolves the country and jurisdiction of every hop,
// checks that hop round-trip times are physically possible for the claimed
// locations, and exports what it finds as Prometheus metrics.
package probe
