// Command jurismon-loadgen sends a realistic mix of TCP, UDP and ICMP
// frames (64 to 1500 bytes, IPv4 and IPv6, many flows) on one interface
// through an AF_PACKET socket in sendmmsg batches, at a fixed rate or as fast
// as it can, for a bounded time. It is meant for benchmarking capture on a
// veth pair inside test network namespaces (see scripts/bench-live.sh).
//
// Every address it writes is in the documentation ranges (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), and it refuses to run on
// an interface that has no documentation-range address or has any other
// address but a link-local one, so it cannot flood a real network.
//
// The destination MAC address is, by default, one that no interface has: the
// receiving side's packet sockets still see every frame, but its IP stack
// drops them as addressed to another host instead of answering them, which
// keeps the benchmark about capture.
//
// With -capture it is the other end instead: it captures on -i with
// jurismon's live capture (capture.LiveCapture, -workers sockets in a fanout
// group) and a handler that only counts, until SIGINT or SIGTERM, then
// prints frames and kernel drops. That measures the capture layer alone.
//
// It needs Linux: elsewhere it only says so.
package main
