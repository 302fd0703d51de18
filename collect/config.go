package collect

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/jurismon/jurismon/flow"
)

// Config is the collector's small YAML file: the sampling defaults and,
// per exporter, a sampling override and the names and roles of its
// interfaces (SNMP indexes).
//
//	default_sampling_rate: 1
//	max_sampling_rate: 1000000
//	exporters:
//	  - address: 192.0.2.1
//	    name: edge1
//	    sampling_rate: 1000      # overrides what the exporter says
//	    interfaces:
//	      1: {name: transit1, role: external}
//	      2: {name: lan}
type Config struct {
	// DefaultSamplingRate accounts records whose rate is not known (no
	// options record, no header field). 0 means 1.
	DefaultSamplingRate uint32 `yaml:"default_sampling_rate"`
	// MaxSamplingRate bounds a rate an exporter announces: a larger one is
	// counted as absurd and the default (or the override) is used. 0 means
	// DefaultMaxSamplingRate.
	MaxSamplingRate uint32           `yaml:"max_sampling_rate"`
	Exporters       []ExporterConfig `yaml:"exporters"`

	byAddr map[netip.Addr]*ExporterConfig
}

// DefaultMaxSamplingRate is the largest sampling rate believed by default.
const DefaultMaxSamplingRate = 1 << 20

// ExporterConfig describes one exporter.
type ExporterConfig struct {
	Address      netip.Addr                 `yaml:"address"`
	Name         string                     `yaml:"name"`          // the exporter label (default: the address)
	SamplingRate uint32                     `yaml:"sampling_rate"` // 0: what the exporter says
	Interfaces   map[uint32]InterfaceConfig `yaml:"interfaces"`

	hasExternal bool
}

// sides tells which endpoints of a record that entered on interface in and
// left on out are remote, from the interfaces' roles.
func (e *ExporterConfig) sides(in, out uint32) flow.Sides {
	if e == nil || !e.hasExternal {
		return flow.SidesFromNetworks
	}
	extIn, extOut := e.Interfaces[in].Role == RoleExternal, e.Interfaces[out].Role == RoleExternal
	switch {
	case extIn && extOut:
		return flow.BothRemote
	case extIn:
		return flow.SrcRemote
	case extOut:
		return flow.DstRemote
	}
	// Between two inner interfaces: local to local, or a remote address
	// behind an inner router; the local networks tell.
	return flow.SidesFromNetworks
}

// InterfaceConfig names an interface and gives its role.
type InterfaceConfig struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"` // "external" or "" (internal)
}

// RoleExternal marks an interface facing the outside (a transit or peering
// link): what enters there comes from a remote address.
const RoleExternal = "external"

// LoadConfig reads a collector configuration file; an empty path is the
// default configuration.
func LoadConfig(path string) (*Config, error) {
	c := &Config{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := c.init(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return c, nil
}

func (c *Config) init() error {
	if c.DefaultSamplingRate == 0 {
		c.DefaultSamplingRate = 1
	}
	if c.MaxSamplingRate == 0 {
		c.MaxSamplingRate = DefaultMaxSamplingRate
	}
	if c.DefaultSamplingRate > c.MaxSamplingRate {
		return fmt.Errorf("default_sampling_rate %d is above max_sampling_rate %d", c.DefaultSamplingRate, c.MaxSamplingRate)
	}
	c.byAddr = make(map[netip.Addr]*ExporterConfig, len(c.Exporters))
	for i := range c.Exporters {
		e := &c.Exporters[i]
		if !e.Address.IsValid() {
			return fmt.Errorf("exporter %d: no address", i)
		}
		e.Address = e.Address.Unmap()
		if _, dup := c.byAddr[e.Address]; dup {
			return fmt.Errorf("exporter %s listed twice", e.Address)
		}
		if e.SamplingRate > c.MaxSamplingRate {
			return fmt.Errorf("exporter %s: sampling_rate %d is above max_sampling_rate %d", e.Address, e.SamplingRate, c.MaxSamplingRate)
		}
		for idx, ifc := range e.Interfaces {
			if ifc.Role != "" && ifc.Role != RoleExternal {
				return fmt.Errorf("exporter %s interface %d: unknown role %q (want %q or none)", e.Address, idx, ifc.Role, RoleExternal)
			}
			e.hasExternal = e.hasExternal || ifc.Role == RoleExternal
		}
		c.byAddr[e.Address] = e
	}
	return nil
}

// exporter returns the configuration of the exporter at a, or nil.
func (c *Config) exporter(a netip.Addr) *ExporterConfig { return c.byAddr[a] }
