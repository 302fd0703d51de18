package main

import (
	"log/slog"
	"net"
)

// warnMissingInterfaces says plainly, once at start, which of the
// interfaces named with --interface do not exist. The agent does not stop
// for them: capture retries each with backoff until it appears (an
// interface created after the agent, a VPN's tun device), and
// jurismon_capture_up{interface} is 0 meanwhile.
func warnMissingInterfaces(logger *slog.Logger, names []string) {
	for _, name := range names {
		if name == "any" {
			continue
		}
		if _, err := net.InterfaceByName(name); err != nil {
			logger.Warn("interface \""+name+"\" does not exist: capture on it retries until it appears (jurismon_capture_up{interface=\""+name+"\"} is 0 meanwhile); check --interface against `ip link`",
				"interface", name, "err", err)
		}
	}
}
