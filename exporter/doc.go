// Package exporter turns the agent's counters into Prometheus metrics.
//
// The packet path never touches a prometheus type: accountants keep their
// own atomic aggregates, and the Collector here reads them at scrape time
// and emits constant metrics (ebpf_exporter's pattern). The label values
// are closed sets (directions, ISO country codes, configured jurisdiction
// names) plus ASNs only where the user asks for them, folded past a cap.
package exporter
