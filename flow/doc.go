// Package flow turns decoded packets and flow records into accounted
// traffic. A Worker (one per capture goroutine) decodes frames and hands
// the packets to its Accountant, which tracks bidirectional flows in a
// bounded table, decides the direction of each packet from the local
// networks, enriches and judges each new flow once (enrich.Facts, the
// policy) and adds its traffic to pre-resolved, bounded aggregates.
// Observers hear about flagged flows, handshakes, remote TTLs and ended
// flows. docs/architecture.md shows the whole data flow.
package flow
