// Package capture reads frames from live interfaces (AF_PACKET rings, or
// libpcap) and decodes their headers into Packet values without
// allocating. Capture files are read by capture/pcapfile, into the same
// Frame and Source types.
package capture
