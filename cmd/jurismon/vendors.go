package main

import (
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jurismon/jurismon/macvendor"
)

// vendorFlags configure the device vendors: the IEEE registries read at
// run time (never shipped: their licence does not allow it) and, for the
// live agent, the device inventory.
type vendorFlags struct {
	dir        string
	dirSet     bool
	maxDevices int
	window     time.Duration
}

func (v *vendorFlags) register(cmd *kingpin.CmdClause, live bool) {
	cmd.Flag("vendors.registry-dir", "Directory of the IEEE MAC registries (oui.csv, mam.csv, oui36.csv, iab.csv), as Debian's ieee-data package installs them.").
		Default(macvendor.DefaultDir).IsSetByUser(&v.dirSet).StringVar(&v.dir)
	if live {
		cmd.Flag("vendors.max-devices", "Devices kept in the inventory (/api/v1/devices); the least recently seen is evicted past it.").Default("4096").IntVar(&v.maxDevices)
		cmd.Flag("vendors.window", "Devices seen within this window count in jurismon_devices.").Default("15m").DurationVar(&v.window)
	}
}

// open loads the registries. A directory named on the command line must
// hold them; the default one may be missing (ieee-data not installed):
// devices are then recorded by MAC alone, and a reload picks the files up
// once they are installed.
func (v *vendorFlags) open(logger *slog.Logger) (*macvendor.Source, error) {
	src, err := macvendor.Open(v.dir, logger)
	switch {
	case err == nil:
		n := 0
		for _, f := range src.Registry().Files() {
			n += f.Entries
			if f.Malformed > 0 {
				logger.Warn("lines of an IEEE registry file could not be read and were skipped", "file", f.Path, "lines", f.Malformed)
			}
		}
		logger.Debug("IEEE MAC registries loaded", "dir", v.dir, "assignments", n)
		return src, nil
	case v.dirSet:
		return nil, err
	case errors.Is(err, macvendor.ErrNoRegistry) || errors.Is(err, os.ErrNotExist):
		logger.Info("no IEEE MAC registry found: devices are shown without their vendors (install Debian's ieee-data, or pass --vendors.registry-dir)", "dir", v.dir)
		return macvendor.Empty(v.dir, logger), nil
	default:
		return nil, err
	}
}
