//go:build !linux

package main

import (
	"context"
	"log/slog"
	"os"
)

func warnIfRoot(logger *slog.Logger) {
	if os.Geteuid() == 0 {
		logger.Warn("running as root: jurismon only needs access to the capture device")
	}
}

func (a *agent) dropPrivilegesWhenStarted(context.Context) {}
