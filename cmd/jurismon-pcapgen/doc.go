// Command jurismon-pcapgen writes a large, realistic-looking pcap file for
// benchmarking `jurismon analyze` (scripts/bench-analyze.sh): Ethernet,
// IPv4 with about 10% IPv6, TCP, UDP and ICMP, an imix-like mix of frame
// sizes from 64 to 1500 bytes, and many flows between hosts in 10.0.0.0/8
// (or a ULA for IPv6) and addresses inside public prefixes of well-known
// networks in many countries, with Zipf-skewed flow popularity.
//
// The traffic is synthetic and only ever written to a file.
//
//	jurismon-pcapgen -o /tmp/bench.pcap -size 1GB -flows 100000 -seed 1
package main
