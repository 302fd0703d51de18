// Package enrich holds what is known about a flow (Facts) and the two small
// interfaces through which sources add to it: an Enricher runs once when a
// flow starts, an Inspector sees its first few packets. It imports only geo
// and capture, so that the policy, the flow accountant and every enricher
// package can import it without a cycle. docs/architecture.md shows where
// it sits in the data flow.
package enrich
