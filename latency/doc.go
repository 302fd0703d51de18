// Package latency tells whether round-trip times are physically possible
// for the country a database claims: the minimum RTT from the agent's
// location (Origin) to a country's nearest point, and the passive signals
// measured on live traffic (TCP handshake RTTs, detours, hop-count changes
// from the TTL of arriving packets). README.md in this directory gives the
// formulas and the sources of the country table.
package latency
