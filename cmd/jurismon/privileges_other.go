//go:build !linux

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

func warnIfRoot(logger *slog.Logger) {
	if os.Geteuid() == 0 {
		logger.Warn("running as root: jurismon only needs access to the capture device")
	}
}

// runAs is a Linux feature; elsewhere the agent keeps its user.
type runAs struct{}

func resolveRunAs(name string) (runAs, error) {
	if name != "" {
		return runAs{}, fmt.Errorf("--run-as is only supported on Linux")
	}
	return runAs{}, nil
}

func (a *agent) dropPrivilegesWhenStarted(context.Context) {}
