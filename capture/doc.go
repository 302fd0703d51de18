// Package capture reads frames from capture files and live interfaces and
// decodes their headers into Packet values without allocating.
package capture
